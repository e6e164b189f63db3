/**
 * Pure-JS .npz tests (always run): round trips, determinism, atomic writes, streaming scans, metadata, and
 * corrupt / truncated / malicious archives built by hand. Every failure must be a ContractError naming the file
 * and member, and must come back quickly (each test has a 5 s limit: a hang or a runaway inflate fails it).
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {deflateRawSync} from 'node:zlib'
import {beforeAll, describe, expect, it} from 'vitest'

import {ContractError, MissingInputError} from '../../src/errors.js'
import type {NdArray} from '../../src/io/ndarray.js'
import {npyHeaderBytes} from '../../src/io/npy.js'
import {listNpz, metadataArray, readNpz, readNpzMetadata, scanNpzMember, verifyNpz, writeNpz} from '../../src/io/npz.js'
import {ZipReader} from '../../src/io/zip-reader.js'
import {writeZipAtomic} from '../../src/io/zip-writer.js'
import {plain, tempDir} from './helpers.js'

const FAST = 5000

function sample(): Record<string, NdArray> {
  const n = 5
  const diffraction = new Float32Array(n * 8 * 8)
  for (let k = 0; k < diffraction.length; k++) diffraction[k] = Math.sin(k) ** 2
  return {
    diffraction: {dtype: '<f4', shape: [n, 8, 8], data: diffraction},
    probeGuess: {dtype: '<c8', shape: [8, 8], data: Float32Array.from({length: 128}, (_, k) => k % 7)},
    xcoords: {dtype: '<f8', shape: [n], data: Float64Array.from({length: n}, (_, k) => k * 1.5)},
    scan_index: {dtype: '<i8', shape: [n], data: BigInt64Array.from({length: n}, (_, k) => BigInt(k))},
    _metadata: metadataArray({seed: 42}),
  }
}

/** Offsets of the central-directory entries of a small (non-zip64) archive, for patching fields. */
function centralEntries(buf: Buffer): number[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  const count = buf.readUInt16LE(eocd + 10)
  let p = buf.readUInt32LE(eocd + 16)
  const out: number[] = []
  for (let e = 0; e < count; e++) {
    out.push(p)
    p += 46 + buf.readUInt16LE(p + 28) + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32)
  }
  return out
}

function replaceAll(buf: Buffer, from: string, to: string): Buffer {
  expect(from.length).toBe(to.length)
  let at = buf.indexOf(from)
  expect(at).toBeGreaterThanOrEqual(0)
  while (at >= 0) {
    buf.write(to, at, 'latin1')
    at = buf.indexOf(from, at + 1)
  }
  return buf
}

async function expectContract(p: Promise<unknown>, file: string, member: string | undefined, re: RegExp): Promise<ContractError> {
  let caught: unknown
  try {
    await p
  } catch (error) {
    caught = error
  }
  expect(caught, 'expected a ContractError').toBeInstanceOf(ContractError)
  const e = caught as ContractError
  expect(e.file).toBe(file)
  if (member !== undefined) {
    expect(e.field).toBe(member)
    expect(e.message).toContain(`field '${member}'`)
  }
  const prefix = member === undefined ? `${file}: ` : `${file}: field '${member}': `
  expect(e.message.startsWith(prefix), e.message).toBe(true)
  expect(e.message.slice(prefix.length)).toMatch(re)
  return e
}

describe('writeNpz / readNpz / listNpz', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir()
  })

  for (const compress of [true, false]) {
    it(`round trips (${compress ? 'deflated' : 'stored'}) and lists without reading data`, async () => {
      const file = path.join(dir, `rt-${compress}.npz`)
      const arrays = sample()
      await writeNpz(file, arrays, {compress})
      const list = await listNpz(file)
      expect(list.map((m) => [m.name, m.dtype, m.shape, m.compressed, m.pickled])).toEqual([
        ['diffraction', '<f4', [5, 8, 8], compress, false],
        ['probeGuess', '<c8', [8, 8], compress, false],
        ['xcoords', '<f8', [5], compress, false],
        ['scan_index', '<i8', [5], compress, false],
        ['_metadata', '<U11', [], compress, false],
      ])
      const back = await readNpz(file)
      for (const [k, arr] of Object.entries(arrays)) {
        expect(back[k]!.dtype).toBe(arr.dtype)
        expect(back[k]!.shape).toEqual(arr.shape)
        expect(plain(back[k]!)).toEqual(plain(arr))
      }
      expect(await readNpzMetadata(file)).toEqual({kind: 'json', value: {seed: 42}})
    })
  }

  it('reads only the members asked for', async () => {
    const file = path.join(dir, 'only.npz')
    await writeNpz(file, sample())
    const got = await readNpz(file, {members: ['xcoords', 'probeGuess']})
    expect(Object.keys(got).sort()).toEqual(['probeGuess', 'xcoords'])
  }, FAST)

  it('a missing member names the file, the member and the members present', async () => {
    const file = path.join(dir, 'missing.npz')
    await writeNpz(file, sample())
    await expectContract(readNpz(file, {members: ['Y']}), file, 'Y', /member not found; members are: diffraction, probeGuess, xcoords, scan_index, _metadata/)
  })

  it('writes byte-identical files for identical arrays (deterministic)', async () => {
    const a = path.join(dir, 'det-a.npz')
    const b = path.join(dir, 'det-b.npz')
    await writeNpz(a, sample())
    await writeNpz(b, sample())
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true)
  })

  it('is atomic: a failed write leaves the old file intact and no temp files', async () => {
    const file = path.join(dir, 'atomic', 'data.npz')
    await writeNpz(file, sample())
    const before = readFileSync(file)
    await expect(writeNpz(file, {...sample(), bad: {dtype: '<f4', shape: [3], data: Float32Array.of(1)}})).rejects.toThrow(
      /data\.npz: field 'bad': data has 1 values but shape \(3\)/,
    )
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(readdirSync(path.dirname(file))).toEqual(['data.npz'])
  })

  it('refuses keys that are paths', async () => {
    const file = path.join(dir, 'keys.npz')
    await expectContract(writeNpz(file, {'../evil': sample().xcoords!}), file, '../evil', /'\.\.' path component/)
    expect(existsSync(file)).toBe(false)
  })

  it('zip64 records (forced) read back', async () => {
    const file = path.join(dir, 'z64.npz')
    await writeNpz(file, sample(), {zip64: 'always', compress: false})
    expect(readFileSync(file).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true)
    expect(plain((await readNpz(file, {members: ['diffraction']})).diffraction!)).toEqual(plain(sample().diffraction!))
  })

  it('scanNpzMember streams chunks (stored and deflated) that cover the array exactly once', async () => {
    for (const compress of [true, false]) {
      const file = path.join(dir, `scan-${compress}.npz`)
      const big = new Float32Array(100_003).map((_, k) => (k % 1000) - 3)
      await writeNpz(file, {diffraction: {dtype: '<f4', shape: [100_003], data: big}}, {compress})
      let sum = 0
      let seen = 0
      let chunks = 0
      await scanNpzMember(
        file,
        'diffraction',
        ({data, start}) => {
          expect(start).toBe(seen)
          for (let k = 0; k < data.length; k++) sum += (data as Float32Array)[k]!
          seen += data.length
          chunks++
        },
        {chunkBytes: 4096},
      )
      expect(seen).toBe(big.length)
      expect(chunks).toBeGreaterThan(90)
      expect(sum).toBe(big.reduce((a, b) => a + b, 0))
    }
  })

  it('members larger than one streaming chunk (not a multiple of it) scan and verify', async () => {
    for (const compress of [false, true]) {
      const file = path.join(dir, `big-${compress}.npz`)
      const n = (4 << 20) / 8 + 12_345
      const data = Float64Array.from({length: n}, (_, k) => k)
      await writeNpz(file, {x: {dtype: '<f8', shape: [n], data}}, {compress})
      let sum = 0
      let count = 0
      await scanNpzMember(file, 'x', ({data: d}) => {
        for (let k = 0; k < d.length; k++) sum += (d as Float64Array)[k]!
        count += d.length
      })
      expect(count).toBe(n)
      expect(sum).toBe((n * (n - 1)) / 2)
      expect((await verifyNpz(file)).map((m) => m.name)).toEqual(['x'])
      expect((await readNpz(file)).x!.data).toEqual(data)
    }
  })

  it('readNpzMetadata: absent, text', async () => {
    const a = path.join(dir, 'nometa.npz')
    await writeNpz(a, {x: sample().xcoords!})
    expect(await readNpzMetadata(a)).toEqual({kind: 'absent'})
    const b = path.join(dir, 'textmeta.npz')
    await writeNpz(b, {_metadata: {dtype: '<U5', shape: [], data: ['hello']}})
    expect(await readNpzMetadata(b)).toEqual({kind: 'text', value: 'hello'})
  })
})

describe('corrupt, truncated and malicious files', () => {
  let dir: string
  let good: Buffer
  beforeAll(async () => {
    dir = tempDir()
    await writeNpz(path.join(dir, 'good.npz'), {AAAA: sample().xcoords!, BBBB: sample().diffraction!}, {compress: false})
    good = readFileSync(path.join(dir, 'good.npz'))
  })
  const put = (name: string, bytes: Uint8Array) => {
    const file = path.join(dir, name)
    writeFileSync(file, bytes)
    return file
  }

  it('a missing file is a MissingInputError', async () => {
    await expect(listNpz(path.join(dir, 'nope.npz'))).rejects.toBeInstanceOf(MissingInputError)
  })
  it('a folder, an empty file, a text file', async () => {
    await expectContract(listNpz(dir), dir, undefined, /is a folder/)
    const empty = put('empty.npz', new Uint8Array(0))
    await expectContract(listNpz(empty), empty, undefined, /too short for a zip archive/)
    const text = put('text.npz', new TextEncoder().encode('diffraction,x\n1,2\n'.repeat(10)))
    await expectContract(readNpz(text), text, undefined, /no end-of-central-directory/)
  }, FAST)
  it('a FIFO or a device is refused at once (no blocking open), naming the file', async () => {
    const fifo = path.join(dir, 'pipe.npz')
    let haveFifo = true
    try {
      execFileSync('mkfifo', [fifo])
    } catch {
      haveFifo = false
      console.log('note: mkfifo unavailable; FIFO case skipped')
    }
    if (haveFifo) await expectContract(listNpz(fifo), fifo, undefined, /is a FIFO \(named pipe\), expected an \.npz file/)
    if (existsSync('/dev/zero')) await expectContract(readNpz('/dev/zero'), '/dev/zero', undefined, /is a character device, expected an \.npz file/)
  }, FAST)
  it('a truncated archive (tail cut off)', async () => {
    const f = put('cut.npz', good.subarray(0, good.length - 30))
    await expectContract(readNpz(f), f, undefined, /truncated/)
    const f2 = put('cut2.npz', Buffer.concat([good.subarray(0, 200), good.subarray(good.length - 22)]))
    await expectContract(readNpz(f2), f2, undefined, /past the end of the file|truncated/)
  }, FAST)
  it('a flipped data byte fails the CRC check', async () => {
    const bad = Buffer.from(good)
    const at = bad.indexOf(Buffer.from(new Float64Array([1.5]).buffer)) // xcoords[1]
    bad[at + 3]! ^= 0x10
    const f = put('crc.npz', bad)
    await expectContract(readNpz(f), f, 'AAAA', /CRC-32 mismatch/)
  }, FAST)
  it("member names with '..', absolute paths, backslashes; duplicates", async () => {
    for (const [to, re] of [
      ['../A', /'\.\.' path component/],
      ['/tmp', /absolute path/],
      ['C:\\A', /backslash/],
    ] as const) {
      const f = put(`name-${to.replace(/\W/g, '_')}.npz`, replaceAll(Buffer.from(good), 'AAAA', to))
      await expectContract(listNpz(f), f, to, re)
    }
    const dup = put('dup.npz', replaceAll(Buffer.from(good), 'BBBB', 'AAAA'))
    await expectContract(readNpz(dup), dup, 'AAAA', /duplicate member/)
  }, FAST)
  it('encrypted members and unknown compression methods', async () => {
    const enc = Buffer.from(good)
    enc.writeUInt16LE(1, centralEntries(enc)[0]! + 8)
    const f = put('enc.npz', enc)
    await expectContract(listNpz(f), f, 'AAAA', /encrypted/)
    const bz = Buffer.from(good)
    bz.writeUInt16LE(12, centralEntries(bz)[1]! + 10)
    const g = put('bzip2.npz', bz)
    await expectContract(listNpz(g), g, 'BBBB', /unsupported compression method 12/)
  }, FAST)
  it('a header whose shape disagrees with the member size', async () => {
    const f = path.join(dir, 'short.npz')
    await writeZipAtomic(f, [{name: 'diffraction.npy', parts: [npyHeaderBytes('<f4', [1000, 64, 64]), new Uint8Array(4000)]}])
    await expectContract(listNpz(f), f, 'diffraction', /implies 16384128 bytes but the member holds 4128 \(truncated\?\)/)
    const g = path.join(dir, 'overflow.npz')
    const hdr = Buffer.from("\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (9007199254740991, 9007199254740991), }".padEnd(127, ' ') + '\n', 'latin1')
    await writeZipAtomic(g, [{name: 'x.npy', parts: [hdr, new Uint8Array(8)]}])
    await expectContract(readNpz(g), g, 'x', /too many elements \(overflow\)/)
  }, FAST)
  it('a member that is not .npy data, and a garbage header', async () => {
    const f = path.join(dir, 'notnpy.npz')
    await writeZipAtomic(f, [{name: 'diffraction.npy', parts: [new TextEncoder().encode('hello world, not numpy')]}])
    await expectContract(readNpz(f), f, 'diffraction', /bad magic/)
    const g = path.join(dir, 'garbage.npz')
    const hdr = npyHeaderBytes('<f4', [1])
    hdr.set(new TextEncoder().encode("{'descr': eval('1'), "), 10)
    await writeZipAtomic(g, [{name: 'diffraction.npy', parts: [hdr, new Uint8Array(4)]}])
    await expectContract(readNpz(g), g, 'diffraction', /bad \.npy header/)
  }, FAST)
  it('a zip bomb: inflate stops at the declared size', async () => {
    // header says 100 bytes of uint8; the deflate stream expands to 200 MB of zeros
    const header = npyHeaderBytes('|u1', [100])
    const f = path.join(dir, 'bomb.npz')
    await writeZipAtomic(f, [{name: 'diffraction.npy', parts: [header, new Uint8Array(100)]}], {compress: true})
    const buf = readFileSync(f)
    const [cd] = centralEntries(buf)
    const localNameEnd = 30 + 'diffraction.npy'.length
    const bombStream = deflateRawSync(Buffer.concat([Buffer.from(header), Buffer.alloc(200 << 20)]), {level: 9})
    const rebuilt = Buffer.concat([buf.subarray(0, localNameEnd), bombStream, buf.subarray(buf.readUInt32LE(cd! + 42) + localNameEnd + buf.readUInt32LE(cd! + 20))])
    // fix the central directory: compressed size and offset of the directory
    const cd2 = rebuilt.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
    rebuilt.writeUInt32LE(bombStream.length, cd2 + 20)
    rebuilt.writeUInt32LE(bombStream.length, 18)
    rebuilt.writeUInt32LE(cd2, rebuilt.length - 22 + 16)
    const g = put('bomb2.npz', rebuilt)
    expect((await listNpz(g))[0]).toMatchObject({name: 'diffraction', uncompressedSize: 228, compressed: true})
    await expectContract(readNpz(g), g, 'diffraction', /inflates to more than its declared 228 bytes \(zip bomb or corrupt\)/)
    await expectContract(scanNpzMember(g, 'diffraction', () => {}), g, 'diffraction', /inflates to more than its declared/)
    // the streaming inflate (used for large members) stops at the cap too
    const zip = await ZipReader.open(g)
    zip.inflateInMemoryLimit = 0
    await expectContract(zip.read(zip.entries[0]!), g, 'diffraction', /inflates to more than its declared 228 bytes/)
    await zip.close()
  }, FAST)
  it('a declared size deflate cannot produce is refused before allocating', async () => {
    const n = 4_000_000_000
    const header = npyHeaderBytes('|u1', [n])
    const f = path.join(dir, 'liar.npz')
    await writeZipAtomic(f, [{name: 'diffraction.npy', parts: [header, new Uint8Array(10)]}], {compress: true})
    const buf = readFileSync(f)
    buf.writeUInt32LE(n + header.length, centralEntries(buf)[0]! + 24)
    const g = put('liar2.npz', buf)
    await expectContract(readNpz(g), g, 'diffraction', /impossible for deflate/)
  }, FAST)
  it('a truncated deflate stream', async () => {
    const f = path.join(dir, 'trunc-deflate.npz')
    await writeZipAtomic(f, [{name: 'x.npy', parts: [npyHeaderBytes('<f8', [5000]), new Uint8Array(new Float64Array(5000).map(Math.random).buffer)]}])
    const buf = readFileSync(f)
    const cd = centralEntries(buf)[0]!
    buf.writeUInt32LE(Math.floor(buf.readUInt32LE(cd + 20) / 2), cd + 20)
    const g = put('trunc-deflate2.npz', buf)
    await expectContract(readNpz(g), g, 'x', /corrupt deflate data|inflates to/)
    const zip = await ZipReader.open(g)
    zip.inflateInMemoryLimit = 0
    await expectContract(zip.read(zip.entries[0]!), g, 'x', /corrupt deflate data|inflates to/)
    await zip.close()
  }, FAST)
  it('a non-.npy member comes back as raw bytes (numpy returns bytes), and corrupt members do not block others', async () => {
    const f = path.join(dir, 'mixed.npz')
    await writeZipAtomic(f, [
      {name: 'x.npy', parts: [npyHeaderBytes('<f8', [1]), new Uint8Array(new Float64Array([2.5]).buffer)]},
      {name: 'notes.txt', parts: [new TextEncoder().encode('hello')]},
      {name: 'broken.npy', parts: [new TextEncoder().encode('garbage')]},
    ])
    expect(Array.from((await readNpz(f, {members: ['notes.txt']}))['notes.txt']!.data as Uint8Array)).toEqual([104, 101, 108, 108, 111])
    expect(Array.from((await readNpz(f, {members: ['x']})).x!.data as Float64Array)).toEqual([2.5])
    await expectContract(listNpz(f), f, 'broken', /bad magic/)
  }, FAST)
  it('a central directory pointing at a bad local header, and an entry count that cannot fit', async () => {
    const bad = Buffer.from(good)
    bad.writeUInt32LE(0xdeadbeef, 0) // first local header signature
    const f = put('badlocal.npz', bad)
    await expectContract(readNpz(f), f, 'AAAA', /bad local file header/)
    const many = Buffer.from(good)
    many.writeUInt16LE(60000, many.length - 22 + 10)
    const g = put('count.npz', many)
    await expectContract(listNpz(g), g, undefined, /60000 entries cannot fit/)
  }, FAST)
  it('a dtype JS cannot hold (float16) is listed, and a clear error only when read', async () => {
    const f = path.join(dir, 'half.npz')
    const hdr = npyHeaderBytes('<f4', [4])
    hdr.set(new TextEncoder().encode("{'descr': '<f2'"), 10)
    await writeZipAtomic(f, [
      {name: 'h.npy', parts: [hdr, new Uint8Array(8)]},
      {name: 'x.npy', parts: [npyHeaderBytes('<f8', [1]), new Uint8Array(8)]},
    ])
    const list = await listNpz(f)
    expect(list[0]).toMatchObject({name: 'h', dtype: '<f2', shape: [4], unsupported: expect.stringMatching(/float16 is not supported/)})
    expect(Object.keys(await readNpz(f, {members: ['x']}))).toEqual(['x'])
    await expectContract(readNpz(f), f, 'h', /unsupported dtype "<f2" \(float16\).*convert to float32/)
  }, FAST)
  it('a structured (record) member is listed as unsupported, and a clear error only when read', async () => {
    const f = path.join(dir, 'record.npz')
    // the header numpy writes for np.zeros(2, dtype=[('a', '<i4'), ('b', '<f8')])
    const dict = "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (2,), }"
    const hdr = Buffer.from(`\x93NUMPY\x01\x00\x76\x00${dict}`.padEnd(127, ' ') + '\n', 'latin1')
    await writeZipAtomic(f, [
      {name: 'rec.npy', parts: [hdr, new Uint8Array(2 * 12)]},
      {name: 'x.npy', parts: [npyHeaderBytes('<f8', [1]), new Uint8Array(8)]},
    ])
    const list = await listNpz(f)
    expect(list[0]).toMatchObject({name: 'rec', dtype: 'structured', shape: [2], unsupported: expect.stringMatching(/structured \(record\) dtypes are not supported/)})
    expect(Object.keys(await readNpz(f, {members: ['x']}))).toEqual(['x'])
    await expectContract(readNpz(f), f, 'rec', /structured \(record\) dtypes are not supported; save plain arrays/)
  }, FAST)
  it('a single .npy file given where an .npz is expected is named as such', async () => {
    const f = path.join(dir, 'single.npz')
    writeFileSync(f, Buffer.concat([npyHeaderBytes('<f8', [2]), Buffer.alloc(16)]))
    await expectContract(listNpz(f), f, undefined, /single \.npy array \(np\.save\), not an \.npz archive/)
    const tiny = path.join(dir, 'tiny.npz')
    writeFileSync(tiny, Buffer.from('\x93NUMPY', 'latin1'))
    await expectContract(listNpz(tiny), tiny, undefined, /single \.npy array/)
  }, FAST)
  it('a pickled member is listed, skipped by default, and explained when asked for', async () => {
    const f = path.join(dir, 'pickle.npz')
    const hdr = Buffer.from("\x93NUMPY\x01\x00\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': (), }".padEnd(127, ' ') + '\n', 'latin1')
    await writeZipAtomic(f, [
      {name: 'x.npy', parts: [npyHeaderBytes('<f8', [1]), new Uint8Array(8)]},
      {name: '_metadata.npy', parts: [hdr, Uint8Array.of(0x80, 0x04, 0x95, 0x2e)]},
    ])
    expect((await listNpz(f)).map((m) => [m.name, m.pickled])).toEqual([['x', false], ['_metadata', true]])
    expect(Object.keys(await readNpz(f))).toEqual(['x'])
    await expectContract(readNpz(f, {members: ['_metadata']}), f, '_metadata', /pickled Python object.*re-save it without pickle/)
    expect(await readNpzMetadata(f)).toEqual({kind: 'pickled'})
  }, FAST)
})
