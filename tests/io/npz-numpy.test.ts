/**
 * Round trips against real numpy, both directions: numpy writes (savez, savez_compressed, zip64 records,
 * pickled _metadata) and we read; we write (stored, deflated, forced zip64) and numpy reads with
 * allow_pickle=False. The reference values come from numpy itself (numpy_interop.py), never from our reader.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {encodeNpy, listNpz, metadataArray, readNpy, readNpz, readNpzMetadata, scanNpzMember, writeNpz} from '../../src/io/npz.js'
import {type Described, fromDescribed, hasNumpy, interopScript, littleEndian, plain, python, tempDir} from './helpers.js'

describe.skipIf(!hasNumpy)('NPZ interop with numpy', () => {
  let dir: string
  let expected: Record<string, Described>

  beforeAll(() => {
    dir = tempDir()
    python([interopScript, 'make', dir])
    expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Described>
  })

  it('covers every dtype the issue lists', () => {
    const dtypes = new Set(Object.values(expected).map((d) => d.dtype))
    for (const t of ['<f4', '<f8', '<c8', '<c16', '|i1', '<i2', '<i4', '<i8', '|u1', '<u2', '<u4', '<u8', '|b1', '>f8', '>c16', '>i4', '>U8'])
      expect(dtypes).toContain(t)
    expect(Object.values(expected).some((d) => d.shape.length === 0)).toBe(true)
    expect(Object.values(expected).some((d) => d.fortran)).toBe(true)
  })

  for (const file of ['stored.npz', 'deflated.npz', 'zip64.npz']) {
    it(`reads numpy's ${file}: every member equals numpy's values (C order, little endian)`, async () => {
      const got = await readNpz(path.join(dir, file))
      expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort())
      for (const [key, want] of Object.entries(expected)) {
        const ref = fromDescribed(want)
        expect({key, dtype: got[key]!.dtype, shape: got[key]!.shape}).toEqual({key, dtype: ref.dtype, shape: want.shape})
        expect(plain(got[key]!), key).toEqual(plain(ref))
      }
    })
  }

  it('lists members without reading data: dtype as stored, fortran flag, compression', async () => {
    const stored = await listNpz(path.join(dir, 'stored.npz'))
    const deflated = await listNpz(path.join(dir, 'deflated.npz'))
    const byName = new Map(deflated.map((m) => [m.name, m]))
    expect(stored.every((m) => !m.compressed && m.compressedSize === m.uncompressedSize)).toBe(true)
    expect(deflated.every((m) => m.compressed)).toBe(true)
    expect(byName.get('be_f8')).toMatchObject({dtype: '<f8', storedDtype: '>f8', shape: [4], pickled: false})
    expect(byName.get('fortran_f4')).toMatchObject({dtype: '<f4', shape: [3, 4, 5], fortranOrder: true})
    expect(byName.get('zero_d_f8')).toMatchObject({shape: []})
  })

  it("reports numpy's pickled _metadata instead of crashing", async () => {
    const file = path.join(dir, 'pickled.npz')
    const list = await listNpz(file)
    expect(list.find((m) => m.name === '_metadata')).toMatchObject({pickled: true, dtype: '|O', shape: []})
    const all = await readNpz(file)
    expect(Object.keys(all)).toEqual(['diffraction'])
    await expect(readNpz(file, {members: ['_metadata']})).rejects.toThrow(/pickled\.npz.*_metadata.*pickled Python object.*re-save/s)
    expect(await readNpzMetadata(file)).toEqual({kind: 'pickled'})
  })

  for (const variant of [
    {name: 'deflated', opts: {}},
    {name: 'stored', opts: {compress: false}},
    {name: 'zip64', opts: {zip64: 'always' as const}},
  ]) {
    it(`numpy reads what we write (${variant.name}) with allow_pickle=False`, async () => {
      const arrays = Object.fromEntries(Object.entries(expected).map(([k, d]) => [k, fromDescribed(d)]))
      const file = path.join(dir, `ours-${variant.name}.npz`)
      await writeNpz(file, arrays, variant.opts)
      const back = JSON.parse(python([interopScript, 'dump', file])) as Record<string, Described>
      expect(Object.keys(back).sort()).toEqual(Object.keys(expected).sort())
      for (const [key, want] of Object.entries(expected)) {
        expect(back[key], key).toEqual({...want, dtype: littleEndian(want.dtype), fortran: false})
      }
    })
  }

  it('numpy reads large members we deflate as a stream (> 1 MiB), stored and deflated', async () => {
    const n = 700_001
    const data = Float32Array.from({length: n}, (_, k) => Math.sin(k) * (k % 97))
    let sum = 0
    for (const v of data) sum += v
    for (const compress of [true, false]) {
      const file = path.join(dir, `large-${compress}.npz`)
      await writeNpz(file, {diffraction: {dtype: '<f4', shape: [n], data}}, {compress})
      const out = python(['-c', `import numpy as np, sys, json
a = np.load(sys.argv[1])['diffraction']
print(json.dumps([a.dtype.str, a.shape[0], float(a.astype(np.float64).sum()), float(a[123457])]))`, file])
      const [dtype, len, pySum, v] = JSON.parse(out) as [string, number, number, number]
      expect([dtype, len, v]).toEqual(['<f4', n, data[123457]])
      expect(pySum).toBeCloseTo(sum, 3) // float64 sums of the same float32 values, different order
    }
  })

  it('our JSON metadata is a 0-d <U array numpy loads without pickle', async () => {
    const meta = {schema_version: '1.0.0', seed: 42, note: 'dose 1e3 — ünïcode 😀', nested: {a: [1, 2.5, null]}}
    const file = path.join(dir, 'meta.npz')
    await writeNpz(file, {_metadata: metadataArray(meta)})
    const out = python(['-c', `import numpy as np, json, sys
z = np.load(sys.argv[1], allow_pickle=False)
m = z['_metadata']
print(json.dumps({'dtype': m.dtype.kind, 'ndim': m.ndim, 'value': json.loads(str(m))}))`, file])
    expect(JSON.parse(out)).toEqual({dtype: 'U', ndim: 0, value: meta})
    expect(await readNpzMetadata(file)).toEqual({kind: 'json', value: meta})
  })

  it('reads JSON metadata numpy wrote as a plain str array (overlap v2 style)', async () => {
    const file = path.join(dir, 'v2meta.npz')
    python(['-c', `import numpy as np, json, sys
np.savez(sys.argv[1], x=np.zeros(2), _metadata=json.dumps({'geometry_acceptance_bound': 0.05}))`, file])
    expect(await readNpzMetadata(file)).toEqual({kind: 'json', value: {geometry_acceptance_bound: 0.05}})
  })

  it('single .npy files: numpy.save output decodes, and numpy reads encodeNpy output', () => {
    const npy = path.join(dir, 'one.npy')
    python(['-c', `import numpy as np, sys
np.save(sys.argv[1], np.asfortranarray(np.arange(12, dtype='>i4').reshape(3, 4)))`, npy])
    const arr = readNpy(new Uint8Array(readFileSync(npy)))
    expect(arr).toMatchObject({dtype: '<i4', shape: [3, 4]})
    expect(Array.from(arr.data as Int32Array)).toEqual(Array.from({length: 12}, (_, k) => k))
    const mine = path.join(dir, 'mine.npy')
    writeFileSync(mine, encodeNpy({dtype: '<c16', shape: [2], data: Float64Array.of(1, -2, 3.5, 4)}))
    const out = python(['-c', `import numpy as np, sys
a = np.load(sys.argv[1]); print(a.dtype.str, a.shape, a.tolist())`, mine])
    expect(out.trim()).toBe("<c16 (2,) [(1-2j), (3.5+4j)]")
  })

  it('scanNpzMember streams numpy data in small chunks with the same values', async () => {
    for (const file of ['stored.npz', 'deflated.npz']) {
      const values: number[] = []
      const info = await scanNpzMember(path.join(dir, file), 'be_f8', (c) => values.push(...Array.from(c.data as Float64Array)), {chunkBytes: 8})
      expect(info.name).toBe('be_f8')
      expect(values).toEqual(plain(fromDescribed(expected['be_f8']!)))
    }
  })
})
