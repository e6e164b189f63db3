/**
 * The PtychoPINN training loop (spec §13.7): Adam (Keras semantics, lr 1e-3), the last 5 % of groups held out for
 * validation before shuffling, a seeded shuffle per epoch, ReduceLROnPlateau(val_loss, 0.5, patience 2,
 * min_lr 1e-4) and EarlyStopping(loss, patience 3). A checkpoint is written atomically after every epoch, and
 * `history.jsonl` (one JSON line per epoch) is rewritten atomically with it; a rerun resumes from the newest
 * valid checkpoint of the same configuration.
 */
import {createHash} from 'node:crypto'
import {mkdir, rename} from 'node:fs/promises'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import {writeFileAtomic} from '../io/atomic.js'
import type {ProgressEvent} from '../runners/types.js'
import {createRng} from '../util/random.js'
import {Adam} from './adam.js'
import type {ModelSpec} from './architecture.js'
import {EarlyStopping, ReduceLROnPlateau} from './callbacks.js'
import {
  CHECKPOINT_DIR,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  findResumePoint,
  listCheckpointFiles,
  removeStaleTemps,
  writeCheckpoint,
  type CheckpointState,
  type NamedArray,
} from './checkpoint.js'
import {trainingLoss, type LossWeights} from './loss.js'
import {PtychoPinn} from './ptychopinn.js'

export const HISTORY_FILE = 'history.jsonl'
export const VALIDATION_SPLIT = 0.05
export const RNG_SCHEME = 'weights: createRng(seed); epoch e shuffle: createRng(seed + 1000003*(e+1))'

export interface TrainingInputs {
  /** (B, N, N, C) normalised amplitudes */
  X: Float32Array
  /** (B, 1, 2, C) */
  coordsRelative: Float32Array
  /** interleaved complex (N, N) probe as in the data file */
  probe: Float32Array
}

export interface TrainOptions {
  spec: ModelSpec
  data: TrainingInputs
  batchSize: number
  nepochs: number
  weights: LossWeights
  seed: number
  /** the job folder: checkpoints/ and history.jsonl go here */
  jobDir: string
  log?: (line: string) => void
  onProgress?: (e: ProgressEvent) => void
  /** how often (ms) in-epoch progress events are sent; default 1000 */
  progressIntervalMs?: number
  signal?: AbortSignal
  /** resume from the newest valid checkpoint (default true) */
  resume?: boolean
}

export interface TrainingHistory {
  loss: number[]
  val_loss: number[]
  lr: number[]
}

export interface TrainResult {
  model: PtychoPinn
  history: TrainingHistory
  epochsCompleted: number
  resumedFromEpoch: number | null
  checkpointPath: string | null
  stoppedEarly: boolean
  elapsedSeconds: number
}

/** Thrown when the signal aborts training; the last finished epoch is checkpointed. */
export class TrainingInterrupted extends Error {
  constructor(
    readonly epochsCompleted: number,
    readonly checkpointPath: string | null,
  ) {
    super(`training interrupted after ${epochsCompleted} epoch(s)`)
    this.name = 'TrainingInterrupted'
  }
}

/** Fisher-Yates shuffle with the seeded generator. */
function shuffled(indices: number[], seed: number): number[] {
  const rng = createRng(seed)
  const a = indices.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1)
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

/** Identity of a training run: a checkpoint is only resumed by a run with the same fingerprint. */
export function trainingFingerprint(opts: Pick<TrainOptions, 'spec' | 'data' | 'batchSize' | 'nepochs' | 'weights' | 'seed'>): string {
  const h = createHash('sha256')
  h.update(JSON.stringify({spec: opts.spec, batchSize: opts.batchSize, nepochs: opts.nepochs, weights: opts.weights, seed: opts.seed, v: 1}))
  for (const a of [opts.data.X, opts.data.coordsRelative, opts.data.probe]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  return h.digest('hex')
}

const toJsonNumber = (x: number): number | null => (Number.isFinite(x) ? x : null)
const fromJsonNumber = (x: number | null): number => (x === null ? Infinity : x)

export interface Batch {
  x: Float32Array
  coords: Float32Array
  targetIntensity: Float32Array
  targetAmplitude?: Float32Array
  n: number
}

/** Gather a batch; targets are laid out (n·C, kx, ky) to match the model's transposed far field. */
export function makeBatch(data: TrainingInputs, idx: number[], spec: ModelSpec, withAmplitude: boolean): Batch {
  const {N, C} = spec
  const s = spec.intensity_scale
  const per = N * N * C
  const n = idx.length
  const x = new Float32Array(n * per)
  const coords = new Float32Array(n * 2 * C)
  const targetIntensity = new Float32Array(n * per)
  const targetAmplitude = withAmplitude ? new Float32Array(n * per) : undefined
  for (let k = 0; k < n; k++) {
    const g = idx[k]
    const src = data.X.subarray(g * per, (g + 1) * per)
    x.set(src, k * per)
    coords.set(data.coordsRelative.subarray(g * 2 * C, (g + 1) * 2 * C), k * 2 * C)
    for (let c = 0; c < C; c++) {
      const base = (k * C + c) * N * N
      for (let kx = 0; kx < N; kx++) {
        for (let ky = 0; ky < N; ky++) {
          const a = s * src[(ky * N + kx) * C + c]
          targetIntensity[base + kx * N + ky] = a * a
          if (targetAmplitude) targetAmplitude[base + kx * N + ky] = a
        }
      }
    }
  }
  return {x, coords, targetIntensity, targetAmplitude, n}
}

function batchTensors(b: Batch, spec: ModelSpec) {
  const {N, C} = spec
  return {
    x: tf.tensor4d(b.x, [b.n, N, N, C]),
    ti: tf.tensor3d(b.targetIntensity, [b.n * C, N, N]),
    ta: b.targetAmplitude ? tf.tensor3d(b.targetAmplitude, [b.n * C, N, N]) : undefined,
  }
}

/** One optimisation step on a prepared batch; returns the batch loss. Tensor count is unchanged afterwards. */
export async function trainStep(model: PtychoPinn, vars: tf.Variable[], adam: Adam, batch: Batch, weights: LossWeights): Promise<number> {
  const t = batchTensors(batch, model.spec)
  const {value, grads} = tf.variableGrads(() => {
    const {intensity} = model.forward(t.x, batch.coords, {intensity: true})
    return trainingLoss(intensity!, t.ti, weights, t.ta)
  }, vars)
  adam.apply(vars.map((v) => grads[v.name]))
  const lossValue = (await value.data())[0]
  tf.dispose([value, t.x, t.ti, ...(t.ta ? [t.ta] : []), ...Object.values(grads)])
  return lossValue
}

async function writeHistoryJsonl(jobDir: string, history: TrainingHistory, epochSeconds: number[]): Promise<void> {
  const lines = history.loss.map((loss, e) =>
    JSON.stringify({
      epoch: e + 1,
      loss: toJsonNumber(loss),
      val_loss: toJsonNumber(history.val_loss[e]),
      lr: history.lr[e],
      ...(epochSeconds[e] !== undefined ? {seconds: Math.round(epochSeconds[e] * 1000) / 1000} : {}),
    }),
  )
  await writeFileAtomic(path.join(jobDir, HISTORY_FILE), lines.length ? lines.join('\n') + '\n' : '')
}

/** Train a fresh PtychoPINN (or resume one) on grouped data. The caller owns (and disposes) result.model. */
export async function trainPtychoPinn(opts: TrainOptions): Promise<TrainResult> {
  const {spec, data, batchSize, nepochs, seed, jobDir} = opts
  const log = opts.log ?? (() => {})
  const {N, C} = spec
  const per = N * N * C
  if (data.X.length % per !== 0) throw new RangeError(`X holds ${data.X.length} values, not a multiple of N·N·C = ${per}`)
  const B = data.X.length / per
  if (data.coordsRelative.length !== B * 2 * C) throw new RangeError(`coordsRelative holds ${data.coordsRelative.length} values, expected ${B * 2 * C}`)
  const nTrain = Math.floor(B * (1 - VALIDATION_SPLIT))
  if (nTrain < 1 || B < 2) throw new RangeError(`training needs at least 2 groups (got ${B}): the last 5% are held out for validation`)
  const trainIdx = Array.from({length: nTrain}, (_, i) => i)
  const valIdx = Array.from({length: B - nTrain}, (_, i) => nTrain + i)
  const withAmp = opts.weights.mae_weight > 0
  const fingerprint = trainingFingerprint(opts)

  const model = new PtychoPinn(spec, data.probe, createRng(seed))
  const vars = model.trainableVariables()
  const adam = new Adam(vars, {learningRate: 1e-3})
  const plateau = new ReduceLROnPlateau()
  const early = new EarlyStopping()
  const history: TrainingHistory = {loss: [], val_loss: [], lr: []}
  const epochSeconds: number[] = []
  let startEpoch = 0
  let stopTraining = false
  let elapsedBefore = 0
  let resumedFromEpoch: number | null = null
  let checkpointPath: string | null = null

  try {
    for (const t of await removeStaleTemps(jobDir)) log(`Removed the partial checkpoint write ${CHECKPOINT_DIR}/${t}`)
    if (opts.resume !== false) {
      const {checkpoint, notes} = await findResumePoint(jobDir, fingerprint)
      for (const n of notes) log(n)
      if (checkpoint) {
        const st = checkpoint.state
        const nModel = model.namedVariables().length
        model.assignVariables(checkpoint.arrays.slice(0, nModel))
        adam.restoreState(st.optimizer_iterations, checkpoint.arrays.slice(nModel).map((a) => new Float32Array(a.data)))
        adam.learningRate = st.learning_rate
        const cb = st.callbacks
        plateau.state = {best: fromJsonNumber(cb.reduce_lr_on_plateau.best), wait: cb.reduce_lr_on_plateau.wait, cooldownCounter: cb.reduce_lr_on_plateau.cooldownCounter}
        early.state = {best: fromJsonNumber(cb.early_stopping.best), wait: cb.early_stopping.wait, stoppedEpoch: cb.early_stopping.stoppedEpoch}
        history.loss = st.history.loss.map(fromJsonNumber)
        history.val_loss = (st.history.val_loss ?? []).map((x) => (x === null ? NaN : x))
        history.lr = st.history.lr.map(fromJsonNumber)
        for (const s of st.history.seconds ?? []) epochSeconds.push(s ?? 0)
        startEpoch = st.epoch
        stopTraining = st.stop_training
        elapsedBefore = st.elapsed_s
        resumedFromEpoch = st.epoch
        checkpointPath = checkpoint.file
        log(`Resuming from checkpoint ${path.relative(jobDir, checkpoint.file)} (epoch ${st.epoch} of ${st.nepochs} completed)`)
        // anything newer than the checkpoint we resume from is corrupt or foreign: move it out of the way
        for (const f of await listCheckpointFiles(jobDir)) {
          const e = Number(/epoch-(\d+)/.exec(path.basename(f))?.[1])
          if (e > st.epoch) {
            const aside = path.join(jobDir, CHECKPOINT_DIR, 'superseded')
            await mkdir(aside, {recursive: true})
            await rename(f, path.join(aside, path.basename(f)))
            log(`Moved ${CHECKPOINT_DIR}/${path.basename(f)} to ${CHECKPOINT_DIR}/superseded/`)
          }
        }
      } else {
        // keep what an earlier, different run left (it is not ours to delete), out of the way of this run's files
        const old = await listCheckpointFiles(jobDir)
        if (old.length > 0) {
          const aside = path.join(jobDir, CHECKPOINT_DIR, 'superseded')
          await mkdir(aside, {recursive: true})
          for (const f of old) await rename(f, path.join(aside, path.basename(f)))
          log(`Starting fresh; ${old.length} earlier checkpoint(s) moved to ${CHECKPOINT_DIR}/superseded/`)
        }
      }
    }

    const t0 = performance.now()
    const elapsed = () => elapsedBefore + (performance.now() - t0) / 1000
    const interval = opts.progressIntervalMs ?? 1000
    const stepsPerEpoch = Math.ceil(nTrain / batchSize)
    let lastProgress = 0
    let stepsDone = 0

    for (let epoch = startEpoch; epoch < nepochs && !stopTraining; epoch++) {
      if (opts.signal?.aborted) throw new TrainingInterrupted(epoch, checkpointPath)
      const epochStart = performance.now()
      const lr = adam.learningRate
      const order = shuffled(trainIdx, seed + 1_000_003 * (epoch + 1))
      let lossSum = 0
      let count = 0
      for (let start = 0; start < nTrain; start += batchSize) {
        const idx = order.slice(start, start + batchSize)
        const batch = makeBatch(data, idx, spec, withAmp)
        const lossValue = await trainStep(model, vars, adam, batch, opts.weights)
        lossSum += lossValue * batch.n
        count += batch.n
        stepsDone++
        const now = performance.now()
        if (opts.onProgress && now - lastProgress >= interval) {
          lastProgress = now
          const stepInEpoch = Math.floor(start / batchSize) + 1
          const perStep = (now - t0) / 1000 / stepsDone
          const remainingSteps = stepsPerEpoch - stepInEpoch + (nepochs - epoch - 1) * stepsPerEpoch
          opts.onProgress({
            epoch: epoch + 1,
            nepochs,
            loss: lossSum / count,
            // the last finished epoch's validation loss (none yet in the first epoch)
            val_loss: history.val_loss.length > 0 ? history.val_loss[history.val_loss.length - 1] : undefined,
            lr,
            elapsed_s: elapsed(),
            eta_s: perStep * remainingSteps,
            message: `step ${stepInEpoch}/${stepsPerEpoch}`,
          })
        }
        // yield to the event loop once per step: otherwise (wasm resolves data() as a microtask) no signal
        // handler could run before the epoch ends, and Ctrl-C would wait for it
        await new Promise<void>((resolve) => setImmediate(resolve))
        if (opts.signal?.aborted) break
      }
      if (opts.signal?.aborted && count < nTrain) throw new TrainingInterrupted(epoch, checkpointPath)
      const loss = lossSum / count
      // validation
      let valSum = 0
      let valCount = 0
      for (let start = 0; start < valIdx.length; start += batchSize) {
        const idx = valIdx.slice(start, start + batchSize)
        const batch = makeBatch(data, idx, spec, withAmp)
        const t = batchTensors(batch, spec)
        const v = tf.tidy(() => {
          const {intensity} = model.forward(t.x, batch.coords, {intensity: true})
          return trainingLoss(intensity!, t.ti, opts.weights, t.ta)
        })
        valSum += (await v.data())[0] * batch.n
        valCount += batch.n
        tf.dispose([v, t.x, t.ti, ...(t.ta ? [t.ta] : [])])
      }
      const valLoss = valCount > 0 ? valSum / valCount : NaN
      history.loss.push(loss)
      history.val_loss.push(valLoss)
      history.lr.push(lr)
      epochSeconds.push((performance.now() - epochStart) / 1000)
      // callbacks in the reference's order
      adam.learningRate = plateau.onEpochEnd(valCount > 0 ? valLoss : undefined, lr)
      if (adam.learningRate !== lr) log(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${adam.learningRate}`)
      if (early.onEpochEnd(epoch, loss)) {
        stopTraining = true
        log(`Epoch ${epoch + 1}: early stopping (loss did not improve for ${early.opts.patience} epochs)`)
      }
      // checkpoint (atomic), then history.jsonl
      const state: Omit<CheckpointState, 'arrays'> = {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        epoch: epoch + 1,
        nepochs,
        fingerprint,
        learning_rate: adam.learningRate,
        optimizer_iterations: adam.iterations,
        stop_training: stopTraining,
        history: {
          loss: history.loss.map(toJsonNumber),
          val_loss: history.val_loss.map(toJsonNumber),
          lr: history.lr.map(toJsonNumber),
          seconds: epochSeconds.map(toJsonNumber),
        },
        callbacks: {
          reduce_lr_on_plateau: {...plateau.state, best: toJsonNumber(plateau.state.best)},
          early_stopping: {...early.state, best: toJsonNumber(early.state.best)},
        },
        rng: {seed, scheme: RNG_SCHEME},
        elapsed_s: elapsed(),
      }
      const arrays: NamedArray[] = [
        ...(await model.readVariables()),
        ...(await adam.readState()).map((data, i) => ({name: `adam/${i < vars.length ? 'm' : 'v'}/${i % vars.length}`, shape: [data.length], data})),
      ]
      checkpointPath = await writeCheckpoint(jobDir, state, arrays)
      await writeHistoryJsonl(jobDir, history, epochSeconds)
      const event: ProgressEvent = {
        epoch: epoch + 1,
        nepochs,
        loss,
        val_loss: valLoss,
        lr,
        elapsed_s: elapsed(),
        eta_s: stopTraining ? 0 : (epochSeconds.slice(-3).reduce((a, b) => a + b, 0) / Math.min(3, epochSeconds.length)) * (nepochs - epoch - 1),
        message: 'done',
      }
      log(
        `Epoch ${epoch + 1}/${nepochs}: loss=${loss.toPrecision(6)} val_loss=${Number.isFinite(valLoss) ? valLoss.toPrecision(6) : 'n/a'} lr=${lr} (${epochSeconds[epochSeconds.length - 1].toFixed(1)} s)`,
      )
      opts.onProgress?.(event)
    }
    if (resumedFromEpoch !== null && resumedFromEpoch >= nepochs) log('Checkpoint already holds every epoch; nothing left to train')
    return {
      model,
      history,
      epochsCompleted: history.loss.length,
      resumedFromEpoch,
      checkpointPath,
      stoppedEarly: stopTraining && history.loss.length < nepochs,
      elapsedSeconds: elapsed(),
    }
  } catch (error) {
    model.dispose()
    throw error
  } finally {
    adam.dispose()
  }
}
