import {existsSync, readFileSync, utimesSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {freshLegacyDict, updateLegacyDict} from '../../src/config/legacy.js'
import {TrainingConfigSchema} from '../../src/config/schemas.js'
import {UsageError} from '../../src/errors.js'
import {digestFile} from '../../src/io/hash.js'
import {commandFor, createCommandRunner, splitTemplate, templatePlaceholders} from '../../src/runners/command-runner.js'
import {RUNNER_NAMES, loadRunner} from '../../src/runners/registry.js'
import {createStubRunner, jobMatches, stubOptionsFromEnv} from '../../src/runners/stub-runner.js'
import type {RunnerContext} from '../../src/runners/types.js'
import {tempDir} from '../pipeline/fixtures.js'

function context(dirName = 'job dir with spaces'): RunnerContext {
  const dir = path.join(tempDir(), dirName)
  const artifactDir = path.join(dir, 'dose_1000', 'dense', 'gs2')
  const train = path.join(dir, "it's train.npz")
  const test = path.join(dir, 'test "q".npz')
  const config = TrainingConfigSchema.parse({
    model: {gridsize: 2, N: 64},
    train_data_file: train,
    test_data_file: test,
    output_dir: artifactDir,
    nphotons: 1000,
    nepochs: 4,
  })
  const job = {dose: 1000, view: 'dense', gridsize: 2, trainDataPath: train, testDataPath: test, artifactDir, logPath: path.join(artifactDir, 'train.log')}
  return {config, legacyParams: updateLegacyDict(freshLegacyDict(), config), job, logPath: job.logPath, backend: 'wasm', seed: 99}
}

async function prepared(ctx: RunnerContext): Promise<RunnerContext> {
  const {mkdirSync} = await import('node:fs')
  mkdirSync(ctx.job.artifactDir, {recursive: true})
  writeFileSync(ctx.logPath, '')
  return ctx
}

describe('stub runner', () => {
  it('records calls and writes a deterministic bundle whose sha256/size it reports', async () => {
    const calls: RunnerContext[] = []
    const a = await prepared(context())
    const b = await prepared(context('other'))
    const ra = await createStubRunner({calls})(a)
    const rb = await createStubRunner({calls})(b)
    expect(calls).toEqual([a, b])
    expect(ra.status).toBe('success')
    expect(ra.bundle_path).toBe('wts.h5.zip')
    const d = await digestFile(path.join(a.job.artifactDir, 'wts.h5.zip'))
    expect(ra.bundle_sha256).toBe(d.sha256)
    expect(ra.bundle_size_bytes).toBe(d.size_bytes)
    // same job + seed -> identical bytes, wherever the job folder is
    expect(rb.bundle_sha256).toBe(ra.bundle_sha256)
    expect(ra.epochs_completed).toBe(4)
    const loss = (ra.history as {loss: number[]}).loss
    expect(loss.every((v, i) => i === 0 || v < loss[i - 1])).toBe(true)
    expect(ra.final_loss).toBe(loss[3])
    const record = JSON.parse(readFileSync(path.join(a.job.artifactDir, 'stub_call.json'), 'utf8'))
    expect(record).toMatchObject({backend: 'wasm', seed: 99, job: {dose: 1000, view: 'dense', gridsize: 2}})
    expect(record.legacy_params.gridsize).toBe(2)
  })

  it('fails on request (reported or thrown) and can be slow', async () => {
    const ctx = await prepared(context())
    expect(await createStubRunner({fail: ['dense@1000']})(ctx)).toMatchObject({status: 'failed', error: expect.stringMatching(/stub failure/)})
    await expect(createStubRunner({fail: ['*'], failMode: 'throw'})(ctx)).rejects.toThrow(/stub failure/)
    const t0 = Date.now()
    await createStubRunner({delayMs: 150})(ctx)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
  })

  it('job patterns: view, view@dose, @dose, view/gsN, *', () => {
    const job = {dose: 1000, view: 'dense', gridsize: 2}
    for (const p of ['dense', 'dense@1000', '@1000', 'dense/gs2', '/gs2', '*', 'dense/gs2@1e3']) expect(jobMatches(job, p), p).toBe(true)
    for (const p of ['sparse', 'dense@10000', '@5', 'dense/gs1', '', 'baseline@1000']) expect(jobMatches(job, p), p).toBe(false)
    expect(stubOptionsFromEnv({STUDY_STUB_FAIL: 'dense, sparse@1000', STUDY_STUB_FAIL_MODE: 'throw', STUDY_STUB_DELAY_MS: '20'})).toEqual({
      fail: ['dense', 'sparse@1000'],
      failMode: 'throw',
      delayMs: 20,
    })
  })
})

describe('command runner', () => {
  const script = path.join(tempDir(), 'fake trainer.mjs')
  writeFileSync(
    script,
    `import {readFileSync, writeFileSync} from 'node:fs'
const [mode, params, out, ...rest] = process.argv.slice(2)
console.log('argv', JSON.stringify(rest))
console.error('to stderr')
if (mode === 'fail') process.exit(3)
if (mode === 'sleep') await new Promise((r) => setTimeout(r, 30000))
const p = JSON.parse(readFileSync(params, 'utf8'))
writeFileSync(out + '/wts.h5.zip', 'bundle for N=' + p.N)
writeFileSync(out + '/runner_result.json', JSON.stringify({final_loss: 0.25, epochs_completed: p.nepochs}))
`,
  )
  const node = JSON.stringify(process.execPath)
  const tpl = (mode: string) => `${node} ${JSON.stringify(script)} ${mode} {params_json} {artifact_dir} {train} {test} {view} {dose} {gridsize} {backend} {seed} {{literal}}`

  it('splits templates like a shell and validates placeholders', () => {
    expect(splitTemplate(`a 'b c' "d \\"e\\"" f\\ g  {train}`)).toEqual(['a', 'b c', 'd "e"', 'f g', '{train}'])
    expect(() => splitTemplate(`a 'b`)).toThrow(UsageError)
    expect(templatePlaceholders('x {train} {{y}} {seed}')).toEqual(['train', 'seed'])
    expect(() => templatePlaceholders('x {trian}')).toThrow(/unknown placeholder\(s\) \{trian\}/)
    expect(() => createCommandRunner({command: '  '})).toThrow(UsageError)
  })

  it('never records an earlier run\'s result or bundle as this run\'s (QA #3b)', async () => {
    const ctx = await prepared(context('stale results'))
    const first = await createCommandRunner({command: tpl('ok')})(ctx)
    expect(first).toMatchObject({status: 'success', final_loss: 0.25, bundle_path: 'wts.h5.zip'})
    // the first run finished a while ago
    const past = new Date(Date.now() - 60_000)
    utimesSync(path.join(ctx.job.artifactDir, 'wts.h5.zip'), past, past)
    const second = await createCommandRunner({command: `${node} -e 0 {train}`})(ctx)
    expect(second.status).toBe('success')
    expect(second.final_loss).toBeUndefined()
    expect(second.bundle_path).toBeUndefined()
    expect(second.bundle_sha256).toBeUndefined()
    expect(second.warnings).toEqual([
      'the command wrote no runner_result.json: no loss or history recorded',
      "wts.h5.zip predates this run (an earlier run's bundle): not recorded as this run's",
    ])
    expect(existsSync(path.join(ctx.job.artifactDir, 'runner_result.json'))).toBe(false)
    expect(readFileSync(ctx.logPath, 'utf8')).toContain('Warning: wts.h5.zip predates this run')
  })

  it('passes paths with spaces and quotes as single argv words (no shell), writes params.json, captures output', async () => {
    const ctx = await prepared(context())
    const r = await createCommandRunner({command: tpl('ok')})(ctx)
    expect(r).toMatchObject({status: 'success', final_loss: 0.25, epochs_completed: 4, bundle_path: 'wts.h5.zip', exit_code: 0})
    expect(r.bundle_sha256).toBe((await digestFile(path.join(ctx.job.artifactDir, 'wts.h5.zip'))).sha256)
    const params = JSON.parse(readFileSync(path.join(ctx.job.artifactDir, 'params.json'), 'utf8'))
    expect(params).toEqual(ctx.legacyParams)
    expect(JSON.parse(readFileSync(path.join(ctx.job.artifactDir, 'training_config.json'), 'utf8')).nepochs).toBe(4)
    const log = readFileSync(ctx.logPath, 'utf8')
    expect(log).toContain(`argv ${JSON.stringify([ctx.job.trainDataPath, ctx.job.testDataPath, 'dense', '1000', '2', 'wasm', '99', '{literal}'])}`)
    expect(log).toContain('to stderr')
    expect(log).toMatch(/Command finished after/)
  })

  it('shell mode quotes every substituted value', async () => {
    const ctx = await prepared(context())
    const {args} = commandFor({command: 'echo {train} > {artifact_dir}/x.txt', shell: true}, ctx)
    expect(args[0]).toBe('-c')
    const r = await createCommandRunner({command: 'printf %s {train} > {artifact_dir}/x.txt', shell: true})(ctx)
    expect(r.status).toBe('success')
    expect(readFileSync(path.join(ctx.job.artifactDir, 'x.txt'), 'utf8')).toBe(ctx.job.trainDataPath)
  })

  it('non-zero exit, missing program and timeout are failures with a reason', async () => {
    const ctx = await prepared(context())
    expect(await createCommandRunner({command: tpl('fail')})(ctx)).toMatchObject({status: 'failed', error: 'command exited with status 3', exit_code: 3})
    expect(readFileSync(ctx.logPath, 'utf8')).toMatch(/Command failed after .* command exited with status 3/)
    expect(await createCommandRunner({command: 'definitely-not-a-program-xyz {train}'})(ctx)).toMatchObject({
      status: 'failed',
      error: 'command not found: definitely-not-a-program-xyz',
    })
    const t0 = Date.now()
    const r = await createCommandRunner({command: tpl('sleep'), timeoutS: 1})(ctx)
    expect(r).toMatchObject({status: 'failed', error: 'command timed out after 1 s and was stopped'})
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(existsSync(path.join(ctx.job.artifactDir, 'wts.h5.zip'))).toBe(false)
  })
})

describe('runner registry', () => {
  it('knows stub, command and tfjs; an unknown name is a usage error naming them', async () => {
    expect([...RUNNER_NAMES].sort()).toEqual(['command', 'stub', 'tfjs'])
    await expect(loadRunner('magic')).rejects.toThrow("unknown runner 'magic'; expected one of: tfjs, stub, command")
    expect(typeof (await loadRunner('stub'))).toBe('function')
    await expect(loadRunner('command')).rejects.toThrow(/needs a command template/)
    expect(typeof (await loadRunner('command', {command: {command: 'true'}}))).toBe('function')
  })

  it('tfjs: loads the TF.js runner module when present, else a clear "not available" error', async () => {
    const present = existsSync(path.join(import.meta.dirname, '../../src/runners/tfjs-runner.ts'))
    if (present) expect(typeof (await loadRunner('tfjs'))).toBe('function')
    else await expect(loadRunner('tfjs')).rejects.toThrow(/tfjs runner not available/)
  })
})
