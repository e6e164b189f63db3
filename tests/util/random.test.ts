import {execFileSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'

import {createRng} from '../../src/util/random.js'

// Independent reference: xoshiro128** seeded by splitmix32, written in plain Python from the published algorithm.
const PY_REFERENCE = `
import sys
M = 0xFFFFFFFF
def splitmix32(st):
    st[0] = (st[0] + 0x9e3779b9) & M
    z = st[0]
    z = ((z ^ (z >> 16)) * 0x85ebca6b) & M
    z = ((z ^ (z >> 13)) * 0xc2b2ae35) & M
    return (z ^ (z >> 16)) & M
def rotl(x, k): return ((x << k) | (x >> (32 - k))) & M
seed = int(sys.argv[1]); n = int(sys.argv[2])
st = [seed & M]
s = [splitmix32(st) for _ in range(4)]
out = []
for _ in range(n):
    r = (rotl((s[1] * 5) & M, 7) * 9) & M
    t = (s[1] << 9) & M
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11)
    out.append(r)
print(" ".join(map(str, out)))
`

function hasPython(): boolean {
  try {
    execFileSync('python3', ['-c', 'pass'])
    return true
  } catch {
    return false
  }
}
const python = hasPython()
if (!python) console.warn('python3 not found: skipping the xoshiro128** reference comparison')

describe('createRng (xoshiro128** seeded by splitmix32)', () => {
  it.skipIf(!python)('matches an independent Python implementation bit for bit', () => {
    for (const seed of [0, 1, 42, 123456789, 4294967295]) {
      const ref = execFileSync('python3', ['-c', PY_REFERENCE, String(seed), '20']).toString().trim().split(' ').map(Number)
      const rng = createRng(seed)
      expect(Array.from({length: 20}, () => rng.nextUint32())).toEqual(ref)
    }
  })

  it('is deterministic per seed and differs between seeds', () => {
    const a = createRng(7)
    const b = createRng(7)
    const c = createRng(8)
    const sa = Array.from({length: 100}, () => a.next())
    expect(Array.from({length: 100}, () => b.next())).toEqual(sa)
    expect(Array.from({length: 100}, () => c.next())).not.toEqual(sa)
    expect(a.seed).toBe(7)
  })

  it('next() lies in [0, 1) with mean 1/2 and variance 1/12 (n=200k, 5 sigma tolerance)', () => {
    const rng = createRng(42)
    const n = 200_000
    let sum = 0
    let sum2 = 0
    for (let i = 0; i < n; i++) {
      const x = rng.next()
      if (!(x >= 0 && x < 1)) throw new Error(`out of range: ${x}`)
      sum += x
      sum2 += x * x
    }
    const mean = sum / n
    const variance = sum2 / n - mean * mean
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n))
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002)
  })

  it('nextInt(n) is uniform over [0, n): chi-square below the 99.9% quantile', () => {
    const rng = createRng(3)
    const k = 10
    const counts = new Array(k).fill(0)
    const n = 100_000
    for (let i = 0; i < n; i++) counts[rng.nextInt(k)]++
    const expected = n / k
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(27.88) // chi-square 9 dof, p = 0.001
    expect(() => rng.nextInt(0)).toThrow(RangeError)
    expect(() => rng.nextInt(2.5)).toThrow(RangeError)
  })

  it('normal() has mean 0 and variance 1 (n=200k, tolerance 0.01 / 0.02)', () => {
    const rng = createRng(11)
    const n = 200_000
    let sum = 0
    let sum2 = 0
    for (let i = 0; i < n; i++) {
      const x = rng.normal()
      sum += x
      sum2 += x * x
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.01)
    expect(Math.abs(sum2 / n - 1)).toBeLessThan(0.02)
  })

  it('fork() gives a deterministic child stream independent of the parent', () => {
    const p1 = createRng(5)
    const p2 = createRng(5)
    const c1 = p1.fork()
    const c2 = p2.fork()
    const s1 = Array.from({length: 10}, () => c1.nextUint32())
    expect(Array.from({length: 10}, () => c2.nextUint32())).toEqual(s1)
    expect(Array.from({length: 10}, () => p1.nextUint32())).not.toEqual(s1)
  })

  it('rejects a non-finite seed', () => {
    expect(() => createRng(Number.NaN)).toThrow(RangeError)
  })
})

import {deriveSeed} from '../../src/util/random.js'

describe('deriveSeed', () => {
  it('depends on the base seed and the label only, and spreads nearby inputs', () => {
    expect(deriveSeed(123, 'dose_1000/dense/gs2')).toBe(deriveSeed(123, 'dose_1000/dense/gs2'))
    const seeds = new Set<number>()
    for (const base of [0, 1, 2, 123]) {
      for (const label of ['dose_1000/baseline/gs1', 'dose_1000/dense/gs2', 'dose_10000/dense/gs2']) {
        const s = deriveSeed(base, label)
        expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true)
        seeds.add(s)
      }
    }
    expect(seeds.size).toBe(12)
  })
})
