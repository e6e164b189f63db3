/**
 * A built-in synthetic specimen, deterministic from a seed, so the study runs with no external data.
 *
 * It is made like a thin specimen: a "thickness" map with structure at many scales (Gaussian-filtered noise at
 * sigma 32, 12, 5, 2 and 0.8 px) plus hard-edged features (discs, rotated rectangles, thin lines), and a second,
 * independent map so that amplitude and phase are correlated but not identical. Amplitude lies in [0.5, 1] and
 * phase in [-0.45 pi, 0.45 pi] (no wrapping).
 */
import {createRng, type Rng} from '../util/random.js'
import {type ComplexImage, complexImage} from './complex-image.js'

export const OBJECT_AMPLITUDE_RANGE = [0.5, 1] as const
export const OBJECT_PHASE_LIMIT = 0.45 * Math.PI

const SCALES: ReadonlyArray<{sigma: number; weight: number}> = [
  {sigma: 32, weight: 1},
  {sigma: 12, weight: 0.7},
  {sigma: 5, weight: 0.5},
  {sigma: 2, weight: 0.25},
  {sigma: 0.8, weight: 0.1},
]

function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.max(1, Math.ceil(3 * sigma))
  const k = new Float64Array(2 * radius + 1)
  let sum = 0
  for (let i = -radius; i <= radius; i++) {
    k[i + radius] = Math.exp((-0.5 * i * i) / (sigma * sigma))
    sum += k[i + radius]
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum
  return k
}

/** reflect index into [0, n) (scipy's 'reflect' mode: d c b a | a b c d | d c b a) */
function reflect(i: number, n: number): number {
  const period = 2 * n
  let j = ((i % period) + period) % period
  if (j >= n) j = period - 1 - j
  return j
}

/** Separable Gaussian filter with reflected borders. */
export function gaussianFilter(src: Float64Array, height: number, width: number, sigma: number): Float64Array {
  const k = gaussianKernel(sigma)
  const r = (k.length - 1) / 2
  const tmp = new Float64Array(height * width)
  const out = new Float64Array(height * width)
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let x = 0; x < width; x++) {
      let s = 0
      if (x >= r && x < width - r) {
        for (let t = -r, base = row + x - r; t <= r; t++) s += k[t + r] * src[base + t + r]
      } else {
        for (let t = -r; t <= r; t++) s += k[t + r] * src[row + reflect(x + t, width)]
      }
      tmp[row + x] = s
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0
      if (y >= r && y < height - r) {
        for (let t = -r; t <= r; t++) s += k[t + r] * tmp[(y + t) * width + x]
      } else {
        for (let t = -r; t <= r; t++) s += k[t + r] * tmp[reflect(y + t, height) * width + x]
      }
      out[y * width + x] = s
    }
  }
  return out
}

function standardize(a: Float64Array): Float64Array {
  let mean = 0
  for (const v of a) mean += v
  mean /= a.length
  let varSum = 0
  for (const v of a) varSum += (v - mean) ** 2
  const sd = Math.sqrt(varSum / a.length) || 1
  for (let i = 0; i < a.length; i++) a[i] = (a[i] - mean) / sd
  return a
}

function multiscaleField(rng: Rng, height: number, width: number): Float64Array {
  const field = new Float64Array(height * width)
  const noise = new Float64Array(height * width)
  for (const {sigma, weight} of SCALES) {
    for (let i = 0; i < noise.length; i++) noise[i] = rng.normal()
    const smooth = standardize(gaussianFilter(noise, height, width, sigma))
    for (let i = 0; i < field.length; i++) field[i] += weight * smooth[i]
  }
  return field
}

/** Hard-edged features (value +-1 inside), lightly anti-aliased by a 0.7 px Gaussian. */
function featureField(rng: Rng, height: number, width: number): Float64Array {
  const f = new Float64Array(height * width)
  const area = height * width
  const nDiscs = Math.max(3, Math.round(area / 6000))
  const nRects = Math.max(2, Math.round(area / 9000))
  const nLines = Math.max(2, Math.round(area / 8000))
  const sign = (): number => (rng.next() < 0.5 ? -1 : 1)
  for (let i = 0; i < nDiscs; i++) {
    const cx = rng.next() * width
    const cy = rng.next() * height
    const rad = 3 + rng.next() * Math.min(28, Math.min(height, width) / 8)
    const v = sign() * (0.6 + 0.6 * rng.next())
    const y0 = Math.max(0, Math.floor(cy - rad))
    const y1 = Math.min(height - 1, Math.ceil(cy + rad))
    const x0 = Math.max(0, Math.floor(cx - rad))
    const x1 = Math.min(width - 1, Math.ceil(cx + rad))
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= rad * rad) f[y * width + x] += v
  }
  for (let i = 0; i < nRects; i++) {
    const cx = rng.next() * width
    const cy = rng.next() * height
    const hw = 4 + rng.next() * 24
    const hh = 2 + rng.next() * 10
    const th = rng.next() * Math.PI
    const c = Math.cos(th)
    const s = Math.sin(th)
    const v = sign() * (0.6 + 0.6 * rng.next())
    const reach = Math.hypot(hw, hh)
    for (let y = Math.max(0, Math.floor(cy - reach)); y <= Math.min(height - 1, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x <= Math.min(width - 1, Math.ceil(cx + reach)); x++) {
        const u = (x - cx) * c + (y - cy) * s
        const w = -(x - cx) * s + (y - cy) * c
        if (Math.abs(u) <= hw && Math.abs(w) <= hh) f[y * width + x] += v
      }
    }
  }
  for (let i = 0; i < nLines; i++) {
    const x0 = rng.next() * width
    const y0 = rng.next() * height
    const len = 20 + rng.next() * 100
    const th = rng.next() * 2 * Math.PI
    const half = 0.5 + rng.next()
    const v = sign() * (0.5 + 0.5 * rng.next())
    const steps = Math.ceil(len * 2)
    for (let t = 0; t <= steps; t++) {
      const px = x0 + (Math.cos(th) * len * t) / steps
      const py = y0 + (Math.sin(th) * len * t) / steps
      for (let y = Math.floor(py - half); y <= Math.ceil(py + half); y++) {
        for (let x = Math.floor(px - half); x <= Math.ceil(px + half); x++) {
          if (x < 0 || y < 0 || x >= width || y >= height) continue
          if ((x - px) ** 2 + (y - py) ** 2 <= half * half) f[y * width + x] = v
        }
      }
    }
  }
  return gaussianFilter(f, height, width, 0.7)
}

function rescale(a: Float64Array, lo: number, hi: number): Float64Array {
  let min = Infinity
  let max = -Infinity
  for (const v of a) {
    if (v < min) min = v
    if (v > max) max = v
  }
  const span = max - min || 1
  const out = new Float64Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = lo + ((a[i] - min) / span) * (hi - lo)
  return out
}

/** The synthetic complex object, height x width, deterministic from `seed`. */
export function syntheticObject(height: number, width: number, seed: number): ComplexImage {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 8 || width < 8) {
    throw new RangeError(`object size must be integers >= 8, got ${height}x${width}`)
  }
  const rng = createRng(seed)
  const thickness = multiscaleField(rng, height, width)
  const features = featureField(rng, height, width)
  const ampOnly = multiscaleField(rng, height, width)
  const phaseOnly = multiscaleField(rng, height, width)
  const n = height * width
  const common = new Float64Array(n)
  for (let i = 0; i < n; i++) common[i] = thickness[i] + 3 * features[i]
  const a = new Float64Array(n)
  const p = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    a[i] = -(common[i] + 0.6 * ampOnly[i]) // thicker -> more absorption
    p[i] = common[i] + 0.6 * phaseOnly[i]
  }
  const amp = rescale(a, OBJECT_AMPLITUDE_RANGE[0], OBJECT_AMPLITUDE_RANGE[1])
  const phase = rescale(p, -OBJECT_PHASE_LIMIT, OBJECT_PHASE_LIMIT)
  const img = complexImage(height, width)
  for (let i = 0; i < n; i++) {
    img.data[2 * i] = amp[i] * Math.cos(phase[i])
    img.data[2 * i + 1] = amp[i] * Math.sin(phase[i])
  }
  return img
}
