/**
 * Grey-scale PNG images of real-valued maps (amplitude, phase) that a person can open, via pngjs.
 * Values are scaled linearly between two percentiles (clipped) to 0..255; written atomically.
 */
import {readFile} from 'node:fs/promises'

import {PNG} from 'pngjs'

import {writeFileAtomic} from './atomic.js'

export interface GreyImage {
  data: ArrayLike<number>
  /** rows */
  H: number
  /** columns */
  W: number
  /** optional validity per pixel (0 = no data): such pixels are black and left out of the percentiles */
  mask?: ArrayLike<number>
}

export interface PercentileScaling {
  /** lower percentile mapped to black (default 1) */
  pLow?: number
  /** upper percentile mapped to white (default 99) */
  pHigh?: number
}

/** numpy.percentile with linear interpolation over the finite values; NaN if there are none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const finite: number[] = []
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite.push(values[i])
  if (finite.length === 0) return Number.NaN
  const sorted = Float64Array.from(finite).sort()
  const pos = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.min(sorted.length - 1, lo + 1)
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo])
}

/** 8-bit grey levels of an image scaled between its pLow and pHigh percentiles (non-finite values → 0). */
export function toGreyLevels(img: GreyImage, scaling: PercentileScaling = {}): {levels: Uint8Array; low: number; high: number} {
  if (img.data.length !== img.H * img.W) throw new RangeError(`image has ${img.data.length} values, expected ${img.H}×${img.W}`)
  const pLow = scaling.pLow ?? 1
  const pHigh = scaling.pHigh ?? 99
  if (!(pLow >= 0 && pHigh <= 100 && pLow < pHigh)) throw new RangeError(`percentiles must satisfy 0 ≤ pLow < pHigh ≤ 100, got ${pLow}, ${pHigh}`)
  let values: ArrayLike<number> = img.data
  if (img.mask) {
    if (img.mask.length !== img.data.length) throw new RangeError(`mask has ${img.mask.length} values, image ${img.data.length}`)
    const kept: number[] = []
    for (let i = 0; i < img.data.length; i++) if (img.mask[i] !== 0) kept.push(img.data[i])
    values = kept
  }
  let low = percentile(values, pLow)
  let high = percentile(values, pHigh)
  if (!Number.isFinite(low) || !Number.isFinite(high)) {
    low = 0
    high = 1
  }
  const span = high - low
  const levels = new Uint8Array(img.H * img.W)
  for (let i = 0; i < levels.length; i++) {
    const v = img.data[i]
    if (!Number.isFinite(v) || (img.mask && img.mask[i] === 0)) continue
    const u = span > 0 ? (v - low) / span : 0.5
    levels[i] = Math.round(255 * Math.min(1, Math.max(0, u)))
  }
  return {levels, low, high}
}

/** Encode 8-bit grey levels (H×W, row-major) as a grey-scale PNG. */
export function encodeGreyPng(levels: Uint8Array, H: number, W: number): Buffer {
  const png = new PNG({width: W, height: H, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8})
  png.data = Buffer.from(levels.buffer, levels.byteOffset, levels.byteLength)
  return PNG.sync.write(png, {colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8})
}

/** Write a percentile-scaled grey PNG atomically; returns the scaling used. */
export async function writeGreyPng(file: string, img: GreyImage, scaling: PercentileScaling = {}): Promise<{low: number; high: number}> {
  const {levels, low, high} = toGreyLevels(img, scaling)
  await writeFileAtomic(file, encodeGreyPng(levels, img.H, img.W))
  return {low, high}
}

/**
 * Several images side by side in one PNG (each scaled on its own), separated by a gap of `gap` white pixels;
 * images of different heights are top-aligned.
 */
export async function writeGreyPngRow(file: string, images: GreyImage[], scaling: PercentileScaling = {}, gap = 4): Promise<void> {
  if (images.length === 0) throw new RangeError('no images to write')
  const H = Math.max(...images.map((i) => i.H))
  const W = images.reduce((s, i) => s + i.W, 0) + gap * (images.length - 1)
  const levels = new Uint8Array(H * W).fill(255)
  let x0 = 0
  for (const img of images) {
    const {levels: l} = toGreyLevels(img, scaling)
    for (let r = 0; r < img.H; r++) levels.set(l.subarray(r * img.W, (r + 1) * img.W), r * W + x0)
    x0 += img.W + gap
  }
  await writeFileAtomic(file, encodeGreyPng(levels, H, W))
}

/** Decode a PNG to 8-bit grey levels (the red channel of whatever pngjs decodes). */
export async function readGreyPng(file: string): Promise<{levels: Uint8Array; H: number; W: number}> {
  const png = PNG.sync.read(await readFile(file))
  const levels = new Uint8Array(png.width * png.height)
  for (let i = 0; i < levels.length; i++) levels[i] = png.data[4 * i]
  return {levels, H: png.height, W: png.width}
}
