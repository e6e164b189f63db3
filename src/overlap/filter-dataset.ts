/**
 * filter_dataset_by_mask (spec 5.1): arrays whose first axis has the mask's length are masked along that
 * axis; 0-d arrays are broadcast to one value per kept image (numpy's np.full(n_keep, item)); every other
 * array is kept unchanged.
 *
 * Deliberate fix over the reference: the global arrays named in `globalKeys` (objectGuess, probeGuess and the
 * metadata by default) are never masked, even when their first axis happens to equal the number of images
 * (e.g. a 64 x 64 probe in a split of 64 images), and `_metadata` is not broadcast (it is replaced).
 */
import {type NdArray, type NdData, sizeOf} from '../io/ndarray.js'

export const GLOBAL_KEYS: ReadonlySet<string> = new Set(['objectGuess', 'probeGuess', '_metadata'])

function elementWidth(arr: NdArray): number {
  // complex data are interleaved (two numbers per element)
  return /c(8|16)$/.test(arr.dtype) ? 2 : 1
}

function allocLike(data: NdData, length: number): NdData {
  if (Array.isArray(data)) return new Array<string>(length)
  const Ctor = data.constructor as new (n: number) => Exclude<NdData, string[]>
  return new Ctor(length)
}

/** Rows of `arr` (along axis 0) where mask is set. */
export function maskRows(arr: NdArray, mask: ArrayLike<number>): NdArray {
  const n = arr.shape[0]
  let kept = 0
  for (let i = 0; i < mask.length; i++) if (mask[i]) kept++
  const row = (sizeOf(arr.shape.slice(1)) || 0) * elementWidth(arr)
  const out = allocLike(arr.data, kept * row) as unknown as {[i: number]: unknown}
  const src = arr.data as unknown as {[i: number]: unknown}
  let o = 0
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue
    for (let j = 0; j < row; j++) out[o++] = src[i * row + j]
  }
  return {dtype: arr.dtype, shape: [kept, ...arr.shape.slice(1)], data: out as unknown as NdData}
}

/** A 0-d array repeated to shape (count,). */
export function broadcastScalar(arr: NdArray, count: number): NdArray {
  const width = elementWidth(arr)
  const out = allocLike(arr.data, count * width) as unknown as {[i: number]: unknown}
  const src = arr.data as unknown as {[i: number]: unknown}
  for (let i = 0; i < count; i++) for (let j = 0; j < width; j++) out[i * width + j] = src[j]
  return {dtype: arr.dtype, shape: [count], data: out as unknown as NdData}
}

export function filterDatasetByMask(
  data: Record<string, NdArray>,
  mask: ArrayLike<number>,
  globalKeys: ReadonlySet<string> = GLOBAL_KEYS,
): Record<string, NdArray> {
  let kept = 0
  for (let i = 0; i < mask.length; i++) if (mask[i]) kept++
  const out: Record<string, NdArray> = {}
  for (const [key, arr] of Object.entries(data)) {
    if (globalKeys.has(key)) out[key] = arr
    else if (arr.shape.length === 0) out[key] = broadcastScalar(arr, kept)
    else if (arr.shape[0] === mask.length) out[key] = maskRows(arr, mask)
    else out[key] = arr
  }
  return out
}
