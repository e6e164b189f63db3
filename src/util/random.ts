/**
 * Seeded pseudo-random numbers for every random step of the study (simulation coordinates, Poisson noise,
 * grouping, shuffling, weight init). Deterministic: the same seed gives the same sequence on every platform.
 *
 * Generator: xoshiro128** (Blackman & Vigna, 2018), 32-bit state words, seeded through splitmix32 so that
 * nearby seeds (0, 1, 2, ...) give unrelated streams. Period 2^128 - 1.
 */

export interface Rng {
  /** the seed this generator was created from (record it in manifests) */
  readonly seed: number
  /** uniform float in [0, 1) with 32 bits of randomness */
  next(): number
  /** uniform 32-bit unsigned integer */
  nextUint32(): number
  /** uniform integer in [0, n), unbiased (rejection sampling); n must be a positive integer <= 2^32 */
  nextInt(n: number): number
  /** standard normal sample (Box-Muller; the second value of each pair is cached) */
  normal(): number
  /** an independent child generator, deterministic from this one's state (for per-job or per-worker streams) */
  fork(): Rng
}

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit counter (used only for seeding). */
function splitmix32(state: {s: number}): number {
  state.s = (state.s + 0x9e3779b9) | 0
  let z = state.s
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0
}

/**
 * Create a deterministic generator from a seed. Any finite number is accepted; it is reduced to a 32-bit
 * integer (non-integers and values beyond 2^32 are folded in deterministically).
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`)
  const hi = Math.floor(seed / 2 ** 32)
  const lo = seed - hi * 2 ** 32
  const init = {s: ((lo >>> 0) ^ Math.imul(hi | 0, 0x27d4eb2d)) | 0}
  const s = new Uint32Array(4)
  for (let i = 0; i < 4; i++) s[i] = splitmix32(init)
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1
  return fromState(seed, s)
}

function fromState(seed: number, s: Uint32Array): Rng {
  let spare: number | undefined

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0
    const t = (s[1] << 9) >>> 0
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 11)
    return result
  }

  const next = (): number => nextUint32() / 4294967296

  const nextInt = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(`nextInt(n) needs a positive integer n <= 2^32, got ${n}`)
    }
    // Lemire-free simple rejection: accept values below the largest multiple of n
    const limit = 4294967296 - (4294967296 % n)
    for (;;) {
      const x = nextUint32()
      if (x < limit) return x % n
    }
  }

  const normal = (): number => {
    if (spare !== undefined) {
      const v = spare
      spare = undefined
      return v
    }
    let u = 0
    while (u === 0) u = next()
    const v = next()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  const fork = (): Rng => {
    const child = new Uint32Array(4)
    const init = {s: nextUint32() | 0}
    for (let i = 0; i < 4; i++) child[i] = splitmix32(init) ^ nextUint32()
    if ((child[0] | child[1] | child[2] | child[3]) === 0) child[0] = 1
    return fromState(seed, child)
  }

  return {seed, next, nextUint32, nextInt, normal, fork}
}

/**
 * A 32-bit seed derived from a base seed and a label (e.g. a job's key 'dose_1000/dense/gs2'), so that a job's
 * seed depends only on the base seed and the job itself, not on which other jobs run or in what order.
 * FNV-1a over the label, mixed with the base seed through splitmix32.
 */
export function deriveSeed(base: number, label: string): number {
  if (!Number.isFinite(base)) throw new RangeError(`seed must be a finite number, got ${base}`)
  let h = 0x811c9dc5
  const bytes = new TextEncoder().encode(label)
  for (const b of bytes) {
    h ^= b
    h = Math.imul(h, 0x01000193)
  }
  const state = {s: (h ^ (Math.trunc(base) >>> 0)) | 0}
  splitmix32(state)
  return splitmix32(state)
}
