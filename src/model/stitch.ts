/**
 * Inference stitching (spec §13.8, `tf_helper.reassemble_position` / `shift_and_sum`).
 *
 * 1. Crop the central M×M of each (N×N) patch: rows/cols [N/2 − M/2, N/2 + M/2).
 * 2. adjusted = offset − centre, the centre being the mean of all offsets (centre of mass) by default.
 * 3. pad = ceil(max |adjusted|) rounded up to even; canvas = (M + 2·pad)².
 * 4. Each crop, zero-padded by pad, is translated by its adjusted offset with bilinear interpolation and
 *    zero fill (content moves by +t: out[y, x] = in[y − dy, x − dx]) and summed; the same for a crop of ones.
 * Result = Σ obj / (1e-9 + Σ ones).
 *
 * A translation by (dx, dy) of a zero-padded crop only touches an (M+1)×(M+1) window of the canvas, so each
 * patch is scattered straight into the canvas with its 4 bilinear weights: memory is one canvas
 * (plus the weights), whatever the number of patches, and the work is O(B·M²).
 *
 * Canvas pixel (r, c) lies at object pixel (originY + r, originX + c), with
 * originX = centreX − pad − M/2 (likewise y), for patches centred at their scan position.
 */

export interface ComplexPatches {
  /** (B, N, N) real parts, row-major (a trailing channel axis of 1 is the same memory) */
  re: Float32Array
  /** (B, N, N) imaginary parts */
  im: Float32Array
}

export interface StitchedObject {
  re: Float32Array
  im: Float32Array
  /** rows */
  H: number
  /** columns */
  W: number
  /** the padding used on each side of the central crop */
  pad: number
  /** the centre subtracted from the offsets (x, y) */
  centerX: number
  centerY: number
  /** object coordinates (column, row) of canvas pixel (0, 0) */
  originX: number
  originY: number
  /** Σ ones, the number of patches covering each canvas pixel (bilinear weights), length H·W */
  coverage: Float32Array
}

export interface StitchOptions {
  /** centre to subtract from the offsets instead of their mean (x, y) */
  center?: {x: number; y: number}
}

/**
 * Stitch B complex N×N patches at global offsets (B,1,2,1) (x then y per patch) into one complex image.
 */
export function stitchPatches(
  patches: ComplexPatches,
  B: number,
  N: number,
  offsets: Float64Array | Float32Array,
  M = 20,
  options: StitchOptions = {},
): StitchedObject {
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`stitchPatches needs at least one patch, got B=${B}`)
  if (!Number.isInteger(M) || M < 2 || M > N || M % 2 !== 0) {
    throw new RangeError(`stitch crop size M must be an even integer in [2, N=${N}], got ${M}`)
  }
  if (patches.re.length !== B * N * N || patches.im.length !== B * N * N) {
    throw new RangeError(`patches must hold B·N·N = ${B * N * N} values per part, got ${patches.re.length}/${patches.im.length}`)
  }
  if (offsets.length !== 2 * B) throw new RangeError(`offsets must have shape (B,1,2,1) = ${2 * B} values, got ${offsets.length}`)

  let centerX: number
  let centerY: number
  if (options.center) {
    centerX = options.center.x
    centerY = options.center.y
  } else {
    let sx = 0
    let sy = 0
    for (let b = 0; b < B; b++) {
      sx += offsets[2 * b]
      sy += offsets[2 * b + 1]
    }
    centerX = sx / B
    centerY = sy / B
  }
  let maxAbs = 0
  for (let b = 0; b < B; b++) {
    const dx = offsets[2 * b] - centerX
    const dy = offsets[2 * b + 1] - centerY
    if (!Number.isFinite(dx) || !Number.isFinite(dy)) throw new RangeError(`offset of patch ${b} is not finite`)
    maxAbs = Math.max(maxAbs, Math.abs(dx), Math.abs(dy))
  }
  let pad = Math.ceil(maxAbs)
  if (pad % 2 !== 0) pad += 1
  const S = M + 2 * pad
  const sumRe = new Float64Array(S * S)
  const sumIm = new Float64Array(S * S)
  const sumOnes = new Float64Array(S * S)
  const c0 = N / 2 - M / 2

  for (let b = 0; b < B; b++) {
    const dx = offsets[2 * b] - centerX
    const dy = offsets[2 * b + 1] - centerY
    const fx = Math.floor(dx)
    const fy = Math.floor(dy)
    const ax = dx - fx
    const ay = dy - fy
    // input pixel (i, j) of the padded crop lands on rows i+fy (weight 1−ay), i+fy+1 (weight ay), same for columns
    const w00 = (1 - ay) * (1 - ax)
    const w01 = (1 - ay) * ax
    const w10 = ay * (1 - ax)
    const w11 = ay * ax
    const base = b * N * N
    for (let i = 0; i < M; i++) {
      const r = pad + i + fy
      const srcRow = base + (c0 + i) * N + c0
      for (let j = 0; j < M; j++) {
        const c = pad + j + fx
        const vr = patches.re[srcRow + j]
        const vi = patches.im[srcRow + j]
        scatter(r, c, w00, vr, vi)
        scatter(r, c + 1, w01, vr, vi)
        scatter(r + 1, c, w10, vr, vi)
        scatter(r + 1, c + 1, w11, vr, vi)
      }
    }
  }

  function scatter(r: number, c: number, w: number, vr: number, vi: number): void {
    if (w === 0 || r < 0 || c < 0 || r >= S || c >= S) return
    const k = r * S + c
    sumRe[k] += w * vr
    sumIm[k] += w * vi
    sumOnes[k] += w
  }

  const re = new Float32Array(S * S)
  const im = new Float32Array(S * S)
  const coverage = new Float32Array(S * S)
  for (let k = 0; k < S * S; k++) {
    const d = 1e-9 + sumOnes[k]
    re[k] = sumRe[k] / d
    im[k] = sumIm[k] / d
    coverage[k] = sumOnes[k]
  }
  return {
    re,
    im,
    H: S,
    W: S,
    pad,
    centerX,
    centerY,
    originX: centerX - pad - M / 2,
    originY: centerY - pad - M / 2,
    coverage,
  }
}
