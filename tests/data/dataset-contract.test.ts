/**
 * The DATA-001 validator: the cases of PtychoPINN's tests/study/test_dose_overlap_dataset_contract.py (spec §14),
 * every message of spec §3, and the port's additional checks, on in-memory datasets and on NPZ files.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {
  assertDatasetContract,
  checkDiffractionValues,
  type ContractOptions,
  diffractionStats,
  DiffractionStatsAccumulator,
  type Finding,
  formatValidationReport,
  REQUIRED_NPZ_KEYS,
  validateDataset,
  validateNpzFile,
  validateNpzFiles,
} from '../../src/data/dataset-contract.js'
import {ContractError} from '../../src/errors.js'
import type {NdArray} from '../../src/io/ndarray.js'
import {metadataArray, writeNpz} from '../../src/io/npz.js'
import {createRng} from '../../src/util/random.js'
import {tempDir} from '../io/helpers.js'

/** The Python fixture `valid_dataset`: 10 images, 64x64 float32 diffraction in [0,1), complex64 128² object and 64² probe, coords arange*110. */
function validDataset(): Record<string, NdArray> {
  const rng = createRng(42)
  const n = 10
  const diffraction = new Float32Array(n * 64 * 64)
  for (let k = 0; k < diffraction.length; k++) diffraction[k] = rng.next()
  const complex = (m: number) => Float32Array.from({length: 2 * m * m}, () => rng.next())
  return {
    diffraction: {dtype: '<f4', shape: [n, 64, 64], data: diffraction},
    objectGuess: {dtype: '<c8', shape: [128, 128], data: complex(128)},
    probeGuess: {dtype: '<c8', shape: [64, 64], data: complex(64)},
    xcoords: {dtype: '<f8', shape: [n], data: Float64Array.from({length: n}, (_, k) => k * 110)},
    ycoords: {dtype: '<f8', shape: [n], data: Float64Array.from({length: n}, (_, k) => k * 110)},
  }
}

const errors = (f: Finding[]) => f.filter((x) => x.level === 'error')
const messages = (f: Finding[]) => errors(f).map((x) => x.message)

function only(data: Record<string, NdArray>, opts: ContractOptions = {}): Finding {
  const e = errors(validateDataset(data, opts))
  expect(e, JSON.stringify(e)).toHaveLength(1)
  return e[0]!
}

describe('DATA-001 (ports test_dose_overlap_dataset_contract.py)', () => {
  it('happy path: no findings at all', () => {
    expect(validateDataset(validDataset())).toEqual([])
    expect(() => assertDatasetContract(validDataset())).not.toThrow()
  })

  it('a missing key', () => {
    const d = validDataset()
    delete d.objectGuess
    const f = only(d)
    expect(f.field).toBe('objectGuess')
    expect(f.message).toBe(
      "Missing required NPZ keys (DATA-001): ['objectGuess']. Expected keys: ['diffraction', 'objectGuess', 'probeGuess', 'xcoords', 'ycoords']",
    )
    expect(REQUIRED_NPZ_KEYS).toEqual(['diffraction', 'objectGuess', 'probeGuess', 'xcoords', 'ycoords'])
  })

  it('complex diffraction', () => {
    const d = validDataset()
    d.diffraction = {dtype: '<c8', shape: [10, 64, 64], data: new Float32Array(2 * 10 * 64 * 64)}
    expect(only(d).message).toBe('diffraction must be float (amplitude), got dtype=complex64. DATA-001 requires amplitude (sqrt of intensity).')
  })

  it('integer (raw count) diffraction', () => {
    const d = validDataset()
    d.diffraction = {dtype: '<u2', shape: [10, 64, 64], data: new Uint16Array(10 * 64 * 64)}
    expect(only(d).message).toMatch(/^diffraction must be float \(amplitude\), got dtype=uint16\./)
  })

  it('float64 diffraction passes silently', () => {
    const d = validDataset()
    d.diffraction = {dtype: '<f8', shape: [10, 64, 64], data: Float64Array.from(d.diffraction!.data as Float32Array)}
    expect(validateDataset(d)).toEqual([])
  })

  it('a float object (and a float probe)', () => {
    const d = validDataset()
    d.objectGuess = {dtype: '<f4', shape: [128, 128], data: new Float32Array(128 * 128)}
    expect(only(d).message).toBe('objectGuess must be complex dtype (complex64/complex128), got dtype=float32')
    const p = validDataset()
    p.probeGuess = {dtype: '<f8', shape: [64, 64], data: new Float64Array(64 * 64)}
    expect(only(p).message).toBe('probeGuess must be complex dtype (complex64/complex128), got dtype=float64')
  })

  it('integer coordinates', () => {
    const d = validDataset()
    d.ycoords = {dtype: '<i8', shape: [10], data: new BigInt64Array(10)}
    expect(only(d).message).toBe('ycoords must be float dtype, got dtype=int64')
  })

  it('truncated xcoords (and ycoords)', () => {
    const d = validDataset()
    d.xcoords = {dtype: '<f8', shape: [9], data: new Float64Array(9)}
    expect(only(d).message).toBe('xcoords length 9 != diffraction first axis 10')
    d.ycoords = {dtype: '<f8', shape: [11], data: new Float64Array(11)}
    expect(messages(validateDataset(d))).toEqual(['xcoords length 9 != diffraction first axis 10', 'ycoords length 11 != diffraction first axis 10'])
  })

  it('tight spacing passes for the dense view (the spacing gates were removed)', () => {
    const d = validDataset()
    d.xcoords = {dtype: '<f8', shape: [10], data: Float64Array.from({length: 10}, (_, k) => k * 0.5)}
    d.ycoords = {dtype: '<f8', shape: [10], data: Float64Array.from({length: 10}, (_, k) => k * 0.5)}
    expect(validateDataset(d, {view: 'dense'})).toEqual([])
  })

  it('K ≥ C passes (gridsize 2, K = 4 and 7)', () => {
    expect(validateDataset(validDataset(), {gridsize: 2, neighborCount: 4})).toEqual([])
    expect(validateDataset(validDataset(), {gridsize: 2, neighborCount: 7})).toEqual([])
  })

  it('K = 3 < C = 4 fails', () => {
    const f = only(validDataset(), {gridsize: 2, neighborCount: 3})
    expect(f.field).toBe('neighbor_count')
    expect(f.message).toBe(
      'neighbor_count=3 < C=4 (gridsize²=2²). OVERSAMPLING-001 requires K ≥ C for K-choose-C to work. Increase neighbor_count to at least 4.',
    )
  })

  it('neighbor_count None fails when gridsize > 1 (and is not needed for gridsize 1)', () => {
    expect(only(validDataset(), {gridsize: 3, neighborCount: null}).message).toBe(
      'neighbor_count required when gridsize=3 > 1 for oversampling validation (OVERSAMPLING-001)',
    )
    expect(validateDataset(validDataset(), {gridsize: 1})).toEqual([])
  })

  it('an unknown view is tolerated', () => {
    expect(validateDataset(validDataset(), {view: 'not-a-view'})).toEqual([])
  })

  it('reports every problem, spec checks first in spec order', () => {
    const d = validDataset()
    delete d.probeGuess
    d.diffraction = {dtype: '<c8', shape: [10, 64, 64], data: new Float32Array(2 * 10 * 64 * 64)}
    d.objectGuess = {dtype: '<f4', shape: [128, 128], data: new Float32Array(128 * 128)}
    d.xcoords = {dtype: '<i4', shape: [9], data: new Int32Array(9)}
    const checks = errors(validateDataset(d, {gridsize: 2, neighborCount: 2})).map((f) => f.check)
    expect(checks).toEqual([
      'DATA-001/keys',
      'DATA-001/diffraction-dtype',
      'DATA-001/complex-dtype',
      'DATA-001/coords-dtype',
      'DATA-001/coords-length',
      'OVERSAMPLING-001/k-ge-c',
    ])
  })
})

describe("the port's additional checks", () => {
  it('NaN and Inf in the diffraction', () => {
    const d = validDataset()
    const a = d.diffraction!.data as Float32Array
    a[5] = Number.NaN
    a[7] = Number.POSITIVE_INFINITY
    a[9] = Number.NEGATIVE_INFINITY
    expect(only(d).message).toBe('diffraction contains non-finite values: 1 NaN and 2 Inf of 40960 (first at flat index 5)')
  })
  it('negative amplitudes', () => {
    const d = validDataset()
    const a = d.diffraction!.data as Float32Array
    a[100] = -0.25
    a[200] = -0.5
    expect(only(d).message).toBe('diffraction has 2 negative values (min -0.5, first at flat index 100); amplitudes (sqrt of intensity) must be ≥ 0')
  })
  it('a probe that is not N x N', () => {
    const d = validDataset()
    d.probeGuess = {dtype: '<c8', shape: [64, 32], data: new Float32Array(2 * 64 * 32)}
    expect(only(d).message).toBe('probeGuess must be a square 2-D array (N, N), got shape (64, 32)')
    d.probeGuess = {dtype: '<c8', shape: [64, 64, 1], data: new Float32Array(2 * 64 * 64)}
    expect(only(d).message).toBe('probeGuess must be a square 2-D array (N, N), got shape (64, 64, 1)')
  })
  it('N of the diffraction not matching the probe (spec §15.1)', () => {
    const d = validDataset()
    d.probeGuess = {dtype: '<c8', shape: [128, 128], data: new Float32Array(2 * 128 * 128)}
    const f = only(d)
    expect(f.check).toBe('DATA-001/n-match')
    expect(f.message).toMatch(/^diffraction patterns are 64 x 64 but probeGuess is 128 x 128: N must be the same/)
  })
  it('diffraction that is not 3-D, or not square', () => {
    const d = validDataset()
    d.diffraction = {dtype: '<f4', shape: [10, 64, 64, 1], data: d.diffraction!.data}
    expect(only(d).message).toBe('diffraction must be 3-D (n_images, N, N), got shape (10, 64, 64, 1); squeeze the channel axis')
    d.diffraction = {dtype: '<f4', shape: [10, 4096], data: d.diffraction.data}
    expect(only(d).message).toBe('diffraction must be 3-D (n_images, N, N), got shape (10, 4096)')
    d.diffraction = {dtype: '<f4', shape: [10, 32, 128], data: d.diffraction.data}
    expect(only(d).message).toBe('diffraction patterns must be square (N, N), got 32 x 128')
  })
  it('objectGuess not 2-D, coordinates not 1-D or not finite', () => {
    const d = validDataset()
    d.objectGuess = {dtype: '<c8', shape: [16384], data: new Float32Array(2 * 16384)}
    expect(only(d).message).toBe('objectGuess must be 2-D (M, M), got shape (16384,)')
    const c = validDataset()
    c.xcoords = {dtype: '<f8', shape: [10, 1], data: new Float64Array(10)}
    expect(only(c).message).toBe('xcoords must be 1-D (n_images,), got shape (10, 1)')
    const n = validDataset()
    ;(n.ycoords!.data as Float64Array)[3] = Number.NaN
    expect(only(n).message).toBe('ycoords has 1 non-finite values (first at index 3)')
  })
  it('normalisation heuristics of §11 are warnings that never fail', () => {
    const d = validDataset()
    const a = d.diffraction!.data as Float32Array
    for (let k = 0; k < a.length; k++) a[k]! *= 50
    const f = validateDataset(d)
    expect(errors(f)).toEqual([])
    expect(f.map((x) => [x.level, x.check])).toEqual([['warning', 'DATA-001/normalised']])
    expect(f[0]!.message).toMatch(/^diffraction max 50 ≥ 10: the data look unnormalised/)
    expect(() => assertDatasetContract(d)).not.toThrow()
    // intensity-like: sparse bright peaks, max/mean >= 100
    const i = validDataset()
    const b = i.diffraction!.data as Float32Array
    b.fill(0.001)
    b[0] = 0.9
    const g = validateDataset(i)
    expect(g.map((x) => [x.level, x.check])).toEqual([['warning', 'DATA-001/amplitude']])
    expect(g[0]!.message).toMatch(/max\/mean = \d+(\.\d+)? ≥ 100: this looks like intensity/)
  })
  it('assertDatasetContract throws the first error as a ContractError naming file and field', () => {
    const d = validDataset()
    delete d.ycoords
    let e: unknown
    try {
      assertDatasetContract(d, {file: 'phase_c/dose_1000/patched_train.npz'})
    } catch (error) {
      e = error
    }
    expect(e).toBeInstanceOf(ContractError)
    expect((e as ContractError).message).toMatch(/^phase_c\/dose_1000\/patched_train\.npz: field 'ycoords': Missing required NPZ keys/)
  })
  it('chunked statistics equal one pass, wherever the chunks split', () => {
    const d = validDataset().diffraction!
    const a = d.data as Float32Array
    a[1234] = Number.NaN
    a[999] = -1
    const whole = diffractionStats(d)!
    for (const size of [1, 7, 4096, 40959]) {
      const acc = new DiffractionStatsAccumulator()
      for (let s = 0; s < a.length; s += size) acc.add(a.subarray(s, s + size), s)
      const r = acc.result()
      expect({...r, mean: undefined}).toEqual({...whole, mean: undefined})
      expect(r.mean!).toBeCloseTo(whole.mean!, 9)
    }
    expect(whole).toMatchObject({count: 40960, nan: 1, inf: 0, negative: 1, min: -1, firstNonFinite: 1234, firstNegative: 999})
    expect(checkDiffractionValues({...whole, nan: 0, negative: 0, firstNonFinite: null, firstNegative: null, min: 0})).toEqual([])
  })
})

describe('validateNpzFile (files on disk)', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir('study-validate-')
  })

  it('a valid file, stored or deflated, with JSON metadata: ok, with statistics', async () => {
    for (const compress of [true, false]) {
      const file = path.join(dir, `valid-${compress}.npz`)
      await writeNpz(file, {...validDataset(), _metadata: metadataArray({seed: 1})}, {compress})
      const r = await validateNpzFile(file, {chunkBytes: 1000})
      expect(r).toMatchObject({status: 'ok', errors: 0, warnings: 0, n_images: 10, N: 64, findings: []})
      const s = diffractionStats(validDataset().diffraction!)!
      expect(r.diffraction_stats).toMatchObject({count: 40960, nan: 0, negative: 0, min: s.min, max: s.max})
      expect(r.diffraction_stats!.mean!).toBeCloseTo(s.mean!, 9)
      expect(r.members.map((m) => `${m.name}:${m.dtype}`)).toEqual([
        'diffraction:float32',
        'objectGuess:complex64',
        'probeGuess:complex64',
        'xcoords:float64',
        'ycoords:float64',
        '_metadata:<U10',
      ])
    }
  })

  it('gives the same findings as the in-memory validator', async () => {
    const d = validDataset()
    ;(d.diffraction!.data as Float32Array)[17] = Number.NaN
    ;(d.diffraction!.data as Float32Array)[18] = -3
    d.objectGuess = {dtype: '<f4', shape: [128, 128], data: new Float32Array(128 * 128)}
    d.xcoords = {dtype: '<f8', shape: [9], data: new Float64Array(9)}
    const file = path.join(dir, 'bad.npz')
    await writeNpz(file, d)
    const r = await validateNpzFile(file, {gridsize: 2, neighborCount: 3, chunkBytes: 64})
    expect(r.status).toBe('failed')
    expect(r.findings).toEqual(validateDataset(d, {gridsize: 2, neighborCount: 3}))
    expect(r.errors).toBe(5)
  })

  it('a pickled _metadata is a warning, not a failure', async () => {
    const file = path.join(dir, 'pickled.npz')
    const {writeZipAtomic} = await import('../../src/io/zip-writer.js')
    const {npyParts} = await import('../../src/io/npy.js')
    const members = Object.entries(validDataset()).map(([k, a]) => {
      const {header, body} = npyParts(a)
      return {name: `${k}.npy`, parts: [header, body]}
    })
    const hdr = Buffer.from("\x93NUMPY\x01\x00\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': (), }".padEnd(127, ' ') + '\n', 'latin1')
    members.push({name: '_metadata.npy', parts: [hdr, Uint8Array.of(0x80, 4)]})
    await writeZipAtomic(file, members)
    const r = await validateNpzFile(file)
    expect(r.status).toBe('ok')
    expect(r.findings).toEqual([expect.objectContaining({level: 'warning', field: '_metadata', check: 'npz/pickled'})])
  })

  it('float16 diffraction passes the dtype check (it is float) but its values are reported as not checked', async () => {
    const file = path.join(dir, 'half.npz')
    const {writeZipAtomic} = await import('../../src/io/zip-writer.js')
    const {npyParts, npyHeaderBytes} = await import('../../src/io/npy.js')
    const members = Object.entries(validDataset())
      .filter(([k]) => k !== 'diffraction')
      .map(([k, a]) => {
        const {header, body} = npyParts(a)
        return {name: `${k}.npy`, parts: [header, body]}
      })
    const hdr = npyHeaderBytes('<f4', [10, 64, 64])
    hdr.set(new TextEncoder().encode("{'descr': '<f2'"), 10)
    members.push({name: 'diffraction.npy', parts: [hdr, new Uint8Array(2 * 10 * 64 * 64)]})
    await writeZipAtomic(file, members)
    const r = await validateNpzFile(file)
    expect(r.status).toBe('ok')
    expect(r.findings).toEqual([
      {level: 'warning', field: 'diffraction', check: 'npz/unsupported-dtype', message: 'diffraction has dtype float16 which JS cannot read; its values are not checked'},
    ])
  })

  it('an extra structured (record) member does not fail the file: it is reported as not checked', async () => {
    const file = path.join(dir, 'record.npz')
    const {writeZipAtomic} = await import('../../src/io/zip-writer.js')
    const {npyParts} = await import('../../src/io/npy.js')
    const members = Object.entries(validDataset()).map(([k, a]) => {
      const {header, body} = npyParts(a)
      return {name: `${k}.npy`, parts: [header, body]}
    })
    const dict = "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (2,), }"
    const hdr = Buffer.from(`\x93NUMPY\x01\x00\x76\x00${dict}`.padEnd(127, ' ') + '\n', 'latin1')
    members.push({name: 'rec.npy', parts: [hdr, new Uint8Array(24)]})
    await writeZipAtomic(file, members)
    const r = await validateNpzFile(file)
    expect(r.status).toBe('ok')
    expect(r.findings).toEqual([
      {level: 'warning', field: 'rec', check: 'npz/unsupported-dtype', message: 'rec has dtype structured which JS cannot read; its values are not checked'},
    ])
  })

  it('a structured diffraction fails the float check; an empty diffraction is reported as empty', async () => {
    const {writeZipAtomic} = await import('../../src/io/zip-writer.js')
    const {npyParts} = await import('../../src/io/npy.js')
    const file = path.join(dir, 'record-diff.npz')
    const members = Object.entries(validDataset())
      .filter(([k]) => k !== 'diffraction')
      .map(([k, a]) => {
        const {header, body} = npyParts(a)
        return {name: `${k}.npy`, parts: [header, body]}
      })
    const dict = "{'descr': [('re', '<f4'), ('im', '<f4')], 'fortran_order': False, 'shape': (10, 64, 64), }"
    const hdr = Buffer.from(`\x93NUMPY\x01\x00\x76\x00${dict}`.padEnd(127, ' ') + '\n', 'latin1')
    members.push({name: 'diffraction.npy', parts: [hdr, new Uint8Array(8 * 10 * 64 * 64)]})
    await writeZipAtomic(file, members)
    const r = await validateNpzFile(file)
    expect(r.status).toBe('failed')
    expect(r.findings).toContainEqual(expect.objectContaining({level: 'error', field: 'diffraction', check: 'DATA-001/diffraction-dtype'}))

    const empty = path.join(dir, 'empty.npz')
    const d = validDataset()
    await writeNpz(empty, {
      ...d,
      diffraction: {dtype: '<f4', shape: [0, 64, 64], data: new Float32Array(0)},
      xcoords: {dtype: '<f8', shape: [0], data: new Float64Array(0)},
      ycoords: {dtype: '<f8', shape: [0], data: new Float64Array(0)},
    })
    const report = formatValidationReport(await validateNpzFiles([empty]))
    expect(report).toMatch(/0 images, N=64, diffraction float32, empty/)
    expect(report).not.toMatch(/\?/)
  })

  it('missing, unreadable and corrupt files are reported, not thrown', async () => {
    const text = path.join(dir, 'notzip.npz')
    writeFileSync(text, 'hello')
    const good = path.join(dir, 'good.npz')
    await writeNpz(good, validDataset(), {compress: false})
    const corrupt = path.join(dir, 'corrupt.npz')
    const {readFileSync} = await import('node:fs')
    const bytes = readFileSync(good)
    bytes[bytes.indexOf(Buffer.from('objectGuess.npy')) + 200]! ^= 0xff // inside objectGuess data
    writeFileSync(corrupt, bytes)
    const res = await validateNpzFiles([good, path.join(dir, 'absent.npz'), text, corrupt])
    expect(res.files.map((f) => f.status)).toEqual(['ok', 'missing', 'failed', 'failed'])
    expect(res.counts).toEqual({ok: 1, failed: 2, missing: 1})
    expect(res.ok).toBe(false)
    expect(res.files[2]!.findings[0]!.message).toMatch(/not a valid \.npz \(zip\) file/)
    expect(res.files[3]!.findings).toEqual([
      {level: 'error', field: 'objectGuess', check: 'npz/integrity', message: expect.stringMatching(/CRC-32 mismatch/)},
    ])
    const text2 = formatValidationReport(res)
    expect(text2).toContain(`✓ ${good}: DATA-001 ok (10 images, N=64, diffraction float32 in [`)
    expect(text2).toContain(`✗ ${path.join(dir, 'absent.npz')}: not found`)
    expect(text2).toContain(`✗ ${corrupt}: 1 error`)
    expect(text2).toContain('    ✗ objectGuess: CRC-32 mismatch')
    expect(text2.split('\n').at(-1)).toBe('4 files: 1 ok, 2 failed, 1 missing')
  })
})
