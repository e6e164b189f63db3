/**
 * numpy-compatible .npz read/write (a zip of .npy members, as np.savez / np.savez_compressed write them).
 *
 * - listNpz reads only the zip central directory and each member's .npy header.
 * - readNpz reads only the members asked for, from disk with positioned reads; memory is bounded by the
 *   member being read (numeric data is a typed-array view on the member's buffer, no extra copy).
 * - scanNpzMember streams a numeric member in chunks (for statistics over arrays larger than memory).
 * - Pickled object members (numpy's `_metadata` saved with allow_pickle) are listed with pickled: true,
 *   skipped by the default read, and a clear ContractError when asked for by name.
 * - writeNpz writes atomically (temp file + rename), deflated by default like savez_compressed, zip64 when
 *   needed, byte-identical for identical input (fixed zip timestamps).
 * - The study's metadata is JSON in a 0-d `<U` array (metadataArray), which numpy reads without pickle:
 *   a deliberate deviation from PtychoPINN's pickled `_metadata` (spec §4.7).
 */
import {ContractError} from '../errors.js'
import {type NdArray, type NdData, unicodeScalar} from './ndarray.js'
import {
  decodeNpyData,
  type DtypeInfo,
  NPY_MAGIC,
  npyHeaderLength,
  npyParts,
  NpyPickledError,
  parseDescr,
  parseNpyHeader,
  parseNpyHeaderDict,
  toLittleEndian,
  viewNumeric,
} from './npy.js'
import {checkMemberName, memberKey, type ZipEntry, ZipReader} from './zip-reader.js'
import {writeZipAtomic} from './zip-writer.js'

export {encodeNpy, readNpy} from './npy.js'

export interface NpzMemberInfo {
  /** the key numpy uses (member name without `.npy`) */
  name: string
  /** numpy descr normalised to little endian ('<f4', '<c8', '|b1', '<U12', ...); '|O' for pickled objects */
  dtype: string
  shape: number[]
  fortranOrder: boolean
  compressed: boolean
  compressedSize: number
  uncompressedSize: number
  /** a pickled Python object array: JS cannot read it */
  pickled: boolean
  /** dtype as written in the file (e.g. '>f8' for big-endian data) */
  storedDtype: string
  /** the member name inside the zip */
  zipName: string
  /** set when the dtype cannot be read in JS (float16, datetime, ...): why; reading the member is an error */
  unsupported?: string
}

export interface ReadNpzOptions {
  /** members to read (keys without .npy); default: all members that are not pickled */
  members?: string[]
}

export interface WriteNpzOptions {
  /** deflate members like np.savez_compressed (default true); false stores them like np.savez */
  compress?: boolean
  /** zlib level 0-9 when compressing (default 6, numpy's) */
  level?: number
  /** write zip64 records always ('always') or only when sizes need them ('auto', default) */
  zip64?: 'auto' | 'always'
}

export type NpzMetadata =
  | {kind: 'json'; value: unknown}
  | {kind: 'pickled'}
  | {kind: 'absent'}
  | {kind: 'text'; value: string}

/** The metadata key PtychoPINN uses in its NPZ files. */
export const METADATA_KEY = '_metadata'

interface MemberPlan {
  info: NpzMemberInfo
  entry: ZipEntry
  /** null for raw (non-.npy) members and pickled members */
  header: ReturnType<typeof parseNpyHeader> | null
}

async function planMember(zip: ZipReader, entry: ZipEntry): Promise<MemberPlan> {
  const where = {file: zip.file, member: memberKey(entry.name)}
  const base = {
    name: where.member,
    zipName: entry.name,
    compressed: entry.method !== 0,
    compressedSize: entry.compressedSize,
    uncompressedSize: entry.uncompressedSize,
  }
  let prefix = await zip.readPrefix(entry, 256)
  const isNpy = prefix.length >= 6 && NPY_MAGIC.every((b, k) => prefix[k] === b)
  if (!isNpy) {
    if (entry.name.endsWith('.npy'))
      throw new ContractError(zip.file, where.member, `not a .npy array: bad magic (expected \\x93NUMPY)${prefix.length < 10 ? ' or truncated' : ''}`)
    // numpy's NpzFile returns non-.npy members as raw bytes; we return them as a uint8 array
    const info: NpzMemberInfo = {...base, dtype: '|u1', storedDtype: '|u1', shape: [entry.uncompressedSize], fortranOrder: false, pickled: false}
    return {info, entry, header: null}
  }
  const need = npyHeaderLength(prefix, where)
  if (need === undefined) throw new ContractError(zip.file, where.member, 'truncated .npy header')
  if (need > prefix.length) {
    if (need > entry.uncompressedSize)
      throw new ContractError(zip.file, where.member, `truncated .npy header: needs ${need} bytes, member has ${entry.uncompressedSize}`)
    prefix = await zip.readPrefix(entry, need)
  }
  const raw = parseNpyHeaderDict(prefix, where)
  if (/^[<>|=]?O$/.test(raw.descr)) {
    const info: NpzMemberInfo = {...base, dtype: '|O', storedDtype: raw.descr, shape: raw.shape, fortranOrder: raw.fortranOrder, pickled: true}
    return {info, entry, header: null}
  }
  try {
    parseDescr(raw.descr, where)
  } catch (error) {
    if (!(error instanceof ContractError)) throw error
    // a dtype JS cannot hold (float16, datetime, ...): listed, and an error only when read
    const info: NpzMemberInfo = {
      ...base,
      dtype: raw.descr.replace(/^[>=]/, '<'),
      storedDtype: raw.descr,
      shape: raw.shape,
      fortranOrder: raw.fortranOrder,
      pickled: false,
      unsupported: error.expected,
    }
    return {info, entry, header: null}
  }
  const header = parseNpyHeader(prefix, where)
  const expected = header.dataOffset + header.dataBytes
  if (expected !== entry.uncompressedSize)
    throw new ContractError(
      zip.file,
      where.member,
      `the .npy header (dtype ${header.dtype.descr}, shape (${header.shape.join(', ')})) implies ${expected} bytes ` +
        `but the member holds ${entry.uncompressedSize}` + (expected > entry.uncompressedSize ? ' (truncated?)' : ''),
    )
  const info: NpzMemberInfo = {
    ...base,
    dtype: header.dtype.descr,
    storedDtype: raw.descr,
    shape: [...header.shape],
    fortranOrder: header.fortranOrder,
    pickled: false,
  }
  return {info, entry, header}
}

async function withZip<T>(file: string, fn: (zip: ZipReader) => Promise<T>): Promise<T> {
  const zip = await ZipReader.open(file)
  try {
    return await fn(zip)
  } finally {
    await zip.close()
  }
}

/** The members by NPZ key (no I/O beyond the central directory); duplicate keys are an error. */
function keyedEntries(zip: ZipReader): Map<string, ZipEntry> {
  const byKey = new Map<string, ZipEntry>()
  for (const entry of zip.entries) {
    const key = memberKey(entry.name)
    if (byKey.has(key)) throw new ContractError(zip.file, key, `duplicate member: both '${key}' and '${key}.npy' exist`)
    byKey.set(key, entry)
  }
  return byKey
}

async function planAll(zip: ZipReader): Promise<MemberPlan[]> {
  const plans: MemberPlan[] = []
  for (const entry of keyedEntries(zip).values()) plans.push(await planMember(zip, entry))
  return plans
}

/** Plan one member by key (or zip name), reading only its header. */
async function planOne(zip: ZipReader, name: string): Promise<MemberPlan> {
  const byKey = keyedEntries(zip)
  const entry = byKey.get(name) ?? byKey.get(memberKey(name))
  if (!entry) {
    const names = [...byKey.keys()]
    throw new ContractError(zip.file, name, `member not found; members are: ${names.length > 0 ? names.join(', ') : '(none)'}`)
  }
  return planMember(zip, entry)
}

/** The members of an .npz file: names, dtypes, shapes, sizes, without reading array data. */
export async function listNpz(file: string): Promise<NpzMemberInfo[]> {
  return withZip(file, async (zip) => (await planAll(zip)).map((p) => p.info))
}

function pickledError(file: string, member: string): NpyPickledError {
  return new NpyPickledError(
    file,
    member,
    'is a pickled Python object (saved with allow_pickle) that JS cannot read; re-save it without pickle ' +
      '(e.g. JSON text: np.savez(..., _metadata=np.array(json.dumps(meta))))',
  )
}

async function readPlanned(zip: ZipReader, plan: MemberPlan): Promise<NdArray> {
  if (plan.info.unsupported !== undefined) throw new ContractError(zip.file, plan.info.name, plan.info.unsupported)
  const bytes = await zip.read(plan.entry)
  const where = {file: zip.file, member: plan.info.name}
  if (plan.header === null) return {dtype: '|u1', shape: [bytes.length], data: bytes}
  const header = plan.header
  // re-parse from the bytes actually read (CRC-checked) and insist they match the planned header
  const checked = parseNpyHeader(bytes, where)
  if (checked.dataOffset !== header.dataOffset || checked.dataBytes !== header.dataBytes)
    throw new ContractError(zip.file, plan.info.name, 'the .npy header changed between reads (file modified while reading?)')
  const data = decodeNpyData(checked, bytes.subarray(checked.dataOffset, checked.dataOffset + checked.dataBytes), where)
  return {dtype: checked.dtype.descr, shape: [...checked.shape], data}
}

/**
 * Read members of an .npz file. Only the requested members are read (all non-pickled ones by default).
 * A requested member that is missing or pickled is a ContractError naming the file and member.
 */
export async function readNpz(file: string, opts: ReadNpzOptions = {}): Promise<Record<string, NdArray>> {
  return withZip(file, async (zip) => {
    const out: Record<string, NdArray> = {}
    if (opts.members === undefined) {
      for (const plan of await planAll(zip)) if (!plan.info.pickled) out[plan.info.name] = await readPlanned(zip, plan)
      return out
    }
    // plan every requested member first, so a missing one fails before any data is read
    const plans = []
    for (const name of opts.members) plans.push(await planOne(zip, name))
    for (const plan of plans) {
      if (plan.info.pickled) throw pickledError(file, plan.info.name)
      out[plan.info.name] = await readPlanned(zip, plan)
    }
    return out
  })
}

/** Read one member (convenience over readNpz). */
export async function readNpzMember(file: string, member: string): Promise<NdArray> {
  const out = await readNpz(file, {members: [member]})
  return Object.values(out)[0]!
}

export interface ScanChunk {
  /** little-endian values of this chunk (complex interleaved), a typed array valid only during the callback */
  data: Exclude<NdData, string[]>
  /** index of the chunk's first element in storage order */
  start: number
}

/**
 * Stream a numeric member in chunks of about `chunkBytes`, without holding the whole array: for statistics
 * (NaN counts, min/max/mean) over arrays larger than memory. Elements arrive in storage order (C order, or
 * Fortran order when info.fortranOrder is true); big-endian data is converted. Returns the member info.
 */
export async function scanNpzMember(
  file: string,
  member: string,
  onChunk: (chunk: ScanChunk) => void,
  opts: {chunkBytes?: number} = {},
): Promise<NpzMemberInfo> {
  return withZip(file, async (zip) => {
    const plan = await planOne(zip, member)
    if (plan.info.pickled) throw pickledError(file, member)
    if (plan.info.unsupported !== undefined) throw new ContractError(file, member, plan.info.unsupported)
    const header = plan.header
    if (header === null || header.dtype.kind === 'U' || header.dtype.kind === 'S')
      throw new ContractError(file, member, `scan needs a numeric array, got dtype ${plan.info.dtype}`)
    const dtype: DtypeInfo = header.dtype
    const itemsize = dtype.itemsize
    const stageBytes = Math.max(itemsize, Math.floor((opts.chunkBytes ?? 4 << 20) / itemsize) * itemsize)
    const stage = new Uint8Array(stageBytes)
    let fill = 0
    let skip = header.dataOffset
    let element = 0
    const flush = () => {
      if (fill === 0) return
      const bytes = stage.subarray(0, fill)
      toLittleEndian(dtype, bytes)
      onChunk({data: viewNumeric(dtype, bytes), start: element})
      element += fill / itemsize
      fill = 0
    }
    await zip.stream(plan.entry, (chunk) => {
      let c = chunk
      if (skip > 0) {
        const s = Math.min(skip, c.length)
        skip -= s
        c = c.subarray(s)
      }
      while (c.length > 0) {
        const n = Math.min(stageBytes - fill, c.length)
        stage.set(c.subarray(0, n), fill)
        fill += n
        c = c.subarray(n)
        if (fill === stageBytes) flush()
      }
    })
    if (fill % itemsize !== 0) throw new ContractError(file, member, 'data length is not a whole number of elements')
    flush()
    return plan.info
  })
}

/**
 * Check every member of an .npz end to end without keeping its data: headers parse, sizes agree, deflate
 * streams are sound and CRC-32s match. Memory stays at one chunk. Throws ContractError naming the member.
 */
export async function verifyNpz(file: string, opts: {skip?: string[]} = {}): Promise<NpzMemberInfo[]> {
  return withZip(file, async (zip) => {
    const plans = await planAll(zip)
    for (const plan of plans) if (!opts.skip?.includes(plan.info.name)) await zip.stream(plan.entry, () => {})
    return plans.map((p) => p.info)
  })
}

/**
 * Write arrays as an .npz numpy reads with np.load (keys become `<key>.npy` members). Atomic: a reader sees
 * the old file or the new one. Deflated by default (like np.savez_compressed).
 */
export async function writeNpz(file: string, arrays: Record<string, NdArray>, opts: WriteNpzOptions = {}): Promise<void> {
  const members = Object.entries(arrays).map(([key, arr]) => {
    const problem = checkMemberName(`${key}.npy`)
    if (problem) throw new ContractError(file, key, `cannot be used as an NPZ key: ${problem}`)
    const {header, body} = npyParts(arr, {file, member: key})
    return {name: `${key}.npy`, parts: [header, body]}
  })
  await writeZipAtomic(file, members, {compress: opts.compress ?? true, level: opts.level, zip64: opts.zip64})
}

/** The study's metadata as a 0-d `<U` array of JSON text (numpy reads it without allow_pickle). */
export function metadataArray(value: unknown): NdArray {
  const text = JSON.stringify(value)
  if (text === undefined) throw new TypeError('metadata must be JSON-serialisable')
  return unicodeScalar(text)
}

/**
 * Read `_metadata`: JSON text in a string array (ours, or PtychoPINN overlap v2) -> {kind:'json'}; other text ->
 * {kind:'text'}; a pickled object array (PtychoPINN phase C) -> {kind:'pickled'}; no such member -> {kind:'absent'}.
 */
export async function readNpzMetadata(file: string, key: string = METADATA_KEY): Promise<NpzMetadata> {
  return withZip(file, async (zip) => {
    if (!keyedEntries(zip).has(key)) return {kind: 'absent'}
    const plan = await planOne(zip, key)
    if (plan.info.pickled) return {kind: 'pickled'}
    const arr = await readPlanned(zip, plan)
    let text: string
    if (Array.isArray(arr.data)) {
      if (arr.data.length !== 1)
        throw new ContractError(file, key, `expected one string (JSON text), got ${arr.data.length} strings`)
      text = arr.data[0]!
    } else if (arr.dtype === '|u1' || arr.dtype === '|i1') {
      text = new TextDecoder('utf-8').decode(arr.data as Uint8Array)
    } else {
      throw new ContractError(file, key, `expected a string array holding JSON text, got dtype ${arr.dtype}`)
    }
    try {
      return {kind: 'json', value: JSON.parse(text) as unknown}
    } catch {
      return {kind: 'text', value: text}
    }
  })
}
