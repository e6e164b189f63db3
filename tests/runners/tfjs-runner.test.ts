import {mkdtemp, readFile, rm, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {toLegacyDict} from '../../src/config/legacy.js'
import {TrainingConfigSchema} from '../../src/config/schemas.js'
import {digestFile} from '../../src/io/hash.js'
import {complex64, float32, float64} from '../../src/io/ndarray.js'
import {writeNpz} from '../../src/io/npz.js'
import {loadBundle} from '../../src/model/bundle.js'
import {formatDoseE0, runner} from '../../src/runners/tfjs-runner.js'
import type {RunnerContext, TrainingJob} from '../../src/runners/types.js'
import {syntheticScan} from '../model/helpers.js'

let root: string

async function writeScan(file: string, n: number, seed: number, opts: {complexDiffraction?: boolean} = {}) {
  const s = syntheticScan(64, n, seed)
  await writeNpz(file, {
    diffraction: opts.complexDiffraction ? complex64([n, 64, 64]) : float32([n, 64, 64], s.diffraction),
    objectGuess: complex64([s.H, s.W], s.object),
    probeGuess: complex64([64, 64], s.probe),
    xcoords: float64([n], s.xcoords),
    ycoords: float64([n], s.ycoords),
    xcoords_start: float64([n], s.xcoords),
    ycoords_start: float64([n], s.ycoords),
  })
}

function context(name: string, extra: Partial<TrainingJob> = {}): RunnerContext {
  const config = TrainingConfigSchema.parse({model: {N: 64, gridsize: 1, n_filters_scale: 1}, nepochs: 2, batch_size: 8, n_groups: 24, nphotons: 1e6})
  const artifactDir = path.join(root, name, 'dose_1000000', 'baseline', 'gs1')
  const job: TrainingJob = {
    dose: 1e6,
    view: 'baseline',
    gridsize: 1,
    trainDataPath: path.join(root, 'train.npz'),
    testDataPath: path.join(root, 'test.npz'),
    artifactDir,
    logPath: path.join(artifactDir, 'train.log'),
    ...extra,
  }
  return {config, legacyParams: toLegacyDict(config), job, logPath: job.logPath, backend: 'auto', seed: 5, onProgress: () => {}}
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'study-tfjs-runner-'))
  await writeScan(path.join(root, 'train.npz'), 30, 1)
  await writeScan(path.join(root, 'test.npz'), 12, 2)
  await writeScan(path.join(root, 'bad.npz'), 6, 3, {complexDiffraction: true})
})
afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('tfjs runner (one job, spec §6.4)', () => {
  it('formats the dose like Python {:.0e}', () => {
    expect(formatDoseE0(1000)).toBe('1e+03')
    expect(formatDoseE0(1e9)).toBe('1e+09')
    expect(formatDoseE0(0.05)).toBe('5e-02')
  })

  it('trains, writes history/checkpoints/bundle, records sha256 and size, and logs header and footer', async () => {
    const ctx = context('ok')
    const r = await runner(ctx)
    expect(r.status, String(r.error)).toBe('success')
    expect(r.backend_used).toBe('wasm')
    expect(r.epochs_completed).toBe(2)
    expect(r.bundle_path).toBe('model_bundle.zip')
    expect(r.checkpoint_path).toBe('checkpoints/epoch-0002.ckpt.zip')
    const bundleFile = path.join(ctx.job.artifactDir, 'model_bundle.zip')
    const d = await digestFile(bundleFile)
    expect(r.bundle_sha256).toBe(d.sha256)
    expect(r.bundle_sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(r.bundle_size_bytes).toBe(d.size_bytes)
    const h = r.history as Record<string, number[]>
    expect(h.loss).toHaveLength(2)
    expect(h.train_loss).toEqual(h.loss)
    expect(r.final_loss).toBe(h.loss[1])
    expect((await readFile(path.join(ctx.job.artifactDir, 'history.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(2)
    const log = await readFile(ctx.job.logPath, 'utf8')
    expect(log).toContain('Phase E5 Training Execution — baseline (dose=1e+06, gridsize=1, backend=auto)')
    expect(log).toContain(`Bundle SHA256: ${d.sha256}`)
    expect(log).toMatch(/Training completed successfully\nFinal loss: -?[\d.e+-]+\nEpochs completed: 2\nCheckpoint path: checkpoints\/epoch-0002\.ckpt\.zip\nBundle path: model_bundle\.zip/)
    // the reconstruction of the test split is recorded either way; a failure there does not fail training
    const rec = r.reconstruction as {status: string; npz_path?: string} | undefined
    expect(rec).toBeDefined()
    console.log(`[tfjs-runner.test] test-split reconstruction: ${JSON.stringify(rec).slice(0, 400)}`)
    if (rec!.status === 'success') expect((await stat(path.join(ctx.job.artifactDir, rec!.npz_path!))).size).toBeGreaterThan(0)
    const b = await loadBundle(bundleFile)
    expect(b.spec.n_filters_scale).toBe(1)
    expect(b.params.N).toBe(64)
    b.dispose()

    // a rerun of the finished job resumes from its last checkpoint and trains nothing more
    const again = await runner(context('ok'))
    expect(again.status).toBe('success')
    expect(again.resumed_from_epoch).toBe(2)
    expect(again.history).toEqual(r.history)

    // with fresh (what `study train --force` passes) the finished job trains again from epoch 1: no resume, a
    // new history and new checkpoints, and the log says so
    const forced = await runner({...context('ok'), fresh: true})
    expect(forced.status, String(forced.error)).toBe('success')
    expect(forced.resumed_from_epoch ?? null).toBeNull()
    expect(forced.epochs_completed).toBe(2)
    expect((forced.history as Record<string, number[]>).loss).toHaveLength(2)
    // (called directly, the runner appends to train.log: look at this run's part only)
    const fullLog = await readFile(ctx.job.logPath, 'utf8')
    const forcedLog = fullLog.slice(fullLog.lastIndexOf('Phase E5 Training Execution'))
    expect(forcedLog).toContain('Training completed successfully')
    expect(forcedLog).not.toContain('Resuming from checkpoint')
    const firstEpoch = JSON.parse((await readFile(path.join(ctx.job.artifactDir, 'history.jsonl'), 'utf8')).split('\n')[0])
    expect(firstEpoch.epoch).toBe(1)
  })

  it('Ctrl-C after the last epoch stops the end-of-job reconstruction: the job is not a success, a rerun reconstructs', async () => {
    const ctrl = new AbortController()
    const base = context('ctrlc-recon')
    // like a SIGINT handler (a macrotask) scheduled when the last epoch ends: it fires while the bundle is saved
    const ctx: RunnerContext = {
      ...base,
      signal: ctrl.signal,
      onProgress: (e) => {
        if (e.message === 'done' && e.epoch === e.nepochs) setTimeout(() => ctrl.abort(), 0)
      },
    }
    const r = await runner(ctx)
    expect(r.status).toBe('failed')
    expect(r.error).toMatch(/^interrupted during the reconstruction of the test split \(prediction interrupted after \d+ of 12 groups\); the trained bundle is saved: rerun the job to reconstruct$/)
    expect(r.bundle_path).toBe('model_bundle.zip')
    await expect(stat(path.join(base.job.artifactDir, 'reconstruction', 'reconstruction.npz'))).rejects.toThrow(/ENOENT/)
    // the rerun trains nothing (all epochs are checkpointed) and makes the reconstruction
    const again = await runner(context('ctrlc-recon'))
    expect(again.status, String(again.error)).toBe('success')
    expect(again.resumed_from_epoch).toBe(2)
    expect((again.reconstruction as {status: string}).status).toBe('success')
  })

  it('fails a job with a dataset that breaks the contract, naming the field', async () => {
    const r = await runner(context('bad', {trainDataPath: path.join(root, 'bad.npz')}))
    expect(r.status).toBe('failed')
    expect(r.error).toMatch(/^Dataset validation failed: .*bad\.npz.*diffraction/)
  })

  it('fails clearly when a dataset is missing or the backend is unknown', async () => {
    const missing = await runner(context('missing', {testDataPath: path.join(root, 'nope.npz')}))
    expect(missing).toMatchObject({status: 'failed', error: `Test dataset not found: ${path.join(root, 'nope.npz')}`})
    const bad = await runner({...context('badbackend'), backend: 'tpu'})
    expect(bad.status).toBe('failed')
    expect(bad.error).toMatch(/Unknown backend 'tpu'/)
  })
})
