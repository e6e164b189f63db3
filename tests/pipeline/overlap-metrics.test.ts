/**
 * Phase D v2 overlap metrics, after the reference's tests/study/test_dose_overlap_overlap.py: analytic disc
 * overlap, determinism of subsampling, scalar broadcast, group formers, Metrics 1-3 on synthetic layouts,
 * degenerate and invalid inputs, bundle schema bounds and the geometry bound formula.
 */
import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/errors.js'
import {complex64, float32, float64, unicodeScalar} from '../../src/io/ndarray.js'
import {filterDatasetByMask} from '../../src/overlap/filter-dataset.js'
import {
  computeOverlapMetrics,
  coordsFrom,
  discOverlapArea,
  fOverlap,
  formGroupsGs1,
  formGroupsGs2,
  geometryAcceptance,
  groupCentres,
  metric1GroupBased,
  metric2ImageBased,
  metric3GroupToGroup,
  subsampleImages,
} from '../../src/overlap/metrics.js'
import {overlapMetricsSchema} from '../../src/pipeline/overlap.js'
import {createRng} from '../../src/util/random.js'
import {hasScipy, noteSkip, runPython} from '../metrics/python.js'

function grid(nx: number, ny: number, step: number): {x: number[]; y: number[]} {
  const x: number[] = []
  const y: number[] = []
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) x.push(i * step), y.push(j * step)
  return {x, y}
}

function randomLayout(n: number, size: number, seed: number): {x: number[]; y: number[]} {
  const rng = createRng(seed)
  const x: number[] = []
  const y: number[] = []
  for (let i = 0; i < n; i++) x.push(rng.next() * size), y.push(rng.next() * size)
  return {x, y}
}

describe('disc overlap', () => {
  const D = 38.4
  it('f_overlap(0) = 1, f_overlap(R) = 0.391, f_overlap(D) = 0', () => {
    expect(fOverlap(0, D)).toBe(1)
    // closed form at d = R: (2 acos(1/2) - (sqrt 3)/2) / pi = 2/3 - sqrt(3)/(2 pi) = 0.39100...
    expect(fOverlap(D / 2, D)).toBeCloseTo(2 / 3 - Math.sqrt(3) / (2 * Math.PI), 12)
    expect(fOverlap(D / 2, D)).toBeCloseTo(0.391, 3)
    expect(fOverlap(D, D)).toBe(0)
    expect(fOverlap(2 * D, D)).toBe(0)
  })

  it('decreases monotonically and agrees with a Monte Carlo area estimate (abs 0.01)', () => {
    let prev = 1
    for (let d = 1; d < D; d += 3) {
      const f = fOverlap(d, D)
      expect(f).toBeLessThan(prev)
      prev = f
    }
    const rng = createRng(1)
    const d = 15
    const r = D / 2
    let hit = 0
    const n = 200_000
    for (let i = 0; i < n; i++) {
      const x = (rng.next() * 2 - 1) * r
      const y = (rng.next() * 2 - 1) * r
      if (x * x + y * y <= r * r && (x - d) ** 2 + y * y <= r * r) hit++
    }
    expect(Math.abs((hit / n) * 4 * r * r - discOverlapArea(d, D)) / (Math.PI * r * r)).toBeLessThan(0.01)
  })
})

describe('subsampleImages', () => {
  it('keeps max(1, round(s_img n)) images, deterministic for a seed', () => {
    const a = subsampleImages(100, 0.3, 456)
    expect(a.reduce((s, v) => s + v, 0)).toBe(30)
    expect(Array.from(subsampleImages(100, 0.3, 456))).toEqual(Array.from(a))
    expect(Array.from(subsampleImages(100, 0.3, 457))).not.toEqual(Array.from(a))
    expect(subsampleImages(10, 0.01, 1).reduce((s, v) => s + v, 0)).toBe(1)
    expect(subsampleImages(10, 1, 1).every((v) => v === 1)).toBe(true)
    // numpy rounds half to even: round(2.5) = 2, round(3.5) = 4
    expect(subsampleImages(10, 0.25, 1).reduce((s, v) => s + v, 0)).toBe(2)
    expect(subsampleImages(10, 0.35, 1).reduce((s, v) => s + v, 0)).toBe(4)
  })

  it('rejects s_img outside (0, 1]', () => {
    expect(() => subsampleImages(10, 0, 1)).toThrow(UsageError)
    expect(() => subsampleImages(10, 1.5, 1)).toThrow(/s_img/)
  })
})

describe('filterDatasetByMask', () => {
  it('masks per-image arrays, broadcasts 0-d arrays and keeps the rest', () => {
    const n = 5
    const data = {
      xcoords: float64([n], Float64Array.of(0, 1, 2, 3, 4)),
      diffraction: float32([n, 2, 2], Float32Array.from({length: 20}, (_, i) => i)),
      ground_truth_patches: complex64([n, 1, 1, 1], Float32Array.from({length: 10}, (_, i) => i)),
      nphotons: float64([], Float64Array.of(1000)),
      objectGuess: complex64([n, 7]),
      other: float64([3]),
      _metadata: unicodeScalar('{"a":1}'),
    }
    const out = filterDatasetByMask(data, Uint8Array.of(1, 0, 1, 0, 1))
    expect(Array.from(out.xcoords.data as Float64Array)).toEqual([0, 2, 4])
    expect(out.diffraction.shape).toEqual([3, 2, 2])
    expect(Array.from((out.diffraction.data as Float32Array).slice(4, 8))).toEqual([8, 9, 10, 11])
    expect(Array.from(out.ground_truth_patches.data as Float32Array)).toEqual([0, 1, 4, 5, 8, 9])
    expect(out.nphotons.shape).toEqual([3])
    expect(Array.from(out.nphotons.data as Float64Array)).toEqual([1000, 1000, 1000])
    // a global array whose first axis happens to equal n is not masked (deliberate fix)
    expect(out.objectGuess.shape).toEqual([n, 7])
    expect(out.other.shape).toEqual([3])
    expect(out._metadata).toBe(data._metadata)
  })
})

describe('group formers', () => {
  it('gs1: one group per image', () => {
    expect(Array.from(formGroupsGs1(4))).toEqual([0, 1, 2, 3])
  })

  it('gs2: each group is its seed plus its 3 nearest neighbours; deterministic; replacement only when n_groups > n', () => {
    const g = grid(6, 6, 10)
    const coords = coordsFrom(g.x, g.y)
    const a = formGroupsGs2(coords, 10, 2, 42)
    expect(a.memberIndices.length).toBe(40)
    for (let k = 0; k < 10; k++) {
      const members = Array.from(a.memberIndices.slice(4 * k, 4 * k + 4))
      expect(new Set(members).size).toBe(4)
      // every member lies within 10 * sqrt(2) of the first (the seed, distance 0)
      const s = members[0]
      for (const m of members) expect(Math.hypot(g.x[m] - g.x[s], g.y[m] - g.y[s])).toBeLessThanOrEqual(10 * Math.SQRT2 + 1e-9)
    }
    expect(Array.from(formGroupsGs2(coords, 10, 2, 42).memberIndices)).toEqual(Array.from(a.memberIndices))
    // seeds without replacement when n_groups <= n: 36 groups have 36 distinct seeds
    const all = formGroupsGs2(coords, 36, 2, 1)
    const seeds = new Set<number>()
    for (let k = 0; k < 36; k++) seeds.add(all.memberIndices[4 * k])
    expect(seeds.size).toBe(36)
    expect(formGroupsGs2(coords, 100, 2, 1).memberIndices.length).toBe(400)
    expect(() => formGroupsGs2(coordsFrom([0, 1, 2], [0, 0, 0]), 2)).toThrow(/at least 4 images/)
  })
})

describe('metrics on synthetic layouts', () => {
  const D = 38.4
  it('Metric 2 on a square grid equals f_overlap at the grid step when K <= 4', () => {
    const g = grid(10, 10, 20)
    // interior points have 4 neighbours at 20 px; corner/edge points also have >= 2 at 20 px; with K = 2 all are at 20 px
    expect(metric2ImageBased(coordsFrom(g.x, g.y), 2, D)).toBeCloseTo(fOverlap(20, D), 12)
  })

  it('Metric 2 dedupes identical coordinates and is 0 for a single image', () => {
    expect(metric2ImageBased(coordsFrom([5, 5, 5], [1, 1, 1]), 6, D)).toBe(0)
    const twoDup = metric2ImageBased(coordsFrom([0, 0, 10], [0, 0, 0]), 6, D)
    expect(twoDup).toBeCloseTo(fOverlap(10, D), 12)
  })

  it('Metric 1 of groups of a square 2x2 cell: mean over members of their 3 other members (d, d, d sqrt 2)', () => {
    const coords = coordsFrom([0, 10, 0, 10], [0, 0, 10, 10])
    const groups = formGroupsGs2(coords, 1, 2, 3)
    const expected = (2 * fOverlap(10, D) + fOverlap(10 * Math.SQRT2, D)) / 3
    expect(metric1GroupBased(groups, 6, D)).toBeCloseTo(expected, 12)
    // with K = 1 only the nearest other member counts
    expect(metric1GroupBased(groups, 1, D)).toBeCloseTo(fOverlap(10, D), 12)
  })

  it('Metric 3 counts only group centres closer than D and gives 0 to isolated groups', () => {
    const centres = coordsFrom([0, 20, 1000], [0, 0, 0])
    // groups 0 and 1 see each other at 20 px; group 2 sees nobody (0)
    expect(metric3GroupToGroup(centres, D)).toBeCloseTo((2 * fOverlap(20, D)) / 3, 12)
    expect(metric3GroupToGroup(coordsFrom([1], [1]), D)).toBe(0)
    const c = groupCentres(coordsFrom([0, 2, 10, 12], [0, 2, 0, 2]), Int32Array.of(0, 0, 1, 1))
    expect(Array.from(c.x)).toEqual([1, 11])
    expect(Array.from(c.y)).toEqual([1, 1])
  })

  it.skipIf(!hasScipy)('Metric 2 and 3 agree with a brute-force numpy/scipy computation on a random layout (abs 1e-12)', () => {
    const L = randomLayout(300, 200, 5)
    const m2 = metric2ImageBased(coordsFrom(L.x, L.y), 7, D)
    const m3 = metric3GroupToGroup(coordsFrom(L.x, L.y), D)
    const ref = runPython<{m2: number; m3: number}>(
      `from scipy.spatial.distance import cdist
x = arr('x'); y = arr('y'); D = ${D}; R = D / 2
def f(d):
    d = np.asarray(d, float); a = np.zeros_like(d)
    m = d < D; dd = d[m]
    a[m] = 2 * R**2 * np.arccos(dd / (2 * R)) - dd / 2 * np.sqrt(4 * R**2 - dd**2)
    a[d < 1e-10] = np.pi * R**2
    return a / (np.pi * R**2)
P = np.stack([x, y], 1); M = cdist(P, P); np.fill_diagonal(M, np.inf)
k = 7; nn = np.sort(M, 1)[:, :k]; m2 = float(np.mean(np.mean(f(nn), 1)))
vals = []
for i in range(len(P)):
    d = M[i][M[i] < D]
    vals.append(float(np.mean(f(d))) if len(d) else 0.0)
out({'m2': m2, 'm3': float(np.mean(vals))})`,
      {x: L.x, y: L.y},
    )
    expect(Math.abs(m2 - ref.m2)).toBeLessThan(1e-12)
    expect(Math.abs(m3 - ref.m3)).toBeLessThan(1e-12)
  })
  if (!hasScipy) noteSkip('overlap metrics vs brute-force scipy', 'scipy')

  it('a denser layout overlaps more: Metrics 1 and 2 larger', () => {
    const dense = randomLayout(400, 200, 9)
    const sparse = randomLayout(60, 200, 9)
    const opts = {gridsize: 2, sImg: 1, neighborCount: 7, probeDiameterPx: D}
    const a = computeOverlapMetrics(coordsFrom(dense.x, dense.y), {...opts, nGroups: 400})
    const b = computeOverlapMetrics(coordsFrom(sparse.x, sparse.y), {...opts, nGroups: 60})
    expect(a.metric_1_group_based_avg!).toBeGreaterThan(b.metric_1_group_based_avg! + 0.1)
    expect(a.metric_2_image_based_avg).toBeGreaterThan(b.metric_2_image_based_avg + 0.1)
  })

  it('Metric 3 is the mean over overlapping group pairs only: it falls once groups lie more than D apart', () => {
    // Metric 3 averages f over the groups closer than D, so it barely depends on density while every group has
    // such neighbours; it drops when groups become isolated (spacing > D), which contribute 0.
    const opts = {gridsize: 1, sImg: 1, nGroups: 1, probeDiameterPx: D}
    const crowded = randomLayout(400, 200, 4)
    const isolated = randomLayout(12, 400, 4)
    const a = computeOverlapMetrics(coordsFrom(crowded.x, crowded.y), opts).metric_3_group_to_group_avg
    const b = computeOverlapMetrics(coordsFrom(isolated.x, isolated.y), opts).metric_3_group_to_group_avg
    expect(a).toBeGreaterThan(b + 0.1)
    // for uniformly scattered centres the conditional mean tends to E[f(d) | d < D] = int_0^D f(d) 2d dd / D^2
    let integral = 0
    const steps = 10_000
    for (let i = 0; i < steps; i++) {
      const d = ((i + 0.5) / steps) * D
      integral += (fOverlap(d, D) * 2 * d * (D / steps)) / (D * D)
    }
    expect(Math.abs(a - integral)).toBeLessThan(0.05)
  })
})

describe('geometry acceptance bound', () => {
  it('is min(bbox / (n pi D^2 / 4), 0.10), with eps for an empty scan', () => {
    const D = 38.4
    const g = grid(3, 2, 100) // bbox 200 x 100
    const ga = geometryAcceptance(coordsFrom(g.x, g.y), D)
    expect(ga.geometry_acceptance_bound).toBeCloseTo(Math.min((200 * 100) / (6 * Math.PI * (D / 2) ** 2), 0.1), 12)
    const dense = grid(30, 30, 1) // bbox 29 x 29, 900 points
    const gd = geometryAcceptance(coordsFrom(dense.x, dense.y), D)
    expect(gd.geometry_acceptance_bound).toBeCloseTo((29 * 29) / (900 * Math.PI * (D / 2) ** 2), 12)
    expect(gd.effective_min_acceptance).toBe(gd.geometry_acceptance_bound)
    expect(geometryAcceptance(coordsFrom([], []), D)).toEqual({geometry_acceptance_bound: 0, effective_min_acceptance: 1e-6})
    // a single point: bbox = eps, so the bound is tiny but positive
    expect(geometryAcceptance(coordsFrom([3], [4]), D).geometry_acceptance_bound).toBeGreaterThan(0)
  })
})

describe('computeOverlapMetrics', () => {
  const L = randomLayout(200, 300, 2)
  const coords = coordsFrom(L.x, L.y)

  it('gs1: no Metric 1 in toDict(), one group per kept image; the dict passes the bundle schema', () => {
    const m = computeOverlapMetrics(coords, {gridsize: 1, sImg: 0.5, nGroups: 512})
    const d = m.toDict()
    expect('metric_1_group_based_avg' in d).toBe(false)
    expect(d.n_images_total).toBe(200)
    expect(d.n_images_subsampled).toBe(100)
    expect(d.n_groups_actual).toBe(100)
    expect(d.metrics_version).toBe('1.0')
    expect(d.probe_diameter_px).toBeCloseTo(38.4, 12)
    expect(overlapMetricsSchema.safeParse(d).success).toBe(true)
  })

  it('gs2: Metric 1 present, within [0, 1]; deterministic for its seeds', () => {
    const opts = {gridsize: 2, sImg: 0.8, nGroups: 64, neighborCount: 6, rngSeedSubsample: 456, rngSeedGrouping: 123}
    const a = computeOverlapMetrics(coords, opts).toDict()
    const b = computeOverlapMetrics(coords, opts).toDict()
    expect(a).toEqual(b)
    for (const v of [a.metric_1_group_based_avg!, a.metric_2_image_based_avg, a.metric_3_group_to_group_avg]) {
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThanOrEqual(1)
    }
    expect(a.geometry_acceptance_bound).toBeLessThanOrEqual(0.1)
    expect(a.n_groups_actual).toBe(64)
  })

  it('raises for gridsize not in {1, 2}, bad s_img, n_groups < 1 and zero images', () => {
    expect(() => computeOverlapMetrics(coords, {gridsize: 3, sImg: 1, nGroups: 1})).toThrow(/gridsize/)
    expect(() => computeOverlapMetrics(coords, {gridsize: 1, sImg: 0, nGroups: 1})).toThrow(/s_img/)
    expect(() => computeOverlapMetrics(coords, {gridsize: 1, sImg: 1, nGroups: 0})).toThrow(/n_groups/)
    expect(() => computeOverlapMetrics(coordsFrom([], []), {gridsize: 1, sImg: 1, nGroups: 1})).toThrow(/no images/)
  })
})
