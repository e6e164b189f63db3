import {describe, expect, it} from 'vitest'

import {logFactorial, PTRS_THRESHOLD, samplePoisson} from '../../src/physics/poisson.js'
import {createRng} from '../../src/util/random.js'
import {hasScipy, noteSkip, runPython} from '../metrics/python.js'

function draw(lambda: number, count: number, seed: number): Float64Array {
  const rng = createRng(seed)
  const out = new Float64Array(count)
  for (let i = 0; i < count; i++) out[i] = samplePoisson(rng, lambda)
  return out
}

function moments(a: Float64Array): {mean: number; variance: number} {
  let mean = 0
  for (const v of a) mean += v
  mean /= a.length
  let s = 0
  for (const v of a) s += (v - mean) ** 2
  return {mean, variance: s / (a.length - 1)}
}

/** exact Poisson pmf */
function pmf(k: number, lambda: number): number {
  return Math.exp(-lambda + k * Math.log(lambda) - logFactorial(k))
}

/** Pearson chi-square of samples against the exact pmf, bins merged so each expects >= 5 */
function chiSquare(samples: Float64Array, lambda: number): {stat: number; dof: number} {
  const n = samples.length
  const counts = new Map<number, number>()
  for (const v of samples) counts.set(v, (counts.get(v) ?? 0) + 1)
  const lo = Math.max(0, Math.floor(lambda - 8 * Math.sqrt(lambda) - 5))
  const hi = Math.ceil(lambda + 8 * Math.sqrt(lambda) + 10)
  const bins: {obs: number; exp: number}[] = []
  let obs = 0
  let exp = 0
  let cdfBelow = 0
  for (let k = 0; k < lo; k++) cdfBelow += pmf(k, lambda)
  let below = 0
  for (const [k, c] of counts) if (k < lo) below += c
  obs = below
  exp = cdfBelow * n
  let total = cdfBelow
  for (let k = lo; k <= hi; k++) {
    obs += counts.get(k) ?? 0
    const p = pmf(k, lambda)
    exp += p * n
    total += p
    if (exp >= 5) {
      bins.push({obs, exp})
      obs = 0
      exp = 0
    }
  }
  let above = 0
  for (const [k, c] of counts) if (k > hi) above += c
  obs += above
  exp += Math.max(0, 1 - total) * n
  if (bins.length > 0) {
    bins[bins.length - 1].obs += obs
    bins[bins.length - 1].exp += exp
  }
  let stat = 0
  for (const b of bins) stat += (b.obs - b.exp) ** 2 / b.exp
  return {stat, dof: bins.length - 1}
}

describe('samplePoisson', () => {
  const lambdas = [0.05, 0.7, 3, 9.9, PTRS_THRESHOLD, 17.5, 250, 1e4, 1e6]
  it.each(lambdas)('lambda=%f: sample mean and variance equal lambda within 5 standard errors', (lambda) => {
    const n = 200_000
    const {mean, variance} = moments(draw(lambda, n, 1234 + Math.round(lambda)))
    // standard error of the mean: sqrt(lambda/n); of the sample variance: sqrt((lambda + 2 lambda^2)/n)
    expect(Math.abs(mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n))
    expect(Math.abs(variance - lambda)).toBeLessThan(5 * Math.sqrt((lambda + 2 * lambda * lambda) / n))
  })

  it.each([0.3, 4, 12, 60, 900])('lambda=%f: chi-square against the exact pmf is below the 0.9999 quantile', (lambda) => {
    const {stat, dof} = chiSquare(draw(lambda, 100_000, 99), lambda)
    // Wilson-Hilferty approximation of the chi-square 0.9999 quantile (z = 3.719)
    const z = 3.719
    const q = dof * (1 - 2 / (9 * dof) + z * Math.sqrt(2 / (9 * dof))) ** 3
    expect(stat).toBeLessThan(q)
  })

  it.skipIf(!hasScipy)('passes a chi-square test against scipy.stats.poisson (p > 1e-4) at small and large means', () => {
    const lambdas = [0.8, 6, 30, 5000]
    const arrays: Record<string, Float64Array> = {}
    lambdas.forEach((lambda, i) => (arrays[`s${i}`] = draw(lambda, 100_000, 7)))
    const pvalues = runPython<number[]>(
      `from scipy import stats
res = []
for i, lam in enumerate(${JSON.stringify(lambdas)}):
    s = arr(f's{i}').astype(np.int64)
    lo, hi = int(stats.poisson.ppf(1e-6, lam)), int(stats.poisson.ppf(1 - 1e-6, lam))
    ks = np.arange(lo + 1, hi)
    counts = np.bincount(np.clip(s, lo, hi) - lo, minlength=hi - lo + 1).astype(float)
    obs = counts  # bin 0: s <= lo, last bin: s >= hi
    exp = np.concatenate([[stats.poisson.cdf(lo, lam)], stats.poisson.pmf(ks, lam), [stats.poisson.sf(hi - 1, lam)]]) * len(s)
    # merge bins so every expected count is >= 5
    o2, e2, ao, ae = [], [], 0.0, 0.0
    for o, e in zip(obs, exp):
        ao += o; ae += e
        if ae >= 5: o2.append(ao); e2.append(ae); ao = ae = 0.0
    o2[-1] += ao; e2[-1] += ae
    e2 = np.array(e2) * (np.sum(o2) / np.sum(e2))
    res.append(float(stats.chisquare(o2, e2).pvalue))
out(res)`,
      arrays,
    )
    for (const p of pvalues) expect(p).toBeGreaterThan(1e-4)
  })
  if (!hasScipy) noteSkip('Poisson sampler vs scipy.stats.poisson', 'numpy and scipy')

  it('is reproducible from its seed and different across seeds', () => {
    expect(Array.from(draw(40, 1000, 5))).toEqual(Array.from(draw(40, 1000, 5)))
    expect(Array.from(draw(40, 1000, 5))).not.toEqual(Array.from(draw(40, 1000, 6)))
  })

  it('gives 0 for a zero mean and rejects negative or non-finite means', () => {
    const rng = createRng(1)
    expect(samplePoisson(rng, 0)).toBe(0)
    expect(() => samplePoisson(rng, -1)).toThrow(/finite and >= 0/)
    expect(() => samplePoisson(rng, Number.NaN)).toThrow(/finite and >= 0/)
    expect(() => samplePoisson(rng, Infinity)).toThrow(/finite and >= 0/)
  })

  it('logFactorial agrees with the summed logarithms on both sides of the table edge (rel 1e-14)', () => {
    let s = 0
    for (let k = 1; k <= 2000; k++) {
      s += Math.log(k)
      if (k % 97 === 0 || k === 255 || k === 256 || k === 257) {
        expect(Math.abs(logFactorial(k) - s) / s).toBeLessThan(1e-13)
      }
    }
  })
})
