/**
 * Patch size N of a training NPZ, from member headers only (spec §6.3 `_infer_patch_size`):
 * diffraction.shape[1] (3-D), then diff3d.shape[1] (3-D), then probeGuess.shape[0]; anything else -> 64.
 *
 * Reads only the zip central directory and the first bytes of the wanted members (a few KiB), never the
 * arrays. This is a small self-contained header reader; src/io/npz.ts (listNpz) is the full reader.
 */
import {open} from 'node:fs/promises'
import type {FileHandle} from 'node:fs/promises'

import {Inflate} from 'fflate'

export const DEFAULT_PATCH_SIZE = 64

export interface NpzMemberHeader {
  name: string
  dtype: string
  shape: number[]
}

interface ZipEntry {
  name: string
  method: number
  compressedSize: number
  localOffset: number
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  const {bytesRead} = await fh.read(buf, 0, length, position)
  return buf.subarray(0, bytesRead)
}

async function centralDirectory(fh: FileHandle, size: number): Promise<ZipEntry[]> {
  const tailLen = Math.min(size, 65_557)
  const tail = await readAt(fh, size - tailLen, tailLen)
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i
      break
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)')
  let count = tail.readUInt16LE(eocd + 10)
  let cdSize = tail.readUInt32LE(eocd + 12)
  let cdOffset = tail.readUInt32LE(eocd + 16)
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20
    if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new Error('zip64 locator missing')
    const z64Offset = Number(tail.readBigUInt64LE(loc + 8))
    const z64 = await readAt(fh, z64Offset, 56)
    if (z64.readUInt32LE(0) !== 0x06064b50) throw new Error('zip64 end record missing')
    count = Number(z64.readBigUInt64LE(32))
    cdSize = Number(z64.readBigUInt64LE(40))
    cdOffset = Number(z64.readBigUInt64LE(48))
  }
  if (cdSize > 64 * 1024 * 1024) throw new Error('central directory too large')
  const cd = await readAt(fh, cdOffset, cdSize)
  const entries: ZipEntry[] = []
  let p = 0
  for (let i = 0; i < count && p + 46 <= cd.length; i++) {
    if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory entry')
    const method = cd.readUInt16LE(p + 10)
    let compressedSize = cd.readUInt32LE(p + 20)
    const uncompressedSize = cd.readUInt32LE(p + 24)
    const nameLen = cd.readUInt16LE(p + 28)
    const extraLen = cd.readUInt16LE(p + 30)
    const commentLen = cd.readUInt16LE(p + 32)
    let localOffset = cd.readUInt32LE(p + 42)
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8')
    // zip64 extra field: the 0xffffffff values follow in order: uncompressed, compressed, offset
    let e = p + 46 + nameLen
    const extraEnd = e + extraLen
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e)
      const len = cd.readUInt16LE(e + 2)
      if (id === 0x0001) {
        let q = e + 4
        if (uncompressedSize === 0xffffffff) q += 8
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(cd.readBigUInt64LE(q))
          q += 8
        }
        if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q))
      }
      e += 4 + len
    }
    entries.push({name, method, compressedSize, localOffset})
    p = extraEnd + commentLen
  }
  return entries
}

/** The first `want` bytes of a member's uncompressed data. */
async function memberPrefix(fh: FileHandle, entry: ZipEntry, want: number): Promise<Uint8Array> {
  const local = await readAt(fh, entry.localOffset, 30)
  if (local.length < 30 || local.readUInt32LE(0) !== 0x04034b50) throw new Error(`bad local header for ${entry.name}`)
  const dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
  if (entry.method === 0) return readAt(fh, dataStart, Math.min(want, entry.compressedSize))
  if (entry.method !== 8) throw new Error(`unsupported zip compression method ${entry.method} for ${entry.name}`)
  const chunks: Uint8Array[] = []
  let got = 0
  const inflater = new Inflate((chunk) => {
    chunks.push(chunk)
    got += chunk.length
  })
  let pos = dataStart
  const end = dataStart + entry.compressedSize
  while (got < want && pos < end) {
    const n = Math.min(16 * 1024, end - pos)
    const buf = await readAt(fh, pos, n)
    if (buf.length === 0) break
    pos += buf.length
    inflater.push(buf, pos >= end)
  }
  return Buffer.concat(chunks).subarray(0, want)
}

/** Parse a .npy header: dtype descr and shape. */
export function parseNpyHeader(bytes: Uint8Array, name: string): NpzMemberHeader {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length < 10 || b[0] !== 0x93 || b.subarray(1, 6).toString('latin1') !== 'NUMPY') {
    throw new Error(`${name}: not a .npy member (bad magic)`)
  }
  const major = b[6]
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  if (b.length < start + headerLen) throw new Error(`${name}: truncated .npy header`)
  const header = b.subarray(start, start + headerLen).toString(major === 3 ? 'utf8' : 'latin1')
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)
  if (!descr || !shape) throw new Error(`${name}: .npy header without descr/shape`)
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number.parseInt(s.replace(/L$/, ''), 10))
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`${name}: bad shape in .npy header`)
  return {name: name.replace(/\.npy$/, ''), dtype: descr[1], shape: dims}
}

/** Headers (name, dtype, shape) of the wanted members of an NPZ (all .npy members when `names` is omitted). */
export async function readNpzHeaders(file: string, names?: readonly string[]): Promise<NpzMemberHeader[]> {
  const fh = await open(file, 'r')
  try {
    const {size} = await fh.stat()
    const entries = await centralDirectory(fh, size)
    const out: NpzMemberHeader[] = []
    for (const entry of entries) {
      if (!entry.name.endsWith('.npy')) continue
      const member = entry.name.slice(0, -4)
      if (names && !names.includes(member)) continue
      const prefix = await memberPrefix(fh, entry, 4096)
      out.push(parseNpyHeader(prefix, entry.name))
    }
    return out
  } finally {
    await fh.close()
  }
}

/** N from member shapes, in the reference's order of preference. */
export function patchSizeFromHeaders(headers: readonly {name: string; shape: number[]}[]): number | undefined {
  const byName = new Map(headers.map((h) => [h.name, h.shape]))
  const diffraction = byName.get('diffraction')
  if (diffraction && diffraction.length === 3) return diffraction[1]
  const diff3d = byName.get('diff3d')
  if (diff3d && diff3d.length === 3) return diff3d[1]
  const probe = byName.get('probeGuess')
  if (probe && probe.length >= 1) return probe[0]
  return undefined
}

/** Patch size N of a training NPZ; 64 when it cannot be read (as the reference). */
export async function inferPatchSize(file: string): Promise<number> {
  try {
    const headers = await readNpzHeaders(file, ['diffraction', 'diff3d', 'probeGuess'])
    return patchSizeFromHeaders(headers) ?? DEFAULT_PATCH_SIZE
  } catch {
    return DEFAULT_PATCH_SIZE
  }
}
