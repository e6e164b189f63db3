/**
 * Grouping of scan positions for training and inference (spec §13.6, `RawData.generate_grouped_data`).
 *
 * - Exact K-nearest-neighbour search over 2-D scan positions (flatbush's packed R-tree, exact best-first kNN).
 * - `n_groups` seed positions sampled without replacement (all positions, in file order, when n_groups >= n).
 * - gridsize 1 (C = 1): the seeds are the groups.
 * - C > 1: each group is C positions drawn without replacement from the seed's K nearest neighbours,
 *   the seed itself excluded (with K = C = 4 a group is exactly the seed's 4 nearest neighbours).
 * - OVERSAMPLING-001: more groups than positions with C > 1 needs `enableOversampling` and K >= C; the groups
 *   are then drawn from all K-choose-C combinations of the neighbourhoods of 2x the needed seeds.
 *
 * Every random step uses the seeded generator of src/util/random.ts.
 */
import Flatbush from 'flatbush'

import {UsageError} from '../errors.js'
import {createRng, type Rng} from '../util/random.js'

export interface GroupingOptions {
  /** gridsize; a group holds C = gridsize² positions */
  gridsize: number
  /** number of groups wanted (n_groups / nsamples) */
  nGroups: number
  /** K, the neighbourhood size (neighbor_count) */
  neighborCount: number
  /** allow more groups than positions for C > 1 (OVERSAMPLING-001) */
  enableOversampling: boolean
  /** seed of every random draw in the grouping */
  seed: number
}

export interface Groups {
  /** C = gridsize² */
  C: number
  /** number of groups */
  B: number
  /** (B, C) row-major indices into the position arrays */
  nnIndices: Int32Array
  /** the seed position of each group (for C = 1 the group itself) */
  seeds: Int32Array
  /** true when the K-choose-C oversampling path made the groups */
  oversampled: boolean
}

/**
 * Exact k nearest neighbours of every position among all positions, sorted by distance (ties in an
 * unspecified order). `excludeSelf`: the query point's own index is left out (duplicated coordinates of
 * other positions stay in). Returns (n, k) indices, row-major; k is clamped to what exists.
 */
export function kNearestNeighbors(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  k: number,
  options: {excludeSelf?: boolean; queries?: ArrayLike<number>} = {},
): {k: number; indices: Int32Array} {
  const n = xs.length
  if (ys.length !== n) throw new RangeError(`x and y coordinate arrays differ in length (${n} vs ${ys.length})`)
  const excludeSelf = options.excludeSelf ?? true
  const available = excludeSelf ? n - 1 : n
  const kk = Math.max(0, Math.min(k, available))
  const queries = options.queries ?? range(n)
  const out = new Int32Array(queries.length * kk)
  if (kk === 0 || n === 0) return {k: kk, indices: out}
  const index = buildIndex(xs, ys)
  for (let q = 0; q < queries.length; q++) {
    const i = queries[q]
    const found = excludeSelf
      ? index.neighbors(xs[i], ys[i], kk, Infinity, (j) => j !== i)
      : index.neighbors(xs[i], ys[i], kk)
    for (let m = 0; m < kk; m++) out[q * kk + m] = found[m]
  }
  return {k: kk, indices: out}
}

function buildIndex(xs: ArrayLike<number>, ys: ArrayLike<number>): Flatbush {
  const index = new Flatbush(xs.length, 16, Float64Array)
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]
    const y = ys[i]
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      throw new RangeError(`scan position ${i} is not finite (x=${x}, y=${y})`)
    }
    index.add(x, y, x, y)
  }
  index.finish()
  return index
}

function range(n: number): Int32Array {
  const r = new Int32Array(n)
  for (let i = 0; i < n; i++) r[i] = i
  return r
}

/** n_choose indices from [0, n) without replacement, in draw order (partial Fisher-Yates). */
export function sampleWithoutReplacement(n: number, count: number, rng: Rng): Int32Array {
  if (count > n) throw new RangeError(`cannot draw ${count} of ${n} without replacement`)
  const pool = range(n)
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(n - i)
    const t = pool[i]
    pool[i] = pool[j]
    pool[j] = t
  }
  return pool.slice(0, count)
}

/** Binomial coefficient as a float (exact for the small values used here). */
export function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0
  let r = 1
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i
  return Math.round(r)
}

/** All k-combinations of [0, n) in lexicographic order. */
export function combinations(n: number, k: number): number[][] {
  const out: number[][] = []
  const cur: number[] = []
  const rec = (start: number): void => {
    if (cur.length === k) {
      out.push([...cur])
      return
    }
    for (let i = start; i <= n - (k - cur.length); i++) {
      cur.push(i)
      rec(i + 1)
      cur.pop()
    }
  }
  rec(0)
  return out
}

/** Check gridsize/n_groups/K against each other and the number of positions (OVERSAMPLING-001). */
export function checkGroupingOptions(nPositions: number, opts: GroupingOptions): {C: number; oversample: boolean} {
  const {gridsize, nGroups, neighborCount: K} = opts
  if (!Number.isInteger(gridsize) || gridsize < 1) throw new UsageError(`gridsize must be a positive integer, got ${gridsize}`)
  if (!Number.isInteger(nGroups) || nGroups < 1) throw new UsageError(`n_groups must be a positive integer, got ${nGroups}`)
  if (!Number.isInteger(K) || K < 0) throw new UsageError(`neighbor_count must be a non-negative integer, got ${K}`)
  if (nPositions < 1) throw new UsageError('there are no scan positions to group')
  const C = gridsize * gridsize
  if (C === 1) return {C, oversample: false}
  if (K < C) {
    throw new UsageError(
      `neighbor_count (K=${K}) must be ≥ C = gridsize² = ${C} to form groups of ${C} positions (OVERSAMPLING-001)`,
    )
  }
  if (nPositions - 1 < C) {
    throw new UsageError(`gridsize ${gridsize} needs at least ${C + 1} scan positions to form a group; the data has ${nPositions}`)
  }
  const oversample = nGroups > nPositions
  if (oversample && !opts.enableOversampling) {
    throw new UsageError(
      `n_groups=${nGroups} exceeds the ${nPositions} scan positions with gridsize ${gridsize}; ` +
        `this needs oversampling: set enable_oversampling and neighbor_count K ≥ C=${C} (OVERSAMPLING-001), or lower n_groups`,
    )
  }
  return {C, oversample}
}

/**
 * Form groups of scan positions (spec §13.6). x = column, y = row, in pixels.
 */
export function groupScanPositions(xs: ArrayLike<number>, ys: ArrayLike<number>, opts: GroupingOptions): Groups {
  const n = xs.length
  const {C, oversample} = checkGroupingOptions(n, opts)
  const rng = createRng(opts.seed)

  if (C === 1) {
    const seeds = opts.nGroups >= n ? range(n) : sampleWithoutReplacement(n, opts.nGroups, rng)
    return {C, B: seeds.length, nnIndices: seeds, seeds, oversampled: false}
  }

  const K = opts.neighborCount
  if (!oversample) {
    const seeds = opts.nGroups >= n ? range(n) : sampleWithoutReplacement(n, opts.nGroups, rng)
    const {k, indices: nbrs} = kNearestNeighbors(xs, ys, K, {excludeSelf: true, queries: seeds})
    const out = new Int32Array(seeds.length * C)
    for (let g = 0; g < seeds.length; g++) {
      const pick = sampleWithoutReplacement(k, C, rng)
      for (let c = 0; c < C; c++) out[g * C + c] = nbrs[g * k + pick[c]]
    }
    return {C, B: seeds.length, nnIndices: out, seeds, oversampled: false}
  }

  // Oversampling: all K-choose-C combinations of the neighbourhoods of 2x the needed seeds, then sample.
  const combos = combinations(K, C)
  const seedsNeeded = Math.min(n, Math.ceil((2 * opts.nGroups) / combos.length))
  const seeds = seedsNeeded >= n ? range(n) : sampleWithoutReplacement(n, seedsNeeded, rng)
  const {k, indices: nbrs} = kNearestNeighbors(xs, ys, K, {excludeSelf: true, queries: seeds})
  const usable = combinations(k, C)
  const poolSize = seeds.length * usable.length
  const draws =
    poolSize >= opts.nGroups
      ? sampleWithoutReplacement(poolSize, opts.nGroups, rng)
      : Int32Array.from({length: opts.nGroups}, () => rng.nextInt(poolSize))
  const out = new Int32Array(opts.nGroups * C)
  const groupSeeds = new Int32Array(opts.nGroups)
  for (let g = 0; g < opts.nGroups; g++) {
    const s = Math.floor(draws[g] / usable.length)
    groupSeeds[g] = seeds[s]
    const combo = usable[draws[g] % usable.length]
    for (let c = 0; c < C; c++) out[g * C + c] = nbrs[s * k + combo[c]]
  }
  return {C, B: opts.nGroups, nnIndices: out, seeds: groupSeeds, oversampled: true}
}

/**
 * Group centres and relative coordinates (spec §13.1, `get_relative_coords` with local_offset_sign −1):
 * coordsOffsets (B,1,2,1) = mean over the group (x then y); coordsRelative (B,1,2,C) = centre − position.
 */
export function groupCoordinates(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  nnIndices: Int32Array,
  C: number,
): {coordsOffsets: Float64Array; coordsRelative: Float32Array} {
  const B = nnIndices.length / C
  const coordsOffsets = new Float64Array(B * 2)
  const coordsRelative = new Float32Array(B * 2 * C)
  for (let b = 0; b < B; b++) {
    let sx = 0
    let sy = 0
    for (let c = 0; c < C; c++) {
      const i = nnIndices[b * C + c]
      sx += xs[i]
      sy += ys[i]
    }
    const cx = sx / C
    const cy = sy / C
    coordsOffsets[b * 2] = cx
    coordsOffsets[b * 2 + 1] = cy
    for (let c = 0; c < C; c++) {
      const i = nnIndices[b * C + c]
      coordsRelative[b * 2 * C + c] = cx - xs[i]
      coordsRelative[b * 2 * C + C + c] = cy - ys[i]
    }
  }
  return {coordsOffsets, coordsRelative}
}
