import {describe, expect, it} from 'vitest'

import {ContractError} from '../../src/errors.js'
import {complex64, float32, float64, type NdArray} from '../../src/io/ndarray.js'
import {groupScanData, loadGroupedData, scanDataFromArrays} from '../../src/model/training-data.js'
import {writeNpz} from '../../src/io/npz.js'
import {MissingInputError} from '../../src/errors.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'
import {mkdtempSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {createRng} from '../../src/util/random.js'

const N = 16

function members(n: number, seed = 1): Record<string, NdArray> {
  const rng = createRng(seed)
  const diff = float32([n, N, N])
  for (let i = 0; i < diff.data.length; i++) (diff.data as Float32Array)[i] = 0.1 * rng.next()
  const xs = float64([n])
  const ys = float64([n])
  for (let i = 0; i < n; i++) {
    ;(xs.data as Float64Array)[i] = 20 + 60 * rng.next()
    ;(ys.data as Float64Array)[i] = 20 + 60 * rng.next()
  }
  const probe = complex64([N, N])
  for (let i = 0; i < N * N; i++) (probe.data as Float32Array)[2 * i] = 1
  const gt = complex64([n, N, N, 1])
  for (let i = 0; i < n * N * N; i++) {
    ;(gt.data as Float32Array)[2 * i] = i
    ;(gt.data as Float32Array)[2 * i + 1] = -i
  }
  return {diffraction: diff, xcoords: xs, ycoords: ys, probeGuess: probe, ground_truth_patches: gt}
}

const opts = {N, gridsize: 1, nGroups: 512, neighborCount: 4, enableOversampling: false, seed: 3, nphotons: 1e4}

describe('scanDataFromArrays (DATA-001 keys)', () => {
  it('prefers xcoords_start/ycoords_start, falls back to xcoords/ycoords', () => {
    const m = members(10)
    expect(scanDataFromArrays('f.npz', m).xcoords[0]).toBe((m.xcoords.data as Float64Array)[0])
    const start = float64([10], new Float64Array(10).fill(7))
    expect(scanDataFromArrays('f.npz', {...m, xcoords_start: start}).xcoords[0]).toBe(7)
  })

  it('accepts legacy diff3d and transposes an (N, N, n) stack (FORMAT-001)', () => {
    const m = members(40)
    const src = m.diffraction.data as Float32Array
    const t = new Float32Array(src.length)
    for (let i = 0; i < 40; i++) for (let p = 0; p < N * N; p++) t[p * 40 + i] = src[i * N * N + p]
    const {diffraction: _d, ...rest} = m
    const scan = scanDataFromArrays('f.npz', {...rest, diff3d: float32([N, N, 40], t)})
    expect(scan.n).toBe(40)
    expect(Array.from(scan.diffraction)).toEqual(Array.from(src))
  })

  it('errors name the file, the key and the expectation', () => {
    const m = members(10)
    const {diffraction: _d, ...noDiff} = m
    expect(() => scanDataFromArrays('a.npz', noDiff)).toThrow(ContractError)
    expect(() => scanDataFromArrays('a.npz', noDiff)).toThrow(/a\.npz: field 'diffraction': missing/)
    expect(() => scanDataFromArrays('a.npz', {...m, diffraction: complex64([10, N, N])})).toThrow(/field 'diffraction': must be real amplitudes/)
    expect(() => scanDataFromArrays('a.npz', {...m, xcoords: float64([9])})).toThrow(/field 'xcoords': must have one value per image \(10\), got 9/)
    expect(() => scanDataFromArrays('a.npz', {...m, probeGuess: complex64([8, 8])})).toThrow(/field 'probeGuess': must be 16×16/)
    const bad = members(10)
    ;(bad.diffraction.data as Float32Array)[5] = Number.NaN
    expect(() => scanDataFromArrays('a.npz', bad)).toThrow(/non-finite/)
  })
})

describe('groupScanData', () => {
  it('normalize_data: the mean pattern energy of X is (N/2)² (rel. 1e-5), and X is the scaled member diffraction', () => {
    const m = members(30)
    const scan = scanDataFromArrays('f.npz', m)
    for (const gridsize of [1, 2]) {
      const g = groupScanData(scan, {...opts, gridsize, nGroups: 20})
      let e = 0
      for (const v of g.X) e += v * v
      expect(Math.abs(e / (g.B * g.C) / (N / 2) ** 2 - 1)).toBeLessThan(1e-5)
      // element (b, h, w, c) is diffraction[nn[b, c], h, w] · normalization
      const b = 3
      const c = g.C - 1
      const h = 5
      const w = 9
      const src = (m.diffraction.data as Float32Array)[(g.nnIndices[b * g.C + c] * N + h) * N + w]
      expect(g.X[((b * N + h) * N + w) * g.C + c]).toBeCloseTo(src * g.normalization, 5)
    }
  })

  it('intensity_scale = sqrt(nphotons)/(N/2); coords_relative = centre − position; gs1 uses every image once', () => {
    const scan = scanDataFromArrays('f.npz', members(30))
    const g = groupScanData(scan, opts)
    expect(g.B).toBe(30)
    expect(g.intensityScale).toBeCloseTo(Math.sqrt(1e4) / 8, 12)
    expect(Array.from(g.coordsRelative)).toEqual(new Array(60).fill(0))
    expect(g.coordsOffsets[2 * 7]).toBe(scan.xcoords[g.nnIndices[7]])
    const g2 = groupScanData(scan, {...opts, gridsize: 2, nGroups: 10})
    for (let b = 0; b < g2.B; b++) {
      for (let c = 0; c < 4; c++) {
        const i = g2.nnIndices[b * 4 + c]
        expect(g2.coordsRelative[b * 8 + c]).toBeCloseTo(g2.coordsOffsets[2 * b] - scan.xcoords[i], 4)
        expect(g2.coordsRelative[b * 8 + 4 + c]).toBeCloseTo(g2.coordsOffsets[2 * b + 1] - scan.ycoords[i], 4)
      }
    }
  })

  it('groups the per-image ground-truth patches like X', () => {
    const scan = scanDataFromArrays('f.npz', members(30))
    const g = groupScanData(scan, {...opts, gridsize: 2, nGroups: 10})
    const b = 2
    const c = 1
    const p = 17
    const i = g.nnIndices[b * 4 + c]
    expect(g.groundTruthPatches!.re[(b * N * N + p) * 4 + c]).toBe(i * N * N + p)
    expect(g.groundTruthPatches!.im[(b * N * N + p) * 4 + c]).toBe(-(i * N * N + p))
  })

  it('N must match the patterns; OVERSAMPLING-001 errors come through', () => {
    const scan = scanDataFromArrays('f.npz', members(10))
    expect(() => groupScanData(scan, {...opts, N: 32})).toThrow(/patterns are 16×16 but the model's N is 32/)
    expect(() => groupScanData(scan, {...opts, gridsize: 2, nGroups: 50})).toThrow(/OVERSAMPLING-001/)
  })
})

describe('loadGroupedData (from an NPZ file)', () => {
  it('reads a file written by writeNpz and groups it; a missing file is a MissingInputError naming it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-td-'))
    const file = path.join(dir, 'patched_test.npz')
    await writeNpz(file, members(25))
    const g = await loadGroupedData(file, opts)
    expect(g.B).toBe(25)
    expect(g.groundTruthPatches).toBeDefined()
    await expect(loadGroupedData(path.join(dir, 'nope.npz'), opts)).rejects.toThrow(MissingInputError)
    await expect(loadGroupedData(path.join(dir, 'nope.npz'), opts)).rejects.toThrow(/nope\.npz/)
  })

  it.skipIf(!hasNumpy)('reads a phase C style file written by numpy (pickled _metadata skipped, complex128 object)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-td-'))
    const file = path.join(dir, 'patched_train.npz')
    const ref = runPython<{energy: number}>(`rng = np.random.default_rng(0)
n, N = 40, ${N}
d = rng.random((n, N, N)).astype(np.float32)
x = rng.uniform(20, 80, n); y = rng.uniform(20, 80, n)
np.savez_compressed(${JSON.stringify(file)}, diffraction=d, xcoords=x, ycoords=y, xcoords_start=x, ycoords_start=y,
    probeGuess=np.ones((N, N), np.complex64), objectGuess=np.ones((100, 120), np.complex128) * (1 + 2j),
    ground_truth_patches=np.zeros((n, N, N, 1), np.complex64), _metadata=np.array({'a': 1}, dtype=object))
out({'energy': float(np.mean(np.sum(d.astype(np.float64) ** 2, axis=(1, 2))))})`)
    const g = await loadGroupedData(file, {...opts, nGroups: 1000})
    expect(g.B).toBe(40)
    expect(g.objectGuess!.H).toBe(100)
    expect(g.objectGuess!.W).toBe(120)
    expect(g.objectGuess!.im[5]).toBe(2)
    // normalisation factor against numpy's mean pattern energy (rel 1e-6)
    expect(Math.abs(g.normalization / Math.sqrt((N / 2) ** 2 / ref.energy) - 1)).toBeLessThan(1e-6)
  })
  if (!hasNumpy) noteSkip('NPZ written by numpy', 'numpy')
})
