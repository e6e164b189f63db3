/** Pure-JS .npy tests: header parsing without eval, every dtype, Fortran and big-endian decoding, bad headers. */
import {describe, expect, it} from 'vitest'

import {ContractError} from '../../src/errors.js'
import type {NdArray} from '../../src/io/ndarray.js'
import {encodeNpy, fortranToC, NPY_MAGIC, parseNpyHeader, readNpy} from '../../src/io/npy.js'
import {parsePyLiteral} from '../../src/io/py-literal.js'

/** Hand-made .npy bytes: version 1.0 header text (padded to 64) followed by raw data bytes. */
function npyBytes(header: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12
  let text = header
  const total = pre + text.length + 1
  text += ' '.repeat((64 - (total % 64)) % 64) + '\n'
  const out = new Uint8Array(pre + text.length + data.length)
  out.set(NPY_MAGIC)
  out[6] = version
  const dv = new DataView(out.buffer)
  if (version === 1) dv.setUint16(8, text.length, true)
  else dv.setUint32(8, text.length, true)
  for (let k = 0; k < text.length; k++) out[pre + k] = text.charCodeAt(k)
  out.set(data, pre + text.length)
  return out
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice()
}

describe('Python literal parser (npy header)', () => {
  it('parses the dict numpy writes, without eval', () => {
    const v = parsePyLiteral("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }")
    expect(v).toEqual({__dict: new Map<string, unknown>([['descr', '<f4'], ['fortran_order', false], ['shape', [3, 4]]])})
  })
  it('handles 1-tuples, empty tuples, double quotes, escapes, old long ints', () => {
    expect(parsePyLiteral('(5,)')).toEqual([5])
    expect(parsePyLiteral('()')).toEqual([])
    expect(parsePyLiteral('(5)')).toBe(5)
    expect(parsePyLiteral('"a\\\'b\\x41\\u00e9"')).toBe("a'bAé")
    expect(parsePyLiteral('(3L, 4L)')).toEqual([3, 4])
    expect(parsePyLiteral('[True, None]')).toEqual([true, null])
  })
  it('rejects code, junk and hostile nesting with a message', () => {
    expect(() => parsePyLiteral("__import__('os').system('rm -rf /')")).toThrow(/unexpected character/)
    expect(() => parsePyLiteral("{'a': 1} junk")).toThrow(/trailing/)
    expect(() => parsePyLiteral('('.repeat(100000))).toThrow(/nesting too deep/)
    expect(() => parsePyLiteral("{'a': 1, 'a': 2}")).toThrow(/duplicate key/)
    expect(() => parsePyLiteral("'unterminated")).toThrow(/unterminated/)
    expect(() => parsePyLiteral('(99999999999999999999,)')).toThrow(/too large/)
  })
})

describe('encodeNpy / readNpy round trip (every NdArray dtype)', () => {
  const cases: NdArray[] = [
    {dtype: '<f4', shape: [2, 3], data: Float32Array.of(1, -2.5, Number.NaN, Infinity, -0, 3e38)},
    {dtype: '<f8', shape: [3], data: Float64Array.of(Math.PI, -1e-300, Number.MAX_VALUE)},
    {dtype: '<c8', shape: [2], data: Float32Array.of(1, 2, -3, 4.5)},
    {dtype: '<c16', shape: [1, 1], data: Float64Array.of(1e-10, -7)},
    {dtype: '|i1', shape: [3], data: Int8Array.of(-128, 0, 127)},
    {dtype: '<i2', shape: [2], data: Int16Array.of(-32768, 32767)},
    {dtype: '<i4', shape: [2], data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1)},
    {dtype: '<i8', shape: [2], data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n)},
    {dtype: '|u1', shape: [2], data: Uint8Array.of(0, 255)},
    {dtype: '<u2', shape: [1], data: Uint16Array.of(65535)},
    {dtype: '<u4', shape: [1], data: Uint32Array.of(2 ** 32 - 1)},
    {dtype: '<u8', shape: [1], data: BigUint64Array.of(2n ** 64n - 1n)},
    {dtype: '|b1', shape: [2, 2], data: Uint8Array.of(1, 0, 0, 1)},
    {dtype: '<U5', shape: [3], data: ['', 'héllo', '😀x']},
    {dtype: '|S3', shape: [2], data: ['ab', '\xff\x01z']},
    {dtype: '<f8', shape: [], data: Float64Array.of(42)},
    {dtype: '<U11', shape: [], data: ['{"a": [1]}']},
    {dtype: '<f4', shape: [0, 4], data: new Float32Array(0)},
  ]
  for (const arr of cases) {
    it(`${arr.dtype} shape (${arr.shape.join(',')})`, () => {
      const bytes = encodeNpy(arr)
      expect(parseNpyHeader(bytes).dataOffset % 64).toBe(0) // numpy aligns data to 64 bytes
      const back = readNpy(bytes)
      expect(back.dtype).toBe(arr.dtype)
      expect(back.shape).toEqual(arr.shape)
      expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(arr.data as ArrayLike<unknown>))
    })
  }
  it("accepts numpy names ('float32') and sizeless '<U' and writes numpy descrs", () => {
    expect(readNpy(encodeNpy({dtype: 'float32', shape: [1], data: Float32Array.of(1)})).dtype).toBe('<f4')
    expect(readNpy(encodeNpy({dtype: '<U', shape: [2], data: ['a', 'abc']})).dtype).toBe('<U3')
  })
  it('refuses arrays whose data does not match dtype or shape, naming the member', () => {
    expect(() => encodeNpy({dtype: '<f4', shape: [3], data: Float32Array.of(1, 2)}, 'diffraction')).toThrow(
      /field 'diffraction'.*2 values but shape \(3\).*needs 3/,
    )
    expect(() => encodeNpy({dtype: '<c8', shape: [2], data: Float32Array.of(1, 2)}, 'probe')).toThrow(/interleaved/)
    expect(() => encodeNpy({dtype: '<f8', shape: [1], data: Float32Array.of(1)}, 'x')).toThrow(/needs data as Float64Array/)
    expect(() => encodeNpy({dtype: '<U2', shape: [1], data: ['abc']}, 's')).toThrow(/3 characters, more than dtype <U2/)
    expect(() => encodeNpy({dtype: '|S2', shape: [1], data: ['é€']}, 's')).toThrow(/does not fit/)
    expect(() => encodeNpy({dtype: '>f4', shape: [1], data: Float32Array.of(1)}, 's')).toThrow(/big-endian/)
    expect(() => encodeNpy({dtype: '<f2', shape: [1], data: Float32Array.of(1)}, 'h')).toThrow(/float16/)
  })
})

describe('readNpy of numpy layouts (hand-made bytes)', () => {
  it('converts Fortran order to C order (3-D, complex)', () => {
    // shape (2,3,2): Fortran storage index = i + 2*j + 6*k; value stored there = 100*i + 10*j + k
    const shape = [2, 3, 2]
    const f = new Float64Array(12)
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) f[i + 2 * j + 6 * k] = 100 * i + 10 * j + k
    const arr = readNpy(npyBytes(`{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 2), }`, bytesOf(f)))
    const want: number[] = []
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) want.push(100 * i + 10 * j + k)
    expect(arr.shape).toEqual(shape)
    expect(Array.from(arr.data as Float64Array)).toEqual(want)
    // complex: pairs move together
    const c = fortranToC(Float32Array.of(1, -1, 2, -2, 3, -3, 4, -4), [2, 2], 2, (n) => new Float32Array(n))
    expect(Array.from(c)).toEqual([1, -1, 3, -3, 2, -2, 4, -4])
  })
  it('converts big-endian numbers and UCS-4 strings to little endian', () => {
    const be = new Uint8Array(16)
    const dv = new DataView(be.buffer)
    dv.setFloat64(0, 1.5, false)
    dv.setFloat64(8, -2.25, false)
    expect(Array.from(readNpy(npyBytes(`{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }`, be)).data as Float64Array)).toEqual([1.5, -2.25])
    const i2 = Uint8Array.of(0xff, 0xfe, 0x01, 0x00)
    const a = readNpy(npyBytes(`{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }`, i2))
    expect(a.dtype).toBe('<i2')
    expect(Array.from(a.data as Int16Array)).toEqual([-2, 256])
    const u = new Uint8Array(8)
    new DataView(u.buffer).setUint32(0, 0x1f600, false)
    new DataView(u.buffer).setUint32(4, 0x41, false)
    expect(readNpy(npyBytes(`{'descr': '>U2', 'fortran_order': False, 'shape': (), }`, u)).data).toEqual(['😀A'])
  })
  it('reads version 2.0 and 3.0 headers', () => {
    const data = bytesOf(Float32Array.of(7))
    expect(readNpy(npyBytes(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }`, data, 2)).data).toEqual(Float32Array.of(7))
    expect(readNpy(npyBytes(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }`, data, 3)).data).toEqual(Float32Array.of(7))
  })

  const bad: Array<[string, Uint8Array, RegExp]> = [
    ['bad magic', new TextEncoder().encode('PK\x03\x04 not numpy at all'), /bad magic/],
    ['too short', NPY_MAGIC, /too short/],
    ['truncated header', npyBytes(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }`).subarray(0, 40), /truncated \.npy header/],
    ['version 9', Uint8Array.of(...NPY_MAGIC, 9, 0, 10, 0), /unsupported \.npy format version 9/],
    ['not a dict', npyBytes('[1, 2]'), /not a dict/],
    ['python code', npyBytes("{'descr': __import__('os'), 'fortran_order': False, 'shape': ()}"), /bad \.npy header: unexpected character/],
    ['missing keys', npyBytes("{'descr': '<f4', 'shape': (1,)}"), /keys are \[descr, shape\]/],
    ['negative dim', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), /non-negative integers/],
    ['overflowing shape', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}"), /overflow/],
    ['byte count overflow', npyBytes("{'descr': '<c16', 'fortran_order': False, 'shape': (4503599627370495,)}"), /too large/],
    ['structured dtype', npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"), /structured/],
    ['datetime dtype', npyBytes("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,)}"), /unsupported dtype/],
    ['object dtype', npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': ()}"), /pickled Python object/],
    ['data shorter than shape', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (10,)}", new Uint8Array(8)), /8 bytes but .* need 40 \(truncated\?\)/],
    ['data longer than shape', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", new Uint8Array(8)), /8 bytes but .* need 4/],
    ['bad code point', npyBytes("{'descr': '<U1', 'fortran_order': False, 'shape': (1,)}", Uint8Array.of(255, 255, 255, 255)), /bad string data/],
  ]
  for (const [what, bytes, re] of bad) {
    it(`rejects ${what} with a ContractError naming the member`, () => {
      let caught: unknown
      try {
        readNpy(bytes, 'diffraction', 'data/train.npz')
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(ContractError)
      expect(String((caught as Error).message)).toMatch(/^data\/train\.npz: field 'diffraction': /)
      expect((caught as Error).message).toMatch(re)
    })
  }
  it('rejects a header length field claiming gigabytes', () => {
    const b = Uint8Array.of(...NPY_MAGIC, 2, 0, 0, 0, 0, 0x40)
    expect(() => readNpy(b, 'x', 'f.npz')).toThrow(/header length .* exceeds/)
  })
})
