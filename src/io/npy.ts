/**
 * .npy encode/decode, numpy-compatible (format versions 1.0, 2.0, 3.0).
 *
 * Reading: every numeric dtype of NdArray (f4 f8 c8 c16 i1..i8 u1..u8 b1), `<U`/`>U` and `|S` strings,
 * 0-d arrays, C and Fortran order (Fortran is converted to C order), little and big endian (big is converted
 * to little). Pickled object arrays (`|O`) are reported as such (NpyPickledError), never unpickled.
 * Writing: C order, little endian, version 1.0 (2.0 when the header needs it), header padded to 64 bytes.
 * The header is a Python dict literal, parsed without eval (py-literal.ts).
 */
import {ContractError} from '../errors.js'
import type {NdArray, NdData} from './ndarray.js'
import {isPyDict, parsePyLiteral, PyLiteralError} from './py-literal.js'

export const NPY_MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59) // \x93NUMPY
/** numpy refuses headers longer than this by default (max_header_size); we allow a little more. */
const MAX_HEADER_LEN = 1 << 20

/** Where an array comes from, for error messages. */
export interface NpyWhere {
  file?: string
  member?: string
}

export type DtypeKind = 'f' | 'c' | 'i' | 'u' | 'b' | 'U' | 'S'

export interface DtypeInfo {
  kind: DtypeKind
  /** bytes per element */
  itemsize: number
  /** little-endian normalised descr, as NdArray.dtype */
  descr: string
  bigEndian: boolean
}

export interface NpyHeader {
  dtype: DtypeInfo
  shape: number[]
  fortranOrder: boolean
  /** number of elements */
  count: number
  /** byte offset of the data from the start of the .npy bytes */
  dataOffset: number
  /** count * itemsize */
  dataBytes: number
}

/** Thrown (a ContractError) when the member is a pickled Python object array. */
export class NpyPickledError extends ContractError {}

function err(where: NpyWhere, expected: string, cause?: unknown): ContractError {
  return new ContractError(where.file, where.member, expected, cause === undefined ? undefined : {cause})
}

const NUMERIC_SIZES: Record<string, number[]> = {f: [4, 8], c: [8, 16], i: [1, 2, 4, 8], u: [1, 2, 4, 8], b: [1]}
const NAME_ALIASES: Record<string, string> = {
  float32: '<f4',
  float64: '<f8',
  complex64: '<c8',
  complex128: '<c16',
  int8: '|i1',
  int16: '<i2',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  uint16: '<u2',
  uint32: '<u4',
  uint64: '<u8',
  bool: '|b1',
}

/** numpy's name for a descr, as numpy prints `dtype=...` (float32, complex64, <U5, |S3, bool, object). */
export function dtypeName(descr: string): string {
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr)
  if (!m) return descr
  const [, , k, s] = m
  const bits = Number(s) * 8
  switch (k) {
    case 'f':
      return `float${bits}`
    case 'c':
      return `complex${bits}`
    case 'i':
      return `int${bits}`
    case 'u':
      return `uint${bits}`
    case 'b':
      return 'bool'
    case 'O':
      return 'object'
    default:
      return descr
  }
}

/** The descr reported for a structured (record) dtype, whose header descr is a list of fields. */
export const STRUCTURED_DESCR = 'structured'

/**
 * Parse a numpy descr ('<f4', '>c16', '|b1', '<U12', '|S3', also plain names like 'float32').
 * Throws ContractError for unsupported dtypes, NpyPickledError for object ('|O').
 */
export function parseDescr(descr: string, where: NpyWhere = {}): DtypeInfo {
  if (descr === STRUCTURED_DESCR) throw err(where, 'unsupported dtype: structured (record) dtypes are not supported; save plain arrays')
  const d = NAME_ALIASES[descr] ?? descr
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(d)
  if (!m) throw err(where, `unsupported dtype ${JSON.stringify(descr)} (structured and parametrised dtypes are not supported)`)
  const [, order, kind, sizeText] = m as unknown as [string, string, string, string]
  if (kind === 'O')
    throw new NpyPickledError(
      where.file,
      where.member,
      'is a pickled Python object array (dtype=object) that JS cannot read; re-save it without pickle ' +
        '(e.g. JSON text in a numpy str array: np.array(json.dumps(meta)))',
    )
  const size = sizeText === '' ? Number.NaN : Number(sizeText)
  const bigEndian = order === '>'
  if (kind === 'U' || kind === 'S') {
    if (!Number.isInteger(size) || size < 0 || size > 1 << 24) throw err(where, `unsupported dtype ${JSON.stringify(descr)}`)
    return kind === 'U'
      ? {kind: 'U', itemsize: 4 * size, descr: `<U${size}`, bigEndian}
      : {kind: 'S', itemsize: size, descr: `|S${size}`, bigEndian: false}
  }
  const sizes = NUMERIC_SIZES[kind]
  if (!sizes || !sizes.includes(size)) {
    const hint = kind === 'f' && size === 2 ? ' (float16 is not supported; convert to float32)' : ''
    throw err(where, `unsupported dtype ${JSON.stringify(descr)} (${dtypeName(d)})${hint}`)
  }
  const k = kind as DtypeKind
  const prefix = size === 1 ? '|' : '<'
  return {kind: k, itemsize: size, descr: `${prefix}${kind}${size}`, bigEndian: bigEndian && size > 1}
}

function checkedCount(shape: number[], where: NpyWhere): number {
  let count = 1
  for (const d of shape) {
    count *= d
    if (!Number.isSafeInteger(count)) throw err(where, `shape (${shape.join(', ')}) has too many elements (overflow)`)
  }
  return count
}

/** Length in bytes of the .npy preamble (magic + version + header length field), or throws. */
function headerLenInfo(bytes: Uint8Array, where: NpyWhere): {start: number; len: number; utf8: boolean} {
  if (bytes.length < 10) throw err(where, `not a .npy array: ${bytes.length} bytes, too short for the header (truncated?)`)
  for (let k = 0; k < NPY_MAGIC.length; k++)
    if (bytes[k] !== NPY_MAGIC[k]) throw err(where, 'not a .npy array: bad magic (expected \\x93NUMPY)')
  const major = bytes[6]!
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (major === 1) return {start: 10, len: dv.getUint16(8, true), utf8: false}
  if (major === 2 || major === 3) {
    if (bytes.length < 12) throw err(where, 'truncated .npy header')
    return {start: 12, len: dv.getUint32(8, true), utf8: major === 3}
  }
  throw err(where, `unsupported .npy format version ${major}.${bytes[7]}`)
}

/**
 * How many leading bytes are needed to parse the header (preamble + header), or undefined when fewer than
 * 12 bytes are given. Lets zip readers inflate only the start of a member.
 */
export function npyHeaderLength(prefix: Uint8Array, where: NpyWhere = {}): number | undefined {
  if (prefix.length < 12) {
    if (prefix.length >= 10 && prefix[6] === 1) return 10 + new DataView(prefix.buffer, prefix.byteOffset).getUint16(8, true)
    return undefined
  }
  const {start, len} = headerLenInfo(prefix, where)
  if (len > MAX_HEADER_LEN) throw err(where, `.npy header length ${len} exceeds ${MAX_HEADER_LEN} bytes (corrupt?)`)
  return start + len
}

/** The raw header dict: descr as written (any dtype, including '|O'), fortran_order and shape. */
export interface NpyHeaderDict {
  descr: string
  fortranOrder: boolean
  shape: number[]
  /** byte offset of the data from the start of the .npy bytes */
  dataOffset: number
}

/** Parse the .npy header from the first bytes of the array (at least npyHeaderLength bytes). */
export function parseNpyHeader(bytes: Uint8Array, where: NpyWhere = {}): NpyHeader {
  const raw = parseNpyHeaderDict(bytes, where)
  const dtype = parseDescr(raw.descr, where)
  const count = checkedCount(raw.shape, where)
  const dataBytes = count * dtype.itemsize
  if (!Number.isSafeInteger(dataBytes)) throw err(where, `shape (${raw.shape.join(', ')}) is too large (byte count overflows)`)
  return {dtype, shape: raw.shape, fortranOrder: raw.fortranOrder, count, dataOffset: raw.dataOffset, dataBytes}
}

/** Parse the header dict without interpreting the dtype (so pickled members can still be listed). */
export function parseNpyHeaderDict(bytes: Uint8Array, where: NpyWhere = {}): NpyHeaderDict {
  const {start, len, utf8} = headerLenInfo(bytes, where)
  if (len > MAX_HEADER_LEN) throw err(where, `.npy header length ${len} exceeds ${MAX_HEADER_LEN} bytes (corrupt?)`)
  if (bytes.length < start + len) throw err(where, `truncated .npy header: need ${start + len} bytes, have ${bytes.length}`)
  const text = new TextDecoder(utf8 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + len))
  let dict
  try {
    dict = parsePyLiteral(text)
  } catch (error) {
    if (error instanceof PyLiteralError) throw err(where, `bad .npy header: ${error.message}`, error)
    throw error
  }
  if (!isPyDict(dict)) throw err(where, 'bad .npy header: not a dict literal')
  const keys = [...dict.__dict.keys()].sort()
  if (keys.join(',') !== 'descr,fortran_order,shape')
    throw err(where, `bad .npy header: keys are [${keys.join(', ')}], expected descr, fortran_order, shape`)
  const descr = dict.__dict.get('descr')
  const fortran = dict.__dict.get('fortran_order')
  const shapeV = dict.__dict.get('shape')
  if (typeof descr !== 'string') {
    // numpy writes a structured (record) dtype as a list of fields: listed as unsupported, an error only when read
    if (!Array.isArray(descr)) throw err(where, 'bad .npy header: descr must be a dtype string or a list of fields')
  }
  if (typeof fortran !== 'boolean') throw err(where, 'bad .npy header: fortran_order must be True or False')
  if (!Array.isArray(shapeV) || !shapeV.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
    throw err(where, `bad .npy header: shape must be a tuple of non-negative integers, got ${JSON.stringify(shapeV)}`)
  if (shapeV.length > 32) throw err(where, `bad .npy header: ${shapeV.length} dimensions (numpy allows at most 32)`)
  return {descr: typeof descr === 'string' ? descr : STRUCTURED_DESCR, fortranOrder: fortran, shape: shapeV as number[], dataOffset: start + len}
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 2) {
    for (let k = 0; k + 1 < bytes.length; k += 2) {
      const a = bytes[k]!
      bytes[k] = bytes[k + 1]!
      bytes[k + 1] = a
    }
  } else if (width === 4) {
    for (let k = 0; k + 3 < bytes.length; k += 4) {
      const a = bytes[k]!
      const b = bytes[k + 1]!
      bytes[k] = bytes[k + 3]!
      bytes[k + 1] = bytes[k + 2]!
      bytes[k + 2] = b
      bytes[k + 3] = a
    }
  } else if (width === 8) {
    for (let k = 0; k + 7 < bytes.length; k += 8) {
      for (let a = 0; a < 4; a++) {
        const t = bytes[k + a]!
        bytes[k + a] = bytes[k + 7 - a]!
        bytes[k + 7 - a] = t
      }
    }
  }
}

/** A typed array view of little-endian bytes (copied when unaligned). */
export function viewNumeric(dtype: DtypeInfo, bytes: Uint8Array): Exclude<NdData, string[]> {
  const width = dtype.kind === 'c' ? dtype.itemsize / 2 : dtype.itemsize
  if (bytes.byteOffset % width !== 0) bytes = bytes.slice()
  const n = bytes.byteLength / width
  const buf = bytes.buffer
  const off = bytes.byteOffset
  switch (`${dtype.kind}${dtype.itemsize}`) {
    case 'f4':
    case 'c8':
      return new Float32Array(buf, off, n)
    case 'f8':
    case 'c16':
      return new Float64Array(buf, off, n)
    case 'i1':
      return new Int8Array(buf, off, n)
    case 'i2':
      return new Int16Array(buf, off, n)
    case 'i4':
      return new Int32Array(buf, off, n)
    case 'i8':
      return new BigInt64Array(buf, off, n)
    case 'u1':
    case 'b1':
      return new Uint8Array(buf, off, n)
    case 'u2':
      return new Uint16Array(buf, off, n)
    case 'u4':
      return new Uint32Array(buf, off, n)
    case 'u8':
      return new BigUint64Array(buf, off, n)
  }
  throw new Error(`internal: no view for ${dtype.descr}`)
}

/** Convert in place to little endian (bytes must be writable and owned by the caller). */
export function toLittleEndian(dtype: DtypeInfo, bytes: Uint8Array): void {
  if (!dtype.bigEndian) return
  if (dtype.kind === 'U') swapBytes(bytes, 4)
  else swapBytes(bytes, dtype.kind === 'c' ? dtype.itemsize / 2 : dtype.itemsize)
}

function decodeStrings(dtype: DtypeInfo, bytes: Uint8Array, count: number): string[] {
  const out: string[] = new Array(count)
  const size = dtype.itemsize
  if (dtype.kind === 'S') {
    for (let e = 0; e < count; e++) {
      let end = (e + 1) * size
      while (end > e * size && bytes[end - 1] === 0) end--
      let s = ''
      for (let k = e * size; k < end; k++) s += String.fromCharCode(bytes[k]!)
      out[e] = s
    }
    return out
  }
  const chars = size / 4
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let e = 0; e < count; e++) {
    const cps: number[] = []
    for (let k = 0; k < chars; k++) cps.push(dv.getUint32((e * chars + k) * 4, !dtype.bigEndian))
    while (cps.length > 0 && cps[cps.length - 1] === 0) cps.pop()
    for (const cp of cps) if (cp > 0x10ffff) throw new RangeError(`invalid code point ${cp}`)
    let s = ''
    for (let k = 0; k < cps.length; k += 4096) s += String.fromCodePoint(...cps.slice(k, k + 4096))
    out[e] = s
  }
  return out
}

/** Reorder a Fortran-order flat array (with `comps` scalars per element) into C order. */
export function fortranToC<T extends {length: number; [i: number]: unknown}>(
  src: T,
  shape: number[],
  comps: number,
  make: (n: number) => T,
): T {
  const nd = shape.length
  const out = make(src.length)
  if (src.length === 0) return out
  // Fortran strides (in elements): axis 0 fastest
  const fstride: number[] = new Array(nd)
  let s = 1
  for (let a = 0; a < nd; a++) {
    fstride[a] = s
    s *= shape[a]!
  }
  const last = nd - 1
  const innerN = shape[last]!
  const innerStride = fstride[last]! * comps
  const idx = new Array(nd).fill(0)
  let o = 0
  const outer = src.length / comps / innerN
  for (let q = 0; q < outer; q++) {
    let base = 0
    for (let a = 0; a < last; a++) base += idx[a] * fstride[a]!
    base *= comps
    if (comps === 1) {
      for (let k = 0, p = base; k < innerN; k++, p += innerStride) out[o++] = src[p]
    } else {
      for (let k = 0, p = base; k < innerN; k++, p += innerStride) for (let c = 0; c < comps; c++) out[o++] = src[p + c]
    }
    // odometer over axes 0..last-1, C order (axis last-1 fastest)
    for (let a = last - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]!) break
      idx[a] = 0
    }
  }
  return out
}

/**
 * Decode the data region of an array. `bytes` is exactly header.dataBytes long; it may be modified in place
 * (byte swapping) and viewed without a copy, so pass bytes the caller owns.
 */
export function decodeNpyData(header: NpyHeader, bytes: Uint8Array, where: NpyWhere = {}): NdData {
  const {dtype, shape, fortranOrder, count} = header
  if (bytes.length !== header.dataBytes)
    throw err(
      where,
      `data is ${bytes.length} bytes but dtype ${dtype.descr} and shape (${shape.join(', ')}) need ${header.dataBytes}` +
        (bytes.length < header.dataBytes ? ' (truncated?)' : ''),
    )
  let data: NdData
  if (dtype.kind === 'U' || dtype.kind === 'S') {
    try {
      data = decodeStrings(dtype, bytes, count)
    } catch (error) {
      throw err(where, `bad string data: ${(error as Error).message}`, error)
    }
  } else {
    toLittleEndian(dtype, bytes)
    data = viewNumeric(dtype, bytes)
  }
  if (fortranOrder && shape.length > 1) {
    if (Array.isArray(data)) data = fortranToC(data, shape, 1, (n) => new Array<string>(n))
    else {
      const ctor = data.constructor as new (n: number) => typeof data
      data = fortranToC(data as never, shape, dtype.kind === 'c' ? 2 : 1, (n) => new ctor(n) as never)
    }
  }
  return data
}

/**
 * Decode a whole .npy byte array. The result may be a view into `bytes` (no copy) and `bytes` may be
 * modified in place (big-endian data); pass a copy if you need the original.
 */
export function readNpy(bytes: Uint8Array, name?: string, file?: string): NdArray {
  const where = {file, member: name}
  const header = parseNpyHeader(bytes, where)
  const end = header.dataOffset + header.dataBytes
  if (bytes.length !== end)
    throw err(
      where,
      `data is ${bytes.length - header.dataOffset} bytes but dtype ${header.dtype.descr} and shape ` +
        `(${header.shape.join(', ')}) need ${header.dataBytes}` + (bytes.length < end ? ' (truncated?)' : ''),
    )
  const data = decodeNpyData(header, bytes.subarray(header.dataOffset, end), where)
  return {dtype: header.dtype.descr, shape: [...header.shape], data}
}

// ---------------------------------------------------------------------------------------------- writing

function shapeRepr(shape: number[]): string {
  if (shape.length === 0) return '()'
  if (shape.length === 1) return `(${shape[0]},)`
  return `(${shape.join(', ')})`
}

function expectedTypedArray(info: DtypeInfo): string {
  switch (`${info.kind}${info.itemsize}`) {
    case 'f4':
    case 'c8':
      return 'Float32Array'
    case 'f8':
    case 'c16':
      return 'Float64Array'
    case 'i1':
      return 'Int8Array'
    case 'i2':
      return 'Int16Array'
    case 'i4':
      return 'Int32Array'
    case 'i8':
      return 'BigInt64Array'
    case 'u1':
    case 'b1':
      return 'Uint8Array'
    case 'u2':
      return 'Uint16Array'
    case 'u4':
      return 'Uint32Array'
    case 'u8':
      return 'BigUint64Array'
    default:
      return 'string[]'
  }
}

/** The .npy header bytes (preamble + padded dict) for a C-order little-endian array. */
export function npyHeaderBytes(descr: string, shape: number[]): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`
  let preamble = 10
  let total = preamble + dict.length + 1
  if (total - preamble > 0xffff) {
    preamble = 12
    total = preamble + dict.length + 1
  }
  const padded = Math.ceil(total / 64) * 64
  const headerText = dict + ' '.repeat(padded - total) + '\n'
  const out = new Uint8Array(padded)
  out.set(NPY_MAGIC, 0)
  out[6] = preamble === 10 ? 1 : 2
  out[7] = 0
  const dv = new DataView(out.buffer)
  if (preamble === 10) dv.setUint16(8, headerText.length, true)
  else dv.setUint32(8, headerText.length, true)
  for (let k = 0; k < headerText.length; k++) out[preamble + k] = headerText.charCodeAt(k)
  return out
}

/**
 * Check an NdArray against its dtype and shape and return the .npy header and body bytes (the body is a
 * view on the array's data for numeric dtypes: no copy). Throws ContractError naming the member.
 */
export function npyParts(arr: NdArray, where: NpyWhere = {}): {header: Uint8Array; body: Uint8Array; descr: string} {
  if (!arr || typeof arr !== 'object' || !Array.isArray(arr.shape))
    throw err(where, 'not an NdArray {dtype, shape, data}')
  if (!arr.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw err(where, `shape must be non-negative integers, got [${arr.shape.join(', ')}]`)
  if (typeof arr.dtype === 'string' && arr.dtype.startsWith('>'))
    throw err(where, `dtype ${arr.dtype} is big-endian; NdArray data must be little-endian ('<')`)
  const count = checkedCount(arr.shape, where)
  // '<U' / '|S' without a size: take it from the longest string
  let dtypeText = arr.dtype
  const bare = /^([<>|=]?)([US])$/.exec(dtypeText ?? '')
  if (bare && Array.isArray(arr.data)) {
    const lens = arr.data.map((s) => (bare[2] === 'U' ? Array.from(String(s)).length : String(s).length))
    dtypeText = `${bare[2] === 'U' ? '<' : '|'}${bare[2]}${lens.reduce((m, l) => Math.max(m, l), 1)}`
  }
  let info = parseDescr(dtypeText, where)
  if (info.kind === 'U' || info.kind === 'S') {
    if (!Array.isArray(arr.data) || !arr.data.every((s) => typeof s === 'string'))
      throw err(where, `dtype ${arr.dtype} needs data as string[]`)
    const strings = arr.data
    if (strings.length !== count)
      throw err(where, `has ${strings.length} strings but shape (${arr.shape.join(', ')}) needs ${count}`)
    if (info.kind === 'U') {
      const cps = strings.map((s) => Array.from(s, (c) => c.codePointAt(0)!))
      const need = cps.reduce((m, c) => Math.max(m, c.length), 0)
      const size = info.itemsize / 4
      if (need > size) throw err(where, `a string has ${need} characters, more than dtype ${dtypeText} holds`)
      const body = new Uint8Array(count * size * 4)
      const dv = new DataView(body.buffer)
      cps.forEach((c, e) => c.forEach((cp, k) => dv.setUint32((e * size + k) * 4, cp, true)))
      return {header: npyHeaderBytes(info.descr, arr.shape), body, descr: info.descr}
    }
    const size = info.itemsize
    const body = new Uint8Array(count * size)
    strings.forEach((s, e) => {
      if (s.length > size) throw err(where, `a string has ${s.length} bytes, more than dtype ${dtypeText} holds`)
      for (let k = 0; k < s.length; k++) {
        const c = s.charCodeAt(k)
        if (c > 255) throw err(where, `dtype ${arr.dtype} holds bytes (latin1); character U+${c.toString(16)} does not fit`)
        body[e * size + k] = c
      }
    })
    return {header: npyHeaderBytes(info.descr, arr.shape), body, descr: info.descr}
  }
  const want = expectedTypedArray(info)
  const data = arr.data as unknown as ArrayBufferView & {length: number}
  if (Array.isArray(arr.data) || !ArrayBuffer.isView(data) || data.constructor.name !== want)
    throw err(where, `dtype ${info.descr} needs data as ${want}, got ${Array.isArray(arr.data) ? 'an array' : (data as object)?.constructor?.name}`)
  const scalars = count * (info.kind === 'c' ? 2 : 1)
  if (data.length !== scalars)
    throw err(
      where,
      `data has ${data.length} values but shape (${arr.shape.join(', ')}) with dtype ${info.descr} needs ${scalars}` +
        (info.kind === 'c' ? ' (complex data is interleaved re, im)' : ''),
    )
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return {header: npyHeaderBytes(info.descr, arr.shape), body, descr: info.descr}
}

/** Encode an array as .npy bytes (C order, little endian) that numpy reads. */
export function encodeNpy(arr: NdArray, name?: string): Uint8Array {
  const {header, body} = npyParts(arr, {member: name})
  const out = new Uint8Array(header.length + body.length)
  out.set(header, 0)
  out.set(body, header.length)
  return out
}
