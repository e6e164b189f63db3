/**
 * Object patches from a trained bundle (the reference's diffraction_to_obj model: output trimmed_obj).
 */
import * as tf from '@tensorflow/tfjs-core'
import {PredictionInterrupted} from '../errors.js'
import type {LoadedBundle} from './bundle.js'

export interface PredictedPatches {
  /** (B, N, N, 1) real and imaginary parts of the trimmed object */
  re: Float32Array
  im: Float32Array
  B: number
  N: number
}

/**
 * Predict trimmed object patches for X (B,N,N,C) normalised amplitudes (normalize_data output; multiplied by the
 * intensity scale inside, as the reference feeds X · intensity_scale) and coords_relative (B,1,2,C).
 */
export async function predictObjectPatches(
  bundle: Pick<LoadedBundle, 'model'>,
  X: Float32Array,
  coordsRelative: Float32Array,
  opts: {batchSize?: number; signal?: AbortSignal} = {},
): Promise<PredictedPatches> {
  const model = bundle.model
  const {N, C} = model.spec
  const per = N * N * C
  if (X.length % per !== 0) throw new RangeError(`X holds ${X.length} values, not a multiple of N·N·C = ${per}`)
  const B = X.length / per
  if (coordsRelative.length !== B * 2 * C) throw new RangeError(`coordsRelative holds ${coordsRelative.length} values, expected B·2·C = ${B * 2 * C}`)
  const bs = Math.max(1, opts.batchSize ?? 32)
  const re = new Float32Array(B * N * N)
  const im = new Float32Array(B * N * N)
  for (let start = 0; start < B; start += bs) {
    const n = Math.min(bs, B - start)
    const xb = tf.tensor4d(X.subarray(start * per, (start + n) * per), [n, N, N, C])
    const coords = coordsRelative.slice(start * 2 * C, (start + n) * 2 * C)
    const out = tf.tidy(() => {
      const r = model.forward(xb, coords, {intensity: false})
      return [r.objRe, r.objIm]
    })
    const [r, i] = await Promise.all(out.map((t) => t.data()))
    re.set(r as Float32Array, start * N * N)
    im.set(i as Float32Array, start * N * N)
    tf.dispose([xb, ...out])
    // yield to the event loop between batches so that a signal handler can run, then honour it
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (opts.signal?.aborted && start + n < B) throw new PredictionInterrupted(start + n, B)
  }
  return {re, im, B, N}
}
