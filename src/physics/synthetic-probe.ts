/**
 * A realistic focused-beam probe: the far field of a circular pupil (a Fresnel-zone-plate or KB focus) with a
 * defocus term and a little astigmatism, i.e. a defocused Airy pattern with rings, N x N, complex, centred at
 * (N/2, N/2). The geometry scales with N (the pupil radius is fixed in frequency pixels, as when a probe is
 * upsampled), so the beam covers the same fraction of the window at N = 64, 128 and 256: an intensity-weighted
 * RMS radius of about 0.2 N.
 *
 * Normalisation: peak amplitude 1 (max |P| = 1). The simulation's intensity scale s makes the absolute scale
 * irrelevant to the stored data; the model renormalises the probe itself (spec 13.3).
 */
import {type ComplexImage, complexImage} from './complex-image.js'
import {Fft2} from './fft2.js'

export interface ProbeOptions {
  /** pupil radius in frequency pixels (1/window units), the same at every N so the beam scales with N; default 5.76 */
  pupilRadiusPx?: number
  /** defocus phase at the pupil edge, radians; default 4.5 */
  defocusRadians?: number
  /** astigmatism phase at the pupil edge, radians; default 0.6 */
  astigmatismRadians?: number
}

export const PROBE_SIZES = [64, 128, 256] as const

export function syntheticProbe(n: number, options: ProbeOptions = {}): ComplexImage {
  if (!Number.isInteger(n) || n < 8 || (n & (n - 1)) !== 0) throw new RangeError(`probe size must be a power of two >= 8, got ${n}`)
  const rp = options.pupilRadiusPx ?? 5.76
  const defocus = options.defocusRadians ?? 4.5
  const astig = options.astigmatismRadians ?? 0.6
  // pupil in unshifted frequency order, so its inverse FFT is centred at pixel 0; conj trick: ifft(x) = conj(fft(conj x))/N^2
  const pupil = new Float64Array(2 * n * n)
  for (let k = 0; k < n; k++) {
    const fy = k < n / 2 ? k : k - n
    for (let l = 0; l < n; l++) {
      const fx = l < n / 2 ? l : l - n
      const rho2 = (fx * fx + fy * fy) / (rp * rp)
      if (rho2 > 1) continue
      const phi = defocus * rho2 + astig * ((fx * fx - fy * fy) / (rp * rp))
      const i = 2 * (k * n + l)
      pupil[i] = Math.cos(phi)
      pupil[i + 1] = -Math.sin(phi) // conjugated
    }
  }
  const field = new Float64Array(2 * n * n)
  new Fft2(n).forward(pupil, field)
  // conjugate back, shift the centre from (0, 0) to (N/2, N/2), normalise the peak amplitude to 1
  const probe = complexImage(n, n)
  const half = n / 2
  let peak = 0
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const src = 2 * (r * n + c)
      const dst = 2 * (((r + half) % n) * n + ((c + half) % n))
      probe.data[dst] = field[src]
      probe.data[dst + 1] = -field[src + 1]
      peak = Math.max(peak, Math.hypot(field[src], field[src + 1]))
    }
  }
  for (let i = 0; i < probe.data.length; i++) probe.data[i] /= peak
  return probe
}

/** Intensity-weighted RMS radius of |P|^2 about its centroid, in pixels (a beam size measure). */
export function probeRmsRadius(probe: ComplexImage): number {
  const {height, width, data} = probe
  let w = 0
  let cx = 0
  let cy = 0
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++) {
      const i = 2 * (r * width + c)
      const p = data[i] ** 2 + data[i + 1] ** 2
      w += p
      cx += p * c
      cy += p * r
    }
  cx /= w
  cy /= w
  let m2 = 0
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++) {
      const i = 2 * (r * width + c)
      m2 += (data[i] ** 2 + data[i + 1] ** 2) * ((c - cx) ** 2 + (r - cy) ** 2)
    }
  return Math.sqrt(m2 / w)
}
