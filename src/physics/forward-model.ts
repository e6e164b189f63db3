/**
 * The far-field forward model and photon noise of the simulation (spec 4.3, ptycho/diffsim.py):
 *   s = sqrt(nphotons / mean_b sum_xy |Y_b P|^2)                     (intensity scale, over the whole scan)
 *   A_b = sqrt(fftshift(|FFT2(s Y_b P)|^2 / N^2))                       (so sum A_b^2 = sum |s Y_b P|^2, Parseval)
 *   A_obs = sqrt(Poisson(A_b^2))                                        (seeded, exact sampler)
 *   X_b = A_obs / s                                                     (stored, normalised amplitude, float32)
 * The expected photon count per pattern, averaged over the scan, is therefore nphotons.
 */
import type {Rng} from '../util/random.js'
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

/** mean over patterns of sum_xy |Y_b P|^2, with Y given as interleaved complex (n, N, N). */
export function meanIlluminatedEnergy(patches: ArrayLike<number>, probe: ArrayLike<number>, count: number, n: number): number {
  const nn = n * n
  let total = 0
  for (let b = 0; b < count; b++) {
    const base = 2 * b * nn
    let e = 0
    for (let i = 0; i < nn; i++) {
      const pr = probe[2 * i]
      const pi = probe[2 * i + 1]
      const yr = patches[base + 2 * i]
      const yi = patches[base + 2 * i + 1]
      e += (yr * yr + yi * yi) * (pr * pr + pi * pi)
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

/**
 * Simulate the diffraction of `count` patches (interleaved complex (count, N, N)) under `probe` (interleaved
 * complex (N, N)) at `nphotons` expected photons per pattern. `rng` drives the Poisson noise.
 */
export function simulateDiffraction(
  patches: ArrayLike<number>,
  probe: ArrayLike<number>,
  count: number,
  n: number,
  nphotons: number,
  rng: Rng,
  options: DiffractionOptions = {},
): DiffractionResult {
  if (!(nphotons > 0) || !Number.isFinite(nphotons)) throw new RangeError(`nphotons must be a positive number, got ${nphotons}`)
  const nn = n * n
  if (patches.length !== 2 * count * nn) throw new RangeError(`patches need ${2 * count * nn} values, got ${patches.length}`)
  if (probe.length !== 2 * nn) throw new RangeError(`probe needs ${2 * nn} values (N=${n}), got ${probe.length}`)
  const poisson = options.poisson ?? true
  const s = intensityScaleFor(nphotons, patches, probe, count, n)
  // s * P once, in float64 (one array type in the hot loop)
  const sp = new Float64Array(2 * nn)
  for (let i = 0; i < 2 * nn; i++) sp[i] = s * probe[i]
  const fft = new Fft2(n)
  const exit = new Float64Array(2 * nn)
  const intensity = new Float64Array(nn)
  const diffraction = new Float32Array(count * nn)
  const photonsPerPattern = new Float64Array(count)
  const invNN = 1 / nn
  const invS = 1 / s
  for (let b = 0; b < count; b++) {
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
    let photons = 0
    if (poisson) {
      for (let i = 0; i < nn; i++) {
        const k = samplePoisson(rng, intensity[i])
        photons += k
        diffraction[out + i] = Math.sqrt(k) * invS
      }
    } else {
      for (let i = 0; i < nn; i++) {
        photons += intensity[i]
        diffraction[out + i] = Math.sqrt(intensity[i]) * invS
      }
    }
    photonsPerPattern[b] = photons
  }
  return {diffraction, intensityScale: s, photonsPerPattern}
}
