/**
 * Phase D v2 overlap metrics (spec 5.1, reference specs/overlap_metrics.md): disc overlap of probe footprints,
 * seeded image subsampling, gs1/gs2 group formers, Metrics 1-3 and the geometry acceptance bound. Runs are
 * never failed for geometric packing; only degenerate inputs raise.
 *
 * Deviations from the Python reference (documented in docs/readme/data-generation.md):
 * - random draws use the project's seeded PRNG (not numpy's default_rng), so the selections differ from numpy's
 *   for the same seed; they are deterministic and recorded;
 * - the gs2 grouping seed is a parameter (the reference hard-codes 42) and is recorded as rng_seed_grouping.
 */
import Flatbush from 'flatbush'

import {UsageError} from '../errors.js'
import {kNearestNeighbors, sampleWithoutReplacement} from '../model/grouping.js'
import {createRng} from '../util/random.js'

export const METRICS_VERSION = '1.0'
export const GEOMETRY_ACCEPTANCE_CAP = 0.1
export const GEOMETRY_ACCEPTANCE_EPS = 1e-6
/** the reference default probe diameter: 0.6 * 64 px */
export const DEFAULT_PROBE_DIAMETER_PX = 0.6 * 64
export const DEFAULT_METRIC_NEIGHBOR_COUNT = 6
export const DEFAULT_RNG_SEED = 42

/** Intersection area of two discs of diameter D whose centres are d apart. */
export function discOverlapArea(d: number, diameter: number): number {
  const r = diameter / 2
  if (d >= diameter) return 0
  if (d < 1e-10) return Math.PI * r * r
  return 2 * r * r * Math.acos(d / (2 * r)) - (d / 2) * Math.sqrt(4 * r * r - d * d)
}

/** f_overlap(d) = A(d) / (pi R^2): 1 at d = 0, about 0.391 at d = R, 0 at d >= D. */
export function fOverlap(d: number, diameter: number): number {
  const r = diameter / 2
  return discOverlapArea(d, diameter) / (Math.PI * r * r)
}

/** Coordinates as two parallel arrays (x = column, y = row). */
export interface Coords {
  x: Float64Array
  y: Float64Array
}

export function coordsFrom(x: ArrayLike<number>, y: ArrayLike<number>): Coords {
  if (x.length !== y.length) throw new UsageError(`xcoords (${x.length}) and ycoords (${y.length}) differ in length`)
  return {x: Float64Array.from(x), y: Float64Array.from(y)}
}

function take(coords: Coords, indices: ArrayLike<number>): Coords {
  const x = new Float64Array(indices.length)
  const y = new Float64Array(indices.length)
  for (let i = 0; i < indices.length; i++) {
    x[i] = coords.x[indices[i]]
    y[i] = coords.y[indices[i]]
  }
  return {x, y}
}

function checkSImg(sImg: number): void {
  if (!(sImg > 0 && sImg <= 1)) throw new UsageError(`s_img must be in (0, 1], got ${sImg}`)
}

/**
 * Keep max(1, round(s_img * n)) images chosen uniformly without replacement from a generator seeded with
 * `seed`; returns a 0/1 mask over the n images.
 */
export function subsampleImages(n: number, sImg: number, seed: number): Uint8Array {
  checkSImg(sImg)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`cannot subsample ${n} images`)
  // numpy's round(): half to even
  const nKeep = Math.max(1, roundHalfEven(sImg * n))
  const chosen = sampleWithoutReplacement(n, nKeep, createRng(seed))
  const mask = new Uint8Array(n)
  for (const i of chosen) mask[i] = 1
  return mask
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v)
  const diff = v - f
  if (diff > 0.5) return f + 1
  if (diff < 0.5) return f
  return f % 2 === 0 ? f : f + 1
}

/** gs1: one group per image (n_groups is ignored). */
export function formGroupsGs1(n: number): Int32Array {
  const ids = new Int32Array(n)
  for (let i = 0; i < n; i++) ids[i] = i
  return ids
}

export interface Gs2Groups {
  /** (n_groups * c) member coordinates, group after group */
  coords: Coords
  /** group id of each member (n_groups * c) */
  groupIds: Int32Array
  /** image index of each member */
  memberIndices: Int32Array
  /** c = gridsize^2 */
  c: number
}

/**
 * gs2 groups: n_groups seed images drawn with a generator seeded by `seed` (with replacement only when
 * n_groups > n), each group = the c = gridsize^2 nearest images of its seed, the seed itself included.
 */
export function formGroupsGs2(coords: Coords, nGroups: number, gridsize = 2, seed = DEFAULT_RNG_SEED): Gs2Groups {
  const c = gridsize * gridsize
  const n = coords.x.length
  if (!Number.isInteger(nGroups) || nGroups < 1) throw new UsageError(`n_groups must be >= 1, got ${nGroups}`)
  if (n < c) throw new UsageError(`gridsize=${gridsize} needs at least ${c} images to form groups, got ${n}`)
  const rng = createRng(seed)
  let seeds: Int32Array
  if (nGroups > n) {
    seeds = new Int32Array(nGroups)
    for (let g = 0; g < nGroups; g++) seeds[g] = rng.nextInt(n)
  } else {
    seeds = sampleWithoutReplacement(n, nGroups, rng)
  }
  const {indices} = kNearestNeighbors(coords.x, coords.y, c, {excludeSelf: false, queries: seeds})
  const memberIndices = new Int32Array(nGroups * c)
  const groupIds = new Int32Array(nGroups * c)
  for (let g = 0; g < nGroups; g++) {
    for (let m = 0; m < c; m++) {
      memberIndices[g * c + m] = indices[g * c + m]
      groupIds[g * c + m] = g
    }
  }
  return {coords: take(coords, memberIndices), groupIds, memberIndices, c}
}

/**
 * Metric 1 (gs2 only): for every member of every group, the mean f_overlap to its min(K, |group| - 1)
 * nearest other members; then the mean over all members.
 */
export function metric1GroupBased(groups: Gs2Groups, neighborCount: number, diameter: number): number {
  const {c, coords} = groups
  const nGroups = coords.x.length / c
  const k = Math.min(neighborCount, c - 1)
  if (nGroups === 0 || k < 1) return 0
  let total = 0
  const d = new Float64Array(c - 1)
  for (let g = 0; g < nGroups; g++) {
    for (let m = 0; m < c; m++) {
      const i = g * c + m
      let t = 0
      for (let o = 0; o < c; o++) {
        if (o === m) continue
        const j = g * c + o
        d[t++] = Math.hypot(coords.x[i] - coords.x[j], coords.y[i] - coords.y[j])
      }
      d.sort()
      let s = 0
      for (let q = 0; q < k; q++) s += fOverlap(d[q], diameter)
      total += s / k
    }
  }
  return total / (nGroups * c)
}

/** Distinct coordinates (exact equality), in first-seen order. */
export function uniqueCoords(coords: Coords): Coords {
  const seen = new Set<string>()
  const keep: number[] = []
  for (let i = 0; i < coords.x.length; i++) {
    const key = `${coords.x[i]},${coords.y[i]}`
    if (!seen.has(key)) {
      seen.add(key)
      keep.push(i)
    }
  }
  return take(coords, keep)
}

/**
 * Metric 2 (image-based): over the distinct images, the mean f_overlap of each to its min(K, n - 1) nearest
 * other images; then the mean. 0 when there is at most one distinct image.
 */
export function metric2ImageBased(coords: Coords, neighborCount: number, diameter: number): number {
  const u = uniqueCoords(coords)
  const n = u.x.length
  if (n <= 1) return 0
  const {k, indices} = kNearestNeighbors(u.x, u.y, neighborCount, {excludeSelf: true})
  if (k === 0) return 0
  let total = 0
  for (let i = 0; i < n; i++) {
    let s = 0
    for (let q = 0; q < k; q++) {
      const j = indices[i * k + q]
      s += fOverlap(Math.hypot(u.x[i] - u.x[j], u.y[i] - u.y[j]), diameter)
    }
    total += s / k
  }
  return total / n
}

/** Group centres of mass (mean member coordinates), one per group id 0..G-1. */
export function groupCentres(coords: Coords, groupIds: Int32Array): Coords {
  let g = 0
  for (const id of groupIds) g = Math.max(g, id + 1)
  const x = new Float64Array(g)
  const y = new Float64Array(g)
  const count = new Float64Array(g)
  for (let i = 0; i < groupIds.length; i++) {
    x[groupIds[i]] += coords.x[i]
    y[groupIds[i]] += coords.y[i]
    count[groupIds[i]] += 1
  }
  for (let i = 0; i < g; i++) {
    x[i] /= count[i]
    y[i] /= count[i]
  }
  return {x, y}
}

/**
 * Metric 3 (group to group): per group, the mean f_overlap over the other groups whose centres are closer
 * than D (0 if there are none); then the mean over groups. 0 when there is at most one group.
 */
export function metric3GroupToGroup(centres: Coords, diameter: number): number {
  const g = centres.x.length
  if (g <= 1) return 0
  const index = new Flatbush(g, 16, Float64Array)
  for (let i = 0; i < g; i++) index.add(centres.x[i], centres.y[i], centres.x[i], centres.y[i])
  index.finish()
  let total = 0
  for (let i = 0; i < g; i++) {
    const xi = centres.x[i]
    const yi = centres.y[i]
    const near = index.search(xi - diameter, yi - diameter, xi + diameter, yi + diameter)
    let s = 0
    let m = 0
    for (const j of near) {
      if (j === i) continue
      const d = Math.hypot(xi - centres.x[j], yi - centres.y[j])
      if (d < diameter) {
        s += fOverlap(d, diameter)
        m++
      }
    }
    total += m > 0 ? s / m : 0
  }
  return total / g
}

export interface GeometryAcceptance {
  geometry_acceptance_bound: number
  effective_min_acceptance: number
}

/**
 * Observability only: bbox / (n * disc area), capped at 0.10; with no positions the bound is 0 and the
 * effective minimum is eps.
 */
export function geometryAcceptance(coords: Coords, diameter: number): GeometryAcceptance {
  const n = coords.x.length
  if (n === 0) return {geometry_acceptance_bound: 0, effective_min_acceptance: GEOMETRY_ACCEPTANCE_EPS}
  let minX = Infinity
  let maxX = -Infinity
  let minY = Infinity
  let maxY = -Infinity
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, coords.x[i])
    maxX = Math.max(maxX, coords.x[i])
    minY = Math.min(minY, coords.y[i])
    maxY = Math.max(maxY, coords.y[i])
  }
  const eps = GEOMETRY_ACCEPTANCE_EPS
  const bbox = Math.max((maxX - minX) * (maxY - minY), eps)
  const disc = Math.PI * (Math.max(diameter, eps) / 2) ** 2
  const theoretical = bbox / Math.max(n * disc, eps)
  const bound = Math.min(theoretical, GEOMETRY_ACCEPTANCE_CAP)
  return {geometry_acceptance_bound: bound, effective_min_acceptance: Math.max(bound, eps)}
}

export interface OverlapMetricsFields {
  metrics_version: string
  gridsize: number
  s_img: number
  n_groups: number
  neighbor_count: number
  probe_diameter_px: number
  rng_seed_subsample: number
  /** not in the reference: the gs2 grouping seed (the reference hard-codes 42) */
  rng_seed_grouping: number
  /** absent (undefined) for gs1 */
  metric_1_group_based_avg?: number
  metric_2_image_based_avg: number
  metric_3_group_to_group_avg: number
  n_images_total: number
  n_images_subsampled: number
  n_unique_images: number
  n_groups_actual: number
  geometry_acceptance_bound: number
  effective_min_acceptance: number
}

/** The reference's OverlapMetrics dataclass; toDict() drops undefined values (no Metric 1 for gs1). */
export class OverlapMetrics implements OverlapMetricsFields {
  metrics_version = METRICS_VERSION
  gridsize!: number
  s_img!: number
  n_groups!: number
  neighbor_count!: number
  probe_diameter_px!: number
  rng_seed_subsample!: number
  rng_seed_grouping!: number
  metric_1_group_based_avg?: number
  metric_2_image_based_avg!: number
  metric_3_group_to_group_avg!: number
  n_images_total!: number
  n_images_subsampled!: number
  n_unique_images!: number
  n_groups_actual!: number
  geometry_acceptance_bound!: number
  effective_min_acceptance!: number

  constructor(fields: OverlapMetricsFields) {
    Object.assign(this, fields)
  }

  toDict(): OverlapMetricsFields {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(this)) if (v !== undefined && v !== null) out[k] = v
    return out as unknown as OverlapMetricsFields
  }
}

export interface OverlapMetricsOptions {
  gridsize: number
  sImg: number
  nGroups: number
  neighborCount?: number
  probeDiameterPx?: number
  rngSeedSubsample?: number
  rngSeedGrouping?: number
  /** the coordinates are already the subsampled set (s_img is then only recorded) */
  coordsAreSubsampled?: boolean
  /** images before subsampling, when coordsAreSubsampled (default: the number of coordinates) */
  nImagesTotal?: number
}

/** compute_overlap_metrics: raises on gridsize not in {1, 2}, s_img not in (0, 1], n_groups < 1 or no images. */
export function computeOverlapMetrics(coords: Coords, options: OverlapMetricsOptions): OverlapMetrics {
  const {gridsize, sImg, nGroups} = options
  const neighborCount = options.neighborCount ?? DEFAULT_METRIC_NEIGHBOR_COUNT
  const diameter = options.probeDiameterPx ?? DEFAULT_PROBE_DIAMETER_PX
  const seedSub = options.rngSeedSubsample ?? DEFAULT_RNG_SEED
  const seedGroup = options.rngSeedGrouping ?? DEFAULT_RNG_SEED
  if (gridsize !== 1 && gridsize !== 2) throw new UsageError(`gridsize must be 1 or 2, got ${gridsize}`)
  checkSImg(sImg)
  if (!Number.isInteger(nGroups) || nGroups < 1) throw new UsageError(`n_groups must be >= 1, got ${nGroups}`)
  if (!Number.isInteger(neighborCount) || neighborCount < 1) throw new UsageError(`neighbor_count must be >= 1, got ${neighborCount}`)
  if (!(diameter > 0) || !Number.isFinite(diameter)) throw new UsageError(`probe_diameter_px must be > 0, got ${diameter}`)
  const nTotal = coords.x.length
  if (nTotal === 0) throw new UsageError('no images: cannot compute overlap metrics of an empty scan')
  let used = coords
  if (!options.coordsAreSubsampled) {
    const mask = subsampleImages(nTotal, sImg, seedSub)
    const keep: number[] = []
    for (let i = 0; i < nTotal; i++) if (mask[i]) keep.push(i)
    used = take(coords, keep)
  }
  const n = used.x.length
  let metric1: number | undefined
  let centres: Coords
  let nGroupsActual: number
  if (gridsize === 1) {
    centres = used
    nGroupsActual = formGroupsGs1(n).length
  } else {
    const groups = formGroupsGs2(used, nGroups, 2, seedGroup)
    metric1 = metric1GroupBased(groups, neighborCount, diameter)
    centres = groupCentres(groups.coords, groups.groupIds)
    nGroupsActual = nGroups
  }
  return new OverlapMetrics({
    metrics_version: METRICS_VERSION,
    gridsize,
    s_img: sImg,
    n_groups: nGroups,
    neighbor_count: neighborCount,
    probe_diameter_px: diameter,
    rng_seed_subsample: seedSub,
    rng_seed_grouping: seedGroup,
    metric_1_group_based_avg: metric1,
    metric_2_image_based_avg: metric2ImageBased(used, neighborCount, diameter),
    metric_3_group_to_group_avg: metric3GroupToGroup(centres, diameter),
    n_images_total: options.coordsAreSubsampled ? (options.nImagesTotal ?? nTotal) : nTotal,
    n_images_subsampled: n,
    n_unique_images: uniqueCoords(used).x.length,
    n_groups_actual: nGroupsActual,
    ...geometryAcceptance(used, diameter),
  })
}
