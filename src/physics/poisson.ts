/**
 * Seeded Poisson sampling, exact in distribution for every mean:
 * - lambda < 10: inversion by sequential search (one uniform per sample; exact up to float64 rounding);
 * - lambda >= 10: PTRS, the transformed rejection method with squeeze of W. Hörmann, "The transformed
 *   rejection method for generating Poisson random variables", Insurance: Mathematics and Economics 12
 *   (1993) 39-45. It is an exact rejection sampler (the same algorithm numpy's Generator.poisson uses for
 *   lam >= 10), not a normal approximation.
 * The uniforms come from the project's seeded PRNG (src/util/random.ts), so a seed fixes every sample.
 */
import type {Rng} from '../util/random.js'

/** below this mean, inversion; at or above, PTRS */
export const PTRS_THRESHOLD = 10

const LOG_FACTORIAL_TABLE_SIZE = 256
const logFactorialTable = (() => {
  const t = new Float64Array(LOG_FACTORIAL_TABLE_SIZE)
  for (let k = 1; k < LOG_FACTORIAL_TABLE_SIZE; k++) t[k] = t[k - 1] + Math.log(k)
  return t
})()

/** log(k!) for integer k >= 0: a table below 256, Stirling's series above (relative error < 1e-16). */
export function logFactorial(k: number): number {
  if (k < LOG_FACTORIAL_TABLE_SIZE) return logFactorialTable[k]
  const n = k
  const inv = 1 / n
  const inv2 = inv * inv
  return (
    n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
  )
}

function sampleInversion(rng: Rng, lambda: number): number {
  const u = rng.next()
  // squeeze: exp(-lambda) >= 1 - lambda, so u <= 1 - lambda already means k = 0 (same result, no exp)
  if (u <= 1 - lambda) return 0
  let k = 0
  let p = Math.exp(-lambda)
  let cdf = p
  // the bound only matters if rounding leaves cdf < u at the far tail (probability < 1e-15 for lambda < 10)
  while (u > cdf && k < 1000) {
    k++
    p *= lambda / k
    cdf += p
  }
  return k
}

function samplePtrs(rng: Rng, lambda: number): number {
  const slam = Math.sqrt(lambda)
  const b = 0.931 + 2.53 * slam
  const a = -0.059 + 0.02483 * b
  const vr = 0.9277 - 3.6224 / (b - 2)
  for (;;) {
    const u = rng.next() - 0.5
    const v = rng.next()
    const us = 0.5 - Math.abs(u)
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43)
    // quick acceptance (most draws): no logarithms needed
    if (us >= 0.07 && v <= vr) return k
    if (k < 0 || (us < 0.013 && v > us)) continue
    const invAlpha = 1.1239 + 1.1328 / (b - 3.4)
    if (Math.log((v * invAlpha) / (a / (us * us) + b)) <= -lambda + k * Math.log(lambda) - logFactorial(k)) {
      return k
    }
  }
}

/** One Poisson(lambda) sample. lambda must be finite and >= 0 (0 gives 0). */
export function samplePoisson(rng: Rng, lambda: number): number {
  if (lambda < PTRS_THRESHOLD) {
    if (lambda > 0) return sampleInversion(rng, lambda)
    if (lambda === 0) return 0
  } else if (lambda < Infinity) {
    return samplePtrs(rng, lambda)
  }
  throw new RangeError(`Poisson mean must be finite and >= 0, got ${lambda}`)
}

/** Fill `out` with independent Poisson samples of the means in `lambdas` (same length). */
export function samplePoissonArray(rng: Rng, lambdas: ArrayLike<number>, out: Float64Array | Float32Array): void {
  for (let i = 0; i < lambdas.length; i++) out[i] = samplePoisson(rng, lambdas[i])
}
