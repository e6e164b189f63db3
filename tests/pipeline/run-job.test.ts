import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it, vi} from 'vitest'

import {freshLegacyDict, updateLegacyDict} from '../../src/config/legacy.js'
import type {LegacyDict} from '../../src/config/legacy.js'
import type {TrainingConfig} from '../../src/config/schemas.js'
import {runTrainingJob} from '../../src/pipeline/run-job.js'
import type {Runner, RunnerContext, TrainingJob} from '../../src/runners/types.js'
import {studyArrays, tempDir, writeFixtureNpz} from './fixtures.js'

function touchedJob(view = 'baseline', gridsize = 1): TrainingJob {
  const dir = tempDir()
  const train = path.join(dir, 'data', 'train.npz')
  const test = path.join(dir, 'data', 'test.npz')
  writeFixtureNpz(train, {})
  writeFileSync(train, '') // empty, as the reference's touch()
  writeFileSync(test, '')
  const artifactDir = path.join(dir, 'artifacts', 'dose_1000', view, `gs${gridsize}`)
  return {dose: 1000, view, gridsize, trainDataPath: train, testDataPath: test, artifactDir, logPath: path.join(artifactDir, 'train.log')}
}

describe('runTrainingJob (spec §6.3, test_run_training_job_invokes_runner)', () => {
  it('creates dirs and log, calls the bridge exactly once with a TrainingConfig, then the runner once', async () => {
    const job = touchedJob()
    const order: string[] = []
    const bridge = vi.fn((dict: LegacyDict, config: TrainingConfig) => {
      order.push('bridge')
      return updateLegacyDict(dict, config)
    })
    const runner = vi.fn<Runner>(async (ctx: RunnerContext) => {
      order.push('runner')
      return {status: 'success', seen_N: ctx.config.model.N}
    })
    const result = await runTrainingJob(job, {runner, bridge, backend: 'wasm', seed: 7})

    expect(existsSync(job.artifactDir)).toBe(true)
    expect(existsSync(job.logPath)).toBe(true)
    expect(bridge).toHaveBeenCalledTimes(1)
    const [dict, config] = bridge.mock.calls[0]
    expect(config.backend).toBe('tensorflow') // the framework family; the compute backend travels in ctx
    expect(config.model.gridsize).toBe(1)
    expect(config.model.N).toBe(64) // empty file -> 64
    expect(config.nphotons).toBe(1000)
    expect(config.train_data_file).toBe(job.trainDataPath)
    expect(config.output_dir).toBe(job.artifactDir)
    expect(config.nepochs).toBe(50)
    expect(config.n_groups).toBe(512)
    expect(dict.N).toBe(64)
    expect(runner).toHaveBeenCalledTimes(1)
    const ctx = runner.mock.calls[0][0]
    expect(ctx.job).toBe(job)
    expect(ctx.logPath).toBe(job.logPath)
    expect(ctx.backend).toBe('wasm')
    expect(ctx.seed).toBe(7)
    expect(ctx.legacyParams['train_data_file_path']).toBe(job.trainDataPath)
    expect(order).toEqual(['bridge', 'runner'])
    expect(result).toEqual({status: 'success', seen_N: 64})
  })

  it('infers N from the train NPZ and applies user overrides', async () => {
    const job = touchedJob('dense', 2)
    writeFixtureNpz(job.trainDataPath, studyArrays(3, 128), {deflate: true})
    let seen: TrainingConfig | undefined
    await runTrainingJob(job, {
      runner: async (ctx) => {
        seen = ctx.config
        return {status: 'success'}
      },
      overrides: {nepochs: 3, batch_size: 8, model: {n_filters_scale: 1}},
    })
    expect(seen?.model).toMatchObject({N: 128, gridsize: 2, n_filters_scale: 1})
    expect(seen).toMatchObject({nepochs: 3, batch_size: 8, backend: 'tensorflow'})
  })

  it('a train NPZ whose N cannot be read: N=64 as the reference, and a warning naming the file in train.log', async () => {
    const job = touchedJob()
    writeFileSync(job.trainDataPath, 'hello\n')
    let seen: TrainingConfig | undefined
    await runTrainingJob(job, {
      runner: async (ctx) => {
        seen = ctx.config
        return {status: 'success'}
      },
    })
    expect(seen?.model.N).toBe(64)
    expect(readFileSync(job.logPath, 'utf8')).toContain(`Warning: could not read N from ${job.trainDataPath}: `)
  })

  it('runner exceptions propagate (the executor turns them into failed jobs)', async () => {
    const job = touchedJob()
    await expect(runTrainingJob(job, {runner: async () => Promise.reject(new Error('boom'))})).rejects.toThrow('boom')
  })

  it('each job starts from fresh legacy defaults (no state leaks between jobs)', async () => {
    const dicts: LegacyDict[] = []
    const seenLeak: unknown[] = []
    const runner: Runner = async (ctx) => {
      dicts.push(ctx.legacyParams)
      seenLeak.push(ctx.legacyParams.leaked)
      ctx.legacyParams.leaked = true
      return {status: 'success'}
    }
    await runTrainingJob(touchedJob('baseline', 1), {runner})
    await runTrainingJob(touchedJob('dense', 2), {runner})
    expect(dicts[0]).not.toBe(dicts[1])
    expect(seenLeak).toEqual([undefined, undefined])
    expect(dicts[1].gridsize).toBe(2)
    expect(freshLegacyDict().leaked).toBeUndefined()
  })
})

describe('runTrainingJob dry run (spec §6.3 step 2, test_run_training_job_dry_run)', () => {
  it('never calls the bridge or the runner; returns the summary; writes the three-line log', async () => {
    const job = touchedJob()
    const bridge = vi.fn()
    const sentinel = vi.fn<Runner>(async () => {
      throw new Error('runner must not be called in a dry run')
    })
    const result = await runTrainingJob(job, {runner: sentinel, bridge, dryRun: true, backend: 'auto'})
    expect(bridge).not.toHaveBeenCalled()
    expect(sentinel).not.toHaveBeenCalled()
    for (const k of ['dose', 'view', 'gridsize', 'train_data_path', 'test_data_path', 'log_path']) expect(result).toHaveProperty(k)
    expect(result).toMatchObject({dose: 1000, view: 'baseline', gridsize: 1, dry_run: true, backend: 'auto', artifact_dir: job.artifactDir})
    expect(readFileSync(job.logPath, 'utf8')).toBe(
      `DRY RUN: baseline dose=1000 gridsize=1\nTrain: ${job.trainDataPath}\nTest: ${job.testDataPath}\n`,
    )
  })

  it('overwrites an earlier dry-run log but never the log of a real training', async () => {
    const job = touchedJob()
    await runTrainingJob(job, {runner: async () => ({status: 'success'}), dryRun: true})
    const again = await runTrainingJob(job, {runner: async () => ({status: 'success'}), dryRun: true})
    expect(again.log_written).toBe(true)
    writeFileSync(job.logPath, 'epoch 1 loss 0.5\nepoch 2 loss 0.3\n')
    const kept = await runTrainingJob(job, {runner: async () => ({status: 'success'}), dryRun: true})
    expect(kept.log_written).toBe(false)
    expect(readFileSync(job.logPath, 'utf8')).toBe('epoch 1 loss 0.5\nepoch 2 loss 0.3\n')
  })

  it('dry run, then a real run, then a dry run with other settings: the real run\'s log survives (QA #2)', async () => {
    const job = touchedJob()
    const writingRunner: Runner = async (ctx) => {
      const {appendFileSync} = await import('node:fs')
      appendFileSync(ctx.logPath, 'Training completed successfully\nFinal loss: 0.1\n')
      return {status: 'success'}
    }
    await runTrainingJob(job, {runner: writingRunner, dryRun: true})
    await runTrainingJob(job, {runner: writingRunner})
    // the real run started a fresh log: the dry-run lines are gone, its own lines are there (after the warning
    // that N could not be read from the empty train file of this fixture)
    const realLog = readFileSync(job.logPath, 'utf8')
    expect(realLog).not.toContain('DRY RUN')
    expect(realLog).toMatch(/^Warning: could not read N from .*; using N=64\nTraining completed successfully\nFinal loss: 0\.1\n$/)
    const later = await runTrainingJob(job, {runner: writingRunner, dryRun: true, overrides: {nepochs: 5}})
    expect(later.log_written).toBe(false)
    expect(readFileSync(job.logPath, 'utf8')).toBe(realLog)
  })

  it('a log that merely starts like a dry-run log is not a dry-run log', async () => {
    const job = touchedJob()
    const {mkdirSync} = await import('node:fs')
    mkdirSync(job.artifactDir, {recursive: true})
    const real = `DRY RUN: baseline dose=1000 gridsize=1\nTrain: a\nTest: b\nepoch 1 loss 0.5\n`
    writeFileSync(job.logPath, real)
    const r = await runTrainingJob(job, {runner: async () => ({status: 'success'}), dryRun: true})
    expect(r.log_written).toBe(false)
    expect(readFileSync(job.logPath, 'utf8')).toBe(real)
  })
})
