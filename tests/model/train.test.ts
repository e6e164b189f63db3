import {mkdtemp, readFile, readdir, rm, truncate, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {modelSpecFrom, type ModelSpec} from '../../src/model/architecture.js'
import {loadBundle, saveBundle} from '../../src/model/bundle.js'
import {listCheckpointFiles, readCheckpoint} from '../../src/model/checkpoint.js'
import {predictObjectPatches} from '../../src/model/predict.js'
import {trainPtychoPinn, TrainingInterrupted, type TrainOptions} from '../../src/model/train.js'
import {normalizedGs1, syntheticScan, useBackend} from './helpers.js'

let tf: typeof import('@tensorflow/tfjs-core')
let root: string
let spec: ModelSpec
let data: TrainOptions['data']
const NEPOCHS = 3

beforeAll(async () => {
  tf = await useBackend('wasm')
  root = await mkdtemp(path.join(os.tmpdir(), 'study-train-'))
  const scan = syntheticScan(64, 24, 7)
  spec = modelSpecFrom(
    {N: 64, gridsize: 1, n_filters_scale: 1, amp_activation: 'sigmoid', object_big: true, probe_big: true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0},
    {nphotons: 1e6, intensity_scale_trainable: true, probe_trainable: false},
  )
  data = {X: normalizedGs1(scan), coordsRelative: new Float32Array(24 * 2), probe: scan.probe}
})
afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

const options = (jobDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  spec,
  data,
  batchSize: 4,
  nepochs: NEPOCHS,
  weights: {nll_weight: 1, mae_weight: 0},
  seed: 11,
  jobDir,
  ...extra,
})

describe('training a tiny PtychoPINN (N=64, n_filters_scale 1, 24 synthetic groups)', () => {
  let reference: {loss: number[]; val_loss: number[]}

  it('lowers the loss, writes history.jsonl and checkpoints, and leaks no tensors', async () => {
    const jobDir = path.join(root, 'fresh')
    const before = tf.memory().numTensors
    const lines: string[] = []
    const r = await trainPtychoPinn(options(jobDir, {log: (l) => lines.push(l)}))
    reference = {loss: r.history.loss, val_loss: r.history.val_loss}
    expect(r.epochsCompleted).toBe(NEPOCHS)
    expect(r.resumedFromEpoch).toBeNull()
    // the Poisson NLL must fall: its excess over the NLL of a perfect prediction, mean(y - y·log y), must shrink
    const s = spec.intensity_scale
    let best = 0
    for (const v of data.X) {
      const y = (s * v) ** 2
      best += y - y * Math.log(y + 1e-12)
    }
    best /= data.X.length
    const excess = r.history.loss.map((l) => l - best)
    console.log(`[train.test] loss ${r.history.loss.map((l) => l.toFixed(2)).join(' -> ')}; perfect-prediction NLL ${best.toFixed(2)}`)
    expect(excess[0]).toBeGreaterThan(0)
    expect(excess[NEPOCHS - 1]).toBeLessThan(0.7 * excess[0])
    expect(r.history.val_loss.every(Number.isFinite)).toBe(true)
    expect(r.history.lr).toEqual([1e-3, 1e-3, 1e-3])
    const hist = (await readFile(path.join(jobDir, 'history.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(hist.map((h) => h.epoch)).toEqual([1, 2, 3])
    expect(hist[2].loss).toBeCloseTo(r.history.loss[2], 6)
    const cks = await listCheckpointFiles(jobDir)
    expect(cks.map((f) => path.basename(f))).toEqual(['epoch-0003.ckpt.zip', 'epoch-0002.ckpt.zip'])
    expect((await readCheckpoint(cks[0])).state.epoch).toBe(3)
    expect(lines.filter((l) => l.startsWith('Epoch '))).toHaveLength(3)

    // bundle round trip: the reloaded model predicts the same object as the trained one
    const bundleFile = path.join(jobDir, 'model_bundle.zip')
    await saveBundle(bundleFile, r.model, {legacyParams: {N: 64, gridsize: 1}, backend: 'wasm'})
    const X = data.X.subarray(0, 3 * 64 * 64)
    const coords = data.coordsRelative.subarray(0, 6)
    const direct = await predictObjectPatches({model: r.model}, X, coords)
    r.model.dispose()
    const loaded = await loadBundle(bundleFile)
    expect(loaded.N).toBe(64)
    expect(loaded.gridsize).toBe(1)
    expect(loaded.formatVersion).toBe('1.0')
    expect(loaded.params.intensity_scale).toBeCloseTo(spec.intensity_scale, 12)
    const again = await predictObjectPatches(loaded, X, coords, {batchSize: 2})
    loaded.dispose()
    expect(again.B).toBe(3)
    for (let i = 0; i < again.re.length; i += 97) {
      expect(again.re[i]).toBeCloseTo(direct.re[i], 5)
      expect(again.im[i]).toBeCloseTo(direct.im[i], 5)
    }
    expect(tf.memory().numTensors).toBe(before)
  })

  it('resumes after a crash at epoch 1 and ends with the same history as an uninterrupted run', async () => {
    const jobDir = path.join(root, 'crash')
    const ctrl = new AbortController()
    const before = tf.memory().numTensors
    await expect(
      trainPtychoPinn(options(jobDir, {signal: ctrl.signal, onProgress: (e) => e.message === 'done' && e.epoch === 1 && ctrl.abort()})),
    ).rejects.toThrow(TrainingInterrupted)
    expect(tf.memory().numTensors).toBe(before)
    expect((await listCheckpointFiles(jobDir)).map((f) => path.basename(f))).toEqual(['epoch-0001.ckpt.zip'])
    const lines: string[] = []
    const r = await trainPtychoPinn(options(jobDir, {log: (l) => lines.push(l)}))
    r.model.dispose()
    expect(r.resumedFromEpoch).toBe(1)
    expect(r.epochsCompleted).toBe(NEPOCHS)
    expect(lines.some((l) => /Resuming from checkpoint checkpoints\/epoch-0001\.ckpt\.zip/.test(l))).toBe(true)
    expect(lines.filter((l) => l.startsWith('Epoch '))).toHaveLength(NEPOCHS - 1)
    // deterministic: same seed, restored weights, optimizer and shuffles (float32 tolerance 1e-5 relative)
    for (let e = 0; e < NEPOCHS; e++) expect(Math.abs(r.history.loss[e] - reference.loss[e])).toBeLessThan(1e-5 * Math.abs(reference.loss[e]))
    expect(tf.memory().numTensors).toBe(before)
  })

  it('stops within the epoch when the signal comes from a timer or a signal handler (not only at epoch ends)', async () => {
    const jobDir = path.join(root, 'ctrl-c')
    const ctrl = new AbortController()
    const steps: string[] = []
    let scheduled = false
    const run = trainPtychoPinn(
      options(jobDir, {
        signal: ctrl.signal,
        progressIntervalMs: 0,
        onProgress: (e) => {
          if (e.message?.startsWith('step')) steps.push(e.message)
          // like a SIGINT handler: a macrotask, which runs only if the loop yields to the event loop
          if (!scheduled) {
            scheduled = true
            setTimeout(() => ctrl.abort(), 0)
          }
        },
      }),
    )
    const error = await run.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TrainingInterrupted)
    expect((error as TrainingInterrupted).epochsCompleted).toBe(0)
    expect(steps.length).toBeGreaterThanOrEqual(1)
    expect(steps.length).toBeLessThan(Math.ceil(23 / 4)) // 6 steps per epoch: it stopped inside the first one
    expect(await listCheckpointFiles(jobDir)).toEqual([])
  })

  it('detects a corrupt newest checkpoint, reports it and resumes from the previous one', async () => {
    const jobDir = path.join(root, 'fresh')
    // (the first test leaves this job finished; when run alone, train it here)
    if ((await listCheckpointFiles(jobDir)).length < 2) (await trainPtychoPinn(options(jobDir))).model.dispose()
    const newest = (await listCheckpointFiles(jobDir))[0]
    await truncate(newest, 1000)
    // and a write that was killed before its rename
    await writeFile(path.join(jobDir, 'checkpoints', '.epoch-0004.ckpt.zip.999.abcd.tmp'), 'partial')
    const lines: string[] = []
    const r = await trainPtychoPinn(options(jobDir, {log: (l) => lines.push(l)}))
    r.model.dispose()
    expect(lines.some((l) => /Checkpoint checkpoints\/epoch-0003\.ckpt\.zip is corrupt or partial/.test(l))).toBe(true)
    expect(lines).toContain('Removed the partial checkpoint write checkpoints/.epoch-0004.ckpt.zip.999.abcd.tmp')
    expect(r.resumedFromEpoch).toBe(2)
    expect(r.epochsCompleted).toBe(NEPOCHS)
    if (reference) expect(Math.abs(r.history.loss[2] - reference.loss[2])).toBeLessThan(1e-5 * Math.abs(reference.loss[2]))
    // the corrupt file was moved aside, not deleted; the rewritten epoch-3 checkpoint verifies again
    expect(lines).toContain('Moved checkpoints/epoch-0003.ckpt.zip to checkpoints/superseded/')
    expect((await readdir(path.join(jobDir, 'checkpoints', 'superseded')))).toContain('epoch-0003.ckpt.zip')
    expect((await readCheckpoint(path.join(jobDir, 'checkpoints', 'epoch-0003.ckpt.zip'))).state.epoch).toBe(3)
    expect((await readdir(path.join(jobDir, 'checkpoints'))).filter((n) => n.endsWith('.tmp'))).toEqual([])
  })
})

describe('gridsize 2 training (object.big reassembly in the loop)', () => {
  it('runs an epoch with finite losses on groups of 4 with sub-pixel offsets, leaking no tensors', async () => {
    const scan = syntheticScan(64, 12, 9)
    const spec2 = modelSpecFrom(
      {N: 64, gridsize: 2, n_filters_scale: 1, amp_activation: 'sigmoid', object_big: true, probe_big: true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0},
      {nphotons: 1e6, intensity_scale_trainable: true, probe_trainable: false},
    )
    const B = 6
    const N = 64
    // groups of 4 consecutive patterns (channel-last), offsets of a few pixels around each group centre
    const X = new Float32Array(B * N * N * 4)
    const norm = normalizedGs1(scan)
    for (let b = 0; b < B; b++)
      for (let c = 0; c < 4; c++) {
        const src = ((2 * b + c) % 12) * N * N
        for (let i = 0; i < N * N; i++) X[(b * N * N + i) * 4 + c] = norm[src + i]
      }
    const coords = Float32Array.from({length: B * 2 * 4}, (_, i) => 3.3 * Math.sin(i * 1.7))
    const before = tf.memory().numTensors
    const r = await trainPtychoPinn({...options(path.join(root, 'gs2')), spec: spec2, data: {X, coordsRelative: coords, probe: scan.probe}, nepochs: 1, batchSize: 2})
    expect(r.history.loss.every(Number.isFinite)).toBe(true)
    expect(r.history.val_loss.every(Number.isFinite)).toBe(true)
    const pred = await predictObjectPatches({model: r.model}, X.subarray(0, 2 * N * N * 4), coords.subarray(0, 16))
    expect(pred.B).toBe(2)
    expect(pred.re.every(Number.isFinite)).toBe(true)
    r.model.dispose()
    expect(tf.memory().numTensors).toBe(before)
  })
})
