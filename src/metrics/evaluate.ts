/**
 * Reconstruction vs ground truth (spec §8.2 step 6 and §8.3, `align_for_evaluation` + `eval_reconstruction`).
 */
import {
  crop,
  type Image,
  mean,
  meanAbsoluteError,
  meanSquaredError,
  pearson,
  psnr,
  removePlane,
  ssim,
  trimBorder,
} from './image.js'

export interface ComplexImage {
  re: Float32Array | Float64Array
  im: Float32Array | Float64Array
  H: number
  W: number
}

/** a metric for the amplitude and for the phase */
export interface AmpPhase {
  amplitude: number
  phase: number
}

export interface ReconstructionMetrics {
  mae: AmpPhase
  mse: AmpPhase
  /** peak 255 as OpenCV's cv2.PSNR default (spec §8.3) */
  psnr: AmpPhase
  ssim: AmpPhase
  /**
   * Pearson correlation after the same alignment (phase: after plane removal), over the pixels the
   * reconstruction covers (options.mask) when a mask is given: uncovered pixels are zeros, outliers that would
   * swamp a correlation
   */
  correlation: AmpPhase
  /** fraction of the compared pixels covered by the reconstruction (1 without a mask) */
  covered_fraction: number
  /** amplitude scale applied to the prediction: mean(target)/mean(pred) */
  amplitude_scale: number
  /** the compared region, after the 2-px border trim */
  height: number
  width: number
  phase_align_method: 'plane' | 'mean'
}

export function amplitudeOf(z: ComplexImage): Image {
  const data = new Float64Array(z.H * z.W)
  for (let i = 0; i < data.length; i++) data[i] = Math.hypot(z.re[i], z.im[i])
  return {data, H: z.H, W: z.W}
}

export function phaseOf(z: ComplexImage): Image {
  const data = new Float64Array(z.H * z.W)
  for (let i = 0; i < data.length; i++) data[i] = Math.atan2(z.im[i], z.re[i])
  return {data, H: z.H, W: z.W}
}

function cropComplex(z: ComplexImage, r0: number, c0: number, h: number, w: number): ComplexImage {
  const re = crop({data: Float64Array.from(z.re), H: z.H, W: z.W}, r0, c0, h, w).data
  const im = crop({data: Float64Array.from(z.im), H: z.H, W: z.W}, r0, c0, h, w).data
  return {re, im, H: h, W: w}
}

/**
 * `align_for_evaluation(recon, gt, scan_coords_yx, M)` as in the reference: crop the ground truth to rows
 * [max(0, int(min_y) − M//2), min(H, int(max_y) + M//2)) and likewise columns, then centre-crop both
 * images to the common (min h, min w). Note: this assumes the stitched canvas is centred on the middle of
 * the scanned range; the canvas is centred on the mean position, so the two can differ by |mean − midrange|.
 */
export function alignForEvaluation(
  recon: ComplexImage,
  gt: ComplexImage,
  scanX: ArrayLike<number>,
  scanY: ArrayLike<number>,
  M: number,
): {recon: ComplexImage; gt: ComplexImage; rowStart: number; colStart: number} {
  const {min: minY, max: maxY} = extent(scanY)
  const {min: minX, max: maxX} = extent(scanX)
  const half = Math.floor(M / 2)
  const r0 = Math.max(0, Math.trunc(minY) - half)
  const r1 = Math.min(gt.H, Math.trunc(maxY) + half)
  const c0 = Math.max(0, Math.trunc(minX) - half)
  const c1 = Math.min(gt.W, Math.trunc(maxX) + half)
  const gtCrop = cropComplex(gt, r0, c0, r1 - r0, c1 - c0)
  const h = Math.min(gtCrop.H, recon.H)
  const w = Math.min(gtCrop.W, recon.W)
  const rowStart = Math.floor((recon.H - h) / 2)
  const colStart = Math.floor((recon.W - w) / 2)
  return {
    recon: cropComplex(recon, rowStart, colStart, h, w),
    gt: cropComplex(gtCrop, Math.floor((gtCrop.H - h) / 2), Math.floor((gtCrop.W - w) / 2), h, w),
    rowStart,
    colStart,
  }
}

/**
 * Alignment by coordinates: the stitched canvas knows where it lies on the object (originX/originY, object
 * coordinates of canvas pixel (0,0)), so the ground truth is sampled on exactly the canvas grid (bilinear,
 * for the sub-pixel part of the origin) over the scanned region [min − M/2, max + M/2) ∩ object, and the
 * reconstruction is cut to the same region. No centring assumption.
 */
export function alignByCoordinates(
  recon: ComplexImage & {originX: number; originY: number},
  gt: ComplexImage,
  scanX: ArrayLike<number>,
  scanY: ArrayLike<number>,
  M: number,
): {recon: ComplexImage; gt: ComplexImage; rowStart: number; colStart: number} {
  const {min: minY, max: maxY} = extent(scanY)
  const {min: minX, max: maxX} = extent(scanX)
  const half = M / 2
  // canvas rows whose object coordinate lies in the scanned region and inside the object
  // canvas index range [start, end) whose object coordinate o = origin + index satisfies
  // lo <= o < hi (the scanned box [min − M/2, max + M/2)) and 0 <= o <= size − 1 (inside the object)
  const range = (origin: number, lo: number, hi: number, size: number, canvas: number): [number, number] => {
    const start = Math.max(0, Math.ceil(Math.max(lo, 0) - origin - 1e-9))
    const lastInBox = Math.ceil(hi - origin - 1e-9) - 1
    const lastInObject = Math.floor(size - 1 - origin + 1e-9)
    return [start, Math.min(canvas, Math.min(lastInBox, lastInObject) + 1)]
  }
  const [rStart, rEnd] = range(recon.originY, minY - half, maxY + half, gt.H, recon.H)
  const [cStart, cEnd] = range(recon.originX, minX - half, maxX + half, gt.W, recon.W)
  const h = rEnd - rStart
  const w = cEnd - cStart
  if (h < 1 || w < 1) throw new RangeError('the stitched reconstruction does not overlap the ground-truth object')
  const re = new Float64Array(h * w)
  const im = new Float64Array(h * w)
  for (let r = 0; r < h; r++) {
    const y = recon.originY + rStart + r
    for (let c = 0; c < w; c++) {
      const x = recon.originX + cStart + c
      const [vr, vi] = bilinear(gt, y, x)
      re[r * w + c] = vr
      im[r * w + c] = vi
    }
  }
  return {recon: cropComplex(recon, rStart, cStart, h, w), gt: {re, im, H: h, W: w}, rowStart: rStart, colStart: cStart}
}

function bilinear(z: ComplexImage, y: number, x: number): [number, number] {
  const y0 = Math.floor(y)
  const x0 = Math.floor(x)
  const ay = y - y0
  const ax = x - x0
  let vr = 0
  let vi = 0
  for (const [dy, wy] of [
    [0, 1 - ay],
    [1, ay],
  ]) {
    for (const [dx, wx] of [
      [0, 1 - ax],
      [1, ax],
    ]) {
      const w = wy * wx
      if (w === 0) continue
      const r = y0 + dy
      const c = x0 + dx
      if (r < 0 || c < 0 || r >= z.H || c >= z.W) continue
      vr += w * z.re[r * z.W + c]
      vi += w * z.im[r * z.W + c]
    }
  }
  return [vr, vi]
}

function extent(v: ArrayLike<number>): {min: number; max: number} {
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < v.length; i++) {
    min = Math.min(min, v[i])
    max = Math.max(max, v[i])
  }
  return {min, max}
}

/**
 * `eval_reconstruction` (spec §8.3) on aligned images of the same shape: 2-px border trim; phase plane
 * removed from each image separately (or the mean, with 'mean'); amplitude of the prediction scaled by
 * mean(target)/mean(pred); MAE, MSE, PSNR (peak 255), SSIM (amplitude data_range = max − min of the target;
 * phase mapped by (φ+π)/(2π) with data_range 1) and Pearson correlation.
 */
export function evaluateReconstruction(
  pred: ComplexImage,
  target: ComplexImage,
  options: {phaseAlignMethod?: 'plane' | 'mean'; borderTrim?: number; mask?: ArrayLike<number>} = {},
): ReconstructionMetrics {
  if (pred.H !== target.H || pred.W !== target.W) {
    throw new RangeError(`reconstruction ${pred.H}×${pred.W} and ground truth ${target.H}×${target.W} differ in shape`)
  }
  const method = options.phaseAlignMethod ?? 'plane'
  const t = options.borderTrim ?? 2
  const ampT = trimBorder(amplitudeOf(target), t)
  const ampP0 = trimBorder(amplitudeOf(pred), t)
  const align = (img: Image): Image => {
    if (method === 'plane') return removePlane(img)
    const m = mean(img.data)
    return {data: img.data.map((v) => v - m), H: img.H, W: img.W}
  }
  const phT = align(trimBorder(phaseOf(target), t))
  const phP = align(trimBorder(phaseOf(pred), t))
  if (options.mask && options.mask.length !== pred.H * pred.W) throw new RangeError(`mask has ${options.mask.length} values, expected ${pred.H * pred.W}`)
  const mask = options.mask ? trimBorder({data: Float64Array.from(options.mask), H: pred.H, W: pred.W}, t) : undefined
  const scale = mean(ampT.data) / mean(ampP0.data)
  const ampP: Image = {data: ampP0.data.map((v) => v * scale), H: ampP0.H, W: ampP0.W}

  let tMin = Infinity
  let tMax = -Infinity
  for (const v of ampT.data) {
    tMin = Math.min(tMin, v)
    tMax = Math.max(tMax, v)
  }
  const toUnit = (img: Image): Image => ({data: img.data.map((v) => (v + Math.PI) / (2 * Math.PI)), H: img.H, W: img.W})
  const ampRange = tMax - tMin
  return {
    mae: {amplitude: meanAbsoluteError(ampT, ampP), phase: meanAbsoluteError(phT, phP)},
    mse: {amplitude: meanSquaredError(ampT, ampP), phase: meanSquaredError(phT, phP)},
    psnr: {amplitude: psnr(ampT, ampP), phase: psnr(phT, phP)},
    ssim: {
      amplitude: ampRange > 0 ? ssim(ampT, ampP, ampRange) : Number.NaN,
      phase: ssim(toUnit(phT), toUnit(phP), 1),
    },
    correlation: {amplitude: maskedPearson(ampT, ampP, mask), phase: maskedPearson(phT, phP, mask)},
    covered_fraction: mask ? mask.data.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0) / mask.data.length : 1,
    amplitude_scale: scale,
    height: ampT.H,
    width: ampT.W,
    phase_align_method: method,
  }
}


function maskedPearson(a: Image, b: Image, mask: Image | undefined): number {
  if (!mask) return pearson(a, b)
  const keep = (img: Image): Image => {
    const data = img.data.filter((_, i) => mask.data[i] !== 0)
    return {data, H: 1, W: data.length}
  }
  return pearson(keep(a), keep(b))
}
