import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/errors.js'
import {
  choose,
  combinations,
  groupCoordinates,
  groupScanPositions,
  kNearestNeighbors,
} from '../../src/model/grouping.js'
import {createRng} from '../../src/util/random.js'
import {hasScipy, noteSkip, runPython} from '../metrics/python.js'

function randomPositions(n: number, seed: number, span = 200): {xs: Float64Array; ys: Float64Array} {
  const rng = createRng(seed)
  const xs = new Float64Array(n)
  const ys = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    xs[i] = 32 + span * rng.next()
    ys[i] = 32 + span * rng.next()
  }
  return {xs, ys}
}

const dist = (xs: ArrayLike<number>, ys: ArrayLike<number>, i: number, j: number): number =>
  Math.hypot(xs[i] - xs[j], ys[i] - ys[j])

/** brute force: the sorted distances of the k nearest others of i */
function bruteDistances(xs: Float64Array, ys: Float64Array, i: number, k: number): number[] {
  const d: number[] = []
  for (let j = 0; j < xs.length; j++) if (j !== i) d.push(dist(xs, ys, i, j))
  return d.sort((a, b) => a - b).slice(0, k)
}

describe('kNearestNeighbors (exact kNN)', () => {
  it('matches brute force on 500 random positions, k = 7, self excluded (distances equal to 1e-12)', () => {
    const {xs, ys} = randomPositions(500, 3)
    const {k, indices} = kNearestNeighbors(xs, ys, 7)
    expect(k).toBe(7)
    for (let i = 0; i < xs.length; i++) {
      const got = Array.from(indices.subarray(i * 7, i * 7 + 7))
      expect(got).not.toContain(i)
      expect(new Set(got).size).toBe(7)
      const gotD = got.map((j) => dist(xs, ys, i, j))
      const want = bruteDistances(xs, ys, i, 7)
      for (let m = 0; m < 7; m++) expect(Math.abs(gotD[m] - want[m])).toBeLessThan(1e-12)
    }
  })

  it('keeps duplicated coordinates of other positions and clamps k to what exists', () => {
    const xs = [0, 0, 5, 10]
    const ys = [0, 0, 0, 0]
    const {k, indices} = kNearestNeighbors(xs, ys, 10)
    expect(k).toBe(3)
    expect(indices[0]).toBe(1)
    expect(indices[3]).toBe(0)
  })

  it.skipIf(!hasScipy)('agrees with scipy.spatial.cKDTree.query(k=K+1) minus self (distances to 1e-9)', () => {
    const {xs, ys} = randomPositions(800, 11)
    const K = 6
    const {indices} = kNearestNeighbors(xs, ys, K)
    const ref = runPython<number[][]>(
      `from scipy.spatial import cKDTree
pts = np.stack([arr('x'), arr('y')], axis=1)
d, _ = cKDTree(pts).query(pts, k=${K + 1})
out(d[:, 1:].tolist())`,
      {x: xs, y: ys},
    )
    for (let i = 0; i < xs.length; i++) {
      for (let m = 0; m < K; m++) expect(Math.abs(dist(xs, ys, i, indices[i * K + m]) - ref[i][m])).toBeLessThan(1e-9)
    }
  })
  if (!hasScipy) noteSkip('kNN vs cKDTree', 'scipy')
})

describe('groupScanPositions', () => {
  const {xs, ys} = randomPositions(300, 5)

  it('gridsize 1: the seeds are the groups; all positions in file order when n_groups >= n', () => {
    const all = groupScanPositions(xs, ys, {gridsize: 1, nGroups: 512, neighborCount: 4, enableOversampling: false, seed: 1})
    expect(all.B).toBe(300)
    expect(Array.from(all.nnIndices)).toEqual(Array.from({length: 300}, (_, i) => i))
    const some = groupScanPositions(xs, ys, {gridsize: 1, nGroups: 50, neighborCount: 4, enableOversampling: false, seed: 1})
    expect(some.B).toBe(50)
    expect(new Set(some.nnIndices).size).toBe(50)
    for (const i of some.nnIndices) expect(i >= 0 && i < 300).toBe(true)
  })

  it('is deterministic for a seed and changes with the seed', () => {
    const opts = {gridsize: 2, nGroups: 100, neighborCount: 7, enableOversampling: false}
    const a = groupScanPositions(xs, ys, {...opts, seed: 42})
    const b = groupScanPositions(xs, ys, {...opts, seed: 42})
    const c = groupScanPositions(xs, ys, {...opts, seed: 43})
    expect(Array.from(a.nnIndices)).toEqual(Array.from(b.nnIndices))
    expect(Array.from(a.nnIndices)).not.toEqual(Array.from(c.nnIndices))
  })

  it('K = C = 4: a group is exactly the seed\'s 4 nearest neighbours without the seed', () => {
    const g = groupScanPositions(xs, ys, {gridsize: 2, nGroups: 60, neighborCount: 4, enableOversampling: false, seed: 9})
    expect(g.C).toBe(4)
    for (let b = 0; b < g.B; b++) {
      const seed = g.seeds[b]
      const members = Array.from(g.nnIndices.subarray(b * 4, b * 4 + 4))
      expect(members).not.toContain(seed)
      const dists = members.map((j) => dist(xs, ys, seed, j)).sort((p, q) => p - q)
      const want = bruteDistances(xs, ys, seed, 4)
      for (let m = 0; m < 4; m++) expect(Math.abs(dists[m] - want[m])).toBeLessThan(1e-12)
    }
  })

  it('K = 7, C = 4: C distinct members drawn from the seed\'s 7 nearest', () => {
    const g = groupScanPositions(xs, ys, {gridsize: 2, nGroups: 80, neighborCount: 7, enableOversampling: false, seed: 2})
    for (let b = 0; b < g.B; b++) {
      const seed = g.seeds[b]
      const members = Array.from(g.nnIndices.subarray(b * 4, b * 4 + 4))
      expect(new Set(members).size).toBe(4)
      const limit = bruteDistances(xs, ys, seed, 7)[6]
      for (const j of members) {
        expect(j).not.toBe(seed)
        expect(dist(xs, ys, seed, j)).toBeLessThanOrEqual(limit + 1e-12)
      }
    }
  })

  describe('OVERSAMPLING-001', () => {
    const small = randomPositions(20, 8)
    it('more groups than positions with C > 1 and no enable_oversampling is a clear UsageError', () => {
      const call = () =>
        groupScanPositions(small.xs, small.ys, {gridsize: 2, nGroups: 50, neighborCount: 7, enableOversampling: false, seed: 1})
      expect(call).toThrow(UsageError)
      expect(call).toThrow(/n_groups=50 exceeds the 20 scan positions.*enable_oversampling.*OVERSAMPLING-001/)
    })
    it('K < C is rejected whatever the flag', () => {
      for (const enableOversampling of [false, true]) {
        expect(() =>
          groupScanPositions(small.xs, small.ys, {gridsize: 2, nGroups: 10, neighborCount: 3, enableOversampling, seed: 1}),
        ).toThrow(/neighbor_count \(K=3\) must be ≥ C = gridsize² = 4/)
      }
    })
    it('with enable_oversampling and K >= C: n_groups groups, each a C-subset of a seed\'s K nearest, no duplicate groups', () => {
      const g = groupScanPositions(small.xs, small.ys, {gridsize: 2, nGroups: 50, neighborCount: 7, enableOversampling: true, seed: 4})
      expect(g.oversampled).toBe(true)
      expect(g.B).toBe(50)
      const keys = new Set<string>()
      for (let b = 0; b < g.B; b++) {
        const members = Array.from(g.nnIndices.subarray(b * 4, b * 4 + 4))
        expect(new Set(members).size).toBe(4)
        const seed = g.seeds[b]
        const limit = bruteDistances(small.xs, small.ys, seed, 7)[6]
        for (const j of members) expect(dist(small.xs, small.ys, seed, j)).toBeLessThanOrEqual(limit + 1e-12)
        keys.add(`${seed}:${[...members].sort((p, q) => p - q).join(',')}`)
      }
      expect(keys.size).toBe(50)
    })
    it('gridsize 1 never oversamples: n_groups > n gives every position once', () => {
      const g = groupScanPositions(small.xs, small.ys, {gridsize: 1, nGroups: 50, neighborCount: 4, enableOversampling: true, seed: 1})
      expect(g.B).toBe(20)
    })
  })

  it('combinations and choose agree (K-choose-C)', () => {
    expect(combinations(7, 4)).toHaveLength(choose(7, 4))
    expect(choose(7, 4)).toBe(35)
    expect(combinations(4, 2)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
  })
})

describe('groupCoordinates', () => {
  it('offsets are the group centre (x then y) and relative = centre − position (local_offset_sign −1)', () => {
    const xs = [0, 2, 0, 2, 10]
    const ys = [0, 0, 4, 4, 10]
    const {coordsOffsets, coordsRelative} = groupCoordinates(xs, ys, Int32Array.from([0, 1, 2, 3, 4, 4, 4, 4]), 4)
    expect(Array.from(coordsOffsets)).toEqual([1, 2, 10, 10])
    // (B,1,2,C): x of the 4 channels, then y of the 4 channels
    expect(Array.from(coordsRelative.subarray(0, 8))).toEqual([1, -1, 1, -1, 2, 2, -2, -2])
    expect(Array.from(coordsRelative.subarray(8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })
})
