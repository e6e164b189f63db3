/**
 * The far-field forward model and photon noise of the simulation (spec 4.3, ptycho/diffsim.py):
 *   s = sqrt(nphotons / mean_b sum_xy |Y_b P|^2)                     (intensity scale, over the whole scan)
 *   A_b = sqrt(fftshift(|FFT2(s Y_b P)|^2 / N^2))                       (so sum A_b^2 = sum |s Y_b P|^2, Parseval)
 *   A_obs = sqrt(Poisson(A_b^2))                                        (seeded, exact sampler)
 *   X_b = A_obs / s                                                     (stored, normalised amplitude, float32)
 * The expected photon count per pattern, averaged over the scan, is therefore nphotons.
 *
 * Noise seeding: pattern b draws from its own generator, seeded with deriveSeed(seed, 'pattern_<b>'), so the
 * result is bit-identical however the patterns are split between threads (see diffraction-pool.ts).
 */
import {createRng, deriveSeed} from '../util/random.js'
import {Fft2} from './fft2.js'
import {samplePoisson} from './poisson.js'

export interface DiffractionOptions {
  /** false: the noiseless amplitude A_b / s (for tests and references); default true */
  poisson?: boolean
}

export interface DiffractionResult {
  /** normalised amplitudes X (n, N, N) float32 */
  diffraction: Float32Array
  /** s */
  intensityScale: number
  /** photons counted in each pattern (sum of the Poisson draws; the expected sum when poisson is false) */
  photonsPerPattern: Float64Array
}

/** The seed of pattern b's noise generator. */
export function patternSeed(seed: number, b: number): number {
  return deriveSeed(seed, `pattern_${b}`)
}

/** mean over patterns of sum_xy |Y_b P|^2, with Y given as interleaved complex (n, N, N). */
export function meanIlluminatedEnergy(patches: ArrayLike<number>, probe: ArrayLike<number>, count: number, n: number): number {
  const nn = n * n
  const p2 = new Float64Array(nn)
  for (let i = 0; i < nn; i++) p2[i] = probe[2 * i] ** 2 + probe[2 * i + 1] ** 2
  let total = 0
  for (let b = 0; b < count; b++) {
    const base = 2 * b * nn
    let e = 0
    for (let i = 0; i < nn; i++) {
      const yr = patches[base + 2 * i]
      const yi = patches[base + 2 * i + 1]
      e += (yr * yr + yi * yi) * p2[i]
    }
    total += e
  }
  return total / count
}

/** s = sqrt(nphotons / mean_b sum |Y_b P|^2) */
export function intensityScaleFor(nphotons: number, patches: ArrayLike<number>, probe: ArrayLike<number>, count: number, n: number): number {
  const energy = meanIlluminatedEnergy(patches, probe, count, n)
  if (!(energy > 0)) throw new RangeError('the illuminated object has zero energy: probe or object is all zeros')
  return Math.sqrt(nphotons / energy)
}

/** What one slice of the work needs (plain data, so it can be posted to a worker thread). */
export interface PatternJob {
  /** interleaved complex patches (count, N, N) */
  patches: Float32Array | Float64Array
  /** s * probe, interleaved complex (N, N) */
  scaledProbe: Float64Array
  n: number
  intensityScale: number
  seed: number
  poisson: boolean
  /** outputs, (count, N, N) and (count) */
  diffraction: Float32Array
  photons: Float64Array
}

/** Simulate patterns [first, last) of a job in this thread. */
export function simulatePatterns(job: PatternJob, first: number, last: number): void {
  const {patches, scaledProbe: sp, n, intensityScale: s, seed, poisson, diffraction, photons} = job
  const nn = n * n
  const fft = new Fft2(n)
  const exit = new Float64Array(2 * nn)
  const intensity = new Float64Array(nn)
  const invNN = 1 / nn
  const invS = 1 / s
  for (let b = first; b < last; b++) {
    const base = 2 * b * nn
    for (let i = 0; i < nn; i++) {
      const pr = sp[2 * i]
      const pi = sp[2 * i + 1]
      const yr = patches[base + 2 * i]
      const yi = patches[base + 2 * i + 1]
      exit[2 * i] = yr * pr - yi * pi
      exit[2 * i + 1] = yr * pi + yi * pr
    }
    fft.shiftedPower(exit, intensity, invNN)
    const out = b * nn
    let total = 0
    if (poisson) {
      const rng = createRng(patternSeed(seed, b))
      for (let i = 0; i < nn; i++) {
        const k = samplePoisson(rng, intensity[i])
        total += k
        diffraction[out + i] = Math.sqrt(k) * invS
      }
    } else {
      for (let i = 0; i < nn; i++) {
        total += intensity[i]
        diffraction[out + i] = Math.sqrt(intensity[i]) * invS
      }
    }
    photons[b] = total
  }
}

/** Validate inputs, compute s and allocate the outputs (on SharedArrayBuffers when `shared`). */
export function prepareDiffraction(
  patches: Float32Array | Float64Array,
  probe: ArrayLike<number>,
  count: number,
  n: number,
  nphotons: number,
  seed: number,
  options: DiffractionOptions & {shared?: boolean} = {},
): PatternJob {
  if (!(nphotons > 0) || !Number.isFinite(nphotons)) throw new RangeError(`nphotons must be a positive number, got ${nphotons}`)
  const nn = n * n
  if (patches.length !== 2 * count * nn) throw new RangeError(`patches need ${2 * count * nn} values, got ${patches.length}`)
  if (probe.length !== 2 * nn) throw new RangeError(`probe needs ${2 * nn} values (N=${n}), got ${probe.length}`)
  const s = intensityScaleFor(nphotons, patches, probe, count, n)
  const scaledProbe = new Float64Array(2 * nn)
  for (let i = 0; i < 2 * nn; i++) scaledProbe[i] = s * probe[i]
  const Buf = options.shared ? SharedArrayBuffer : ArrayBuffer
  return {
    patches,
    scaledProbe,
    n,
    intensityScale: s,
    seed,
    poisson: options.poisson ?? true,
    diffraction: new Float32Array(new Buf(4 * count * nn)),
    photons: new Float64Array(new Buf(8 * count)),
  }
}

/**
 * Simulate the diffraction of `count` patches (interleaved complex (count, N, N)) under `probe` (interleaved
 * complex (N, N)) at `nphotons` expected photons per pattern, in this thread. `seed` fixes the Poisson noise.
 */
export function simulateDiffraction(
  patches: Float32Array | Float64Array,
  probe: ArrayLike<number>,
  count: number,
  n: number,
  nphotons: number,
  seed: number,
  options: DiffractionOptions = {},
): DiffractionResult {
  const job = prepareDiffraction(patches, probe, count, n, nphotons, seed, options)
  simulatePatterns(job, 0, count)
  return {diffraction: job.diffraction, intensityScale: job.intensityScale, photonsPerPattern: job.photons}
}
