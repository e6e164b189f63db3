/** Shared helpers of the model tests: numpy via python3, tfjs backend setup, synthetic ptychography data. */
import {execFileSync, spawnSync} from 'node:child_process'
import {Fft2} from '../../src/physics/fft2.js'
import {createRng} from '../../src/util/random.js'

export const hasNumpy = spawnSync('python3', ['-c', 'import numpy, scipy'], {stdio: 'ignore'}).status === 0
if (!hasNumpy) console.log('[tests/model] python3 with numpy/scipy not found: numpy reference checks are skipped')

/** Run python3 with a JSON payload on stdin; the script prints JSON. */
export function py<T = unknown>(script: string, payload: unknown): T {
  const out = execFileSync('python3', ['-c', script], {input: JSON.stringify(payload), maxBuffer: 256 * 1024 * 1024})
  return JSON.parse(out.toString()) as T
}

/** Gaussian-smoothed uniform noise, normalised to [0, 1] (plain JS, separable box-blur passes). */
export function smoothField(H: number, W: number, seed: number, passes = 4, radius = 4): Float64Array {
  const rng = createRng(seed)
  let a = new Float64Array(H * W).map(() => rng.next())
  for (let p = 0; p < passes; p++) {
    const b = new Float64Array(H * W)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let s = 0
        let n = 0
        for (let d = -radius; d <= radius; d++) {
          const xx = x + d
          if (xx >= 0 && xx < W) {
            s += a[y * W + xx]
            n++
          }
        }
        b[y * W + x] = s / n
      }
    const c = new Float64Array(H * W)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let s = 0
        let n = 0
        for (let d = -radius; d <= radius; d++) {
          const yy = y + d
          if (yy >= 0 && yy < H) {
            s += b[yy * W + x]
            n++
          }
        }
        c[y * W + x] = s / n
      }
    a = c
  }
  let lo = Infinity
  let hi = -Infinity
  for (const v of a) {
    lo = Math.min(lo, v)
    hi = Math.max(hi, v)
  }
  return a.map((v) => (v - lo) / (hi - lo || 1))
}

/** A Gaussian probe with a weak quadratic phase, interleaved complex (N, N). */
export function gaussianProbe(N: number, sigma = N / 7): Float32Array {
  const p = new Float32Array(2 * N * N)
  for (let y = 0; y < N; y++)
    for (let x = 0; x < N; x++) {
      const r2 = (y - N / 2) ** 2 + (x - N / 2) ** 2
      const a = Math.exp(-r2 / (2 * sigma * sigma))
      const ph = 0.3 * (r2 / (N * N))
      p[2 * (y * N + x)] = a * Math.cos(ph)
      p[2 * (y * N + x) + 1] = a * Math.sin(ph)
    }
  return p
}

export interface SyntheticScan {
  N: number
  n: number
  H: number
  W: number
  /** (n, N, N) diffraction amplitudes |fftshift(fft2(probe·patch))| / N */
  diffraction: Float32Array
  /** object, interleaved complex (H, W) */
  object: Float32Array
  probe: Float32Array
  xcoords: Float64Array
  ycoords: Float64Array
}

/** A smooth random object scanned at n integer positions, diffraction by the far-field forward model. */
export function syntheticScan(N: number, n: number, seed: number, H = 2 * N, W = 2 * N, probeSigma = N / 7): SyntheticScan {
  const amp = smoothField(H, W, seed)
  const ph = smoothField(H, W, seed + 1)
  const object = new Float32Array(2 * H * W)
  for (let i = 0; i < H * W; i++) {
    const a = 0.6 + 0.4 * amp[i]
    const p = 1.2 * (ph[i] - 0.5)
    object[2 * i] = a * Math.cos(p)
    object[2 * i + 1] = a * Math.sin(p)
  }
  const probe = gaussianProbe(N, probeSigma)
  const rng = createRng(seed + 2)
  const xcoords = new Float64Array(n)
  const ycoords = new Float64Array(n)
  const diffraction = new Float32Array(n * N * N)
  const fft = new Fft2(N)
  const psi = new Float64Array(2 * N * N)
  const power = new Float64Array(N * N)
  for (let k = 0; k < n; k++) {
    const cx = N / 2 + rng.nextInt(W - N)
    const cy = N / 2 + rng.nextInt(H - N)
    xcoords[k] = cx
    ycoords[k] = cy
    for (let y = 0; y < N; y++)
      for (let x = 0; x < N; x++) {
        const o = 2 * ((cy - N / 2 + y) * W + (cx - N / 2 + x))
        const q = 2 * (y * N + x)
        const pr = probe[q]
        const pi = probe[q + 1]
        psi[q] = pr * object[o] - pi * object[o + 1]
        psi[q + 1] = pr * object[o + 1] + pi * object[o]
      }
    fft.shiftedPower(psi, power, 1 / (N * N))
    for (let i = 0; i < N * N; i++) diffraction[k * N * N + i] = Math.sqrt(power[i])
  }
  return {N, n, H, W, diffraction, object, probe, xcoords, ycoords}
}

/** normalize_data (§13.4) for gs1 groups (one pattern each): X · sqrt((N/2)² / mean Σ X²). */
export function normalizedGs1(scan: SyntheticScan): Float32Array {
  const {N, n, diffraction} = scan
  let e = 0
  for (const v of diffraction) e += v * v
  const f = Math.sqrt(((N / 2) ** 2 * n) / e)
  return diffraction.map((v) => v * f)
}

export async function useBackend(name = 'wasm'): Promise<typeof import('@tensorflow/tfjs-core')> {
  const {ensureBackend} = await import('../../src/model/backend.js')
  await ensureBackend(name)
  return import('@tensorflow/tfjs-core')
}
