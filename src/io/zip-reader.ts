/**
 * A zip reader for .npz files that reads from disk with positioned reads: the central directory once, then
 * only the members asked for. Stored and deflated members, zip64, CRC-32 checked, hard caps on inflated
 * sizes (zip bombs), member-name checks (absolute paths, `..`, duplicates). Memory is bounded by the member
 * being read.
 *
 * Why not yauzl: we need (1) positioned reads straight into a fresh buffer so numeric members become typed
 * array views without copies, (2) native inflate into one buffer of exactly the declared size (zero-copy,
 * memory = the member, a hard cap one byte past it), (3) CRC checks (yauzl does not check them) and (4) partial
 * inflate of the first bytes of a member for .npy headers. Those are the throughput, memory and safety
 * requirements of the study's NPZ I/O; the zip structures involved are small.
 */
import {open, stat, type FileHandle} from 'node:fs/promises'
import {constants as zlibConstants, crc32, createInflateRaw, inflateRawSync} from 'node:zlib'
import {Buffer, constants as bufferConstants} from 'node:buffer'

import {ContractError, MissingInputError} from '../errors.js'

export interface ZipEntry {
  /** the member name as stored in the zip */
  name: string
  /** 0 stored, 8 deflated */
  method: number
  flags: number
  crc32: number
  compressedSize: number
  uncompressedSize: number
  localHeaderOffset: number
}

const SIG_EOCD = 0x06054b50
const SIG_ZIP64_EOCD = 0x06064b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const SIG_CENTRAL = 0x02014b50
const SIG_LOCAL = 0x04034b50
/** A central directory larger than this is not an .npz we should trust. */
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
export const DEFAULT_INFLATE_IN_MEMORY_LIMIT = 1 << 20
/** Largest member we can hold in one buffer. */
export const MAX_MEMBER_BYTES = Math.min(bufferConstants.MAX_LENGTH, 2 ** 53)

function u64(dv: DataView, off: number, what: () => ContractError): number {
  const v = dv.getBigUint64(off, true)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw what()
  return Number(v)
}

/** Reject member names that could escape a folder if extracted, or that are not plain relative paths. */
export function checkMemberName(name: string): string | undefined {
  if (name.length === 0) return 'empty member name'
  if (name.includes('\0')) return 'member name contains a NUL character'
  if (name.includes('\\')) return 'member name contains a backslash (a Windows path)'
  if (name.startsWith('/')) return 'member name is an absolute path'
  if (/^[A-Za-z]:/.test(name)) return 'member name starts with a drive letter'
  if (name.split('/').some((part) => part === '..')) return "member name contains a '..' path component"
  return undefined
}

export class ZipReader {
  /**
   * Deflated members up to this many uncompressed bytes are inflated in one native call from their whole
   * compressed bytes (fastest; memory compressed + output); larger ones are streamed (memory output + ~1 MiB).
   */
  inflateInMemoryLimit = DEFAULT_INFLATE_IN_MEMORY_LIMIT

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly entries: ZipEntry[],
  ) {}

  private static error(file: string, member: string | undefined, msg: string, cause?: unknown): ContractError {
    return new ContractError(file, member, msg, cause === undefined ? undefined : {cause})
  }

  /** Open a zip file and read its central directory. Throws MissingInputError or ContractError. */
  static async open(file: string): Promise<ZipReader> {
    // a FIFO would block open() until a writer appears, and a device has no size: refuse both up front
    const st = await stat(file).catch(() => undefined) // a missing file is reported by open() below
    if (st && !st.isFile() && !st.isDirectory()) {
      const kind = st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file'
      throw ZipReader.error(file, undefined, `is ${kind}, expected an .npz file`)
    }
    let fh: FileHandle
    try {
      fh = await open(file, 'r')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new MissingInputError(file, 'NPZ file', {cause: error})
      if (code === 'EISDIR') throw ZipReader.error(file, undefined, 'is a folder, expected an .npz file')
      throw ZipReader.error(file, undefined, `cannot be read (${code ?? (error as Error).message})`, error)
    }
    try {
      const size = (await fh.stat()).size
      const entries = await ZipReader.readDirectory(file, fh, size)
      return new ZipReader(file, fh, size, entries)
    } catch (error) {
      await fh.close().catch(() => {})
      if ((error as NodeJS.ErrnoException).code === 'EISDIR')
        throw ZipReader.error(file, undefined, 'is a folder, expected an .npz file')
      throw error
    }
  }

  private static async readAt(fh: FileHandle, pos: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    const buf = into ?? new Uint8Array(length)
    let done = 0
    while (done < length) {
      const {bytesRead} = await fh.read(buf, done, length - done, pos + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return done === buf.length ? buf : buf.subarray(0, done)
  }

  private static async readDirectory(file: string, fh: FileHandle, size: number): Promise<ZipEntry[]> {
    const bad = (msg: string) => ZipReader.error(file, undefined, `not a valid .npz (zip) file: ${msg}`)
    const head = await ZipReader.readAt(fh, 0, Math.min(size, 6))
    if (head.length === 6 && [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59].every((b, k) => head[k] === b))
      throw bad('this is a single .npy array (np.save), not an .npz archive of named arrays (np.savez)')
    if (size < 22) throw bad(`${size} bytes, too short for a zip archive (truncated or empty?)`)
    const tailLen = Math.min(size, 22 + 0xffff + 20)
    const tailPos = size - tailLen
    const tail = await ZipReader.readAt(fh, tailPos, tailLen)
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength)
    let eocd = -1
    for (let k = tail.length - 22; k >= 0; k--) {
      if (tv.getUint32(k, true) === SIG_EOCD && k + 22 + tv.getUint16(k + 20, true) <= tail.length) {
        eocd = k
        break
      }
    }
    if (eocd < 0) throw bad('no end-of-central-directory record (truncated, or not a zip)')
    if (tv.getUint16(eocd + 4, true) !== 0 || tv.getUint16(eocd + 6, true) !== 0) throw bad('multi-disk archives are not supported')
    let count = tv.getUint16(eocd + 10, true)
    let cdSize = tv.getUint32(eocd + 12, true)
    let cdOffset = tv.getUint32(eocd + 16, true)
    const loc = eocd - 20
    if (loc >= 0 && tv.getUint32(loc, true) === SIG_ZIP64_LOCATOR) {
      const z64Pos = u64(tv, loc + 8, () => bad('zip64 locator offset out of range'))
      if (z64Pos + 56 > size) throw bad('zip64 end record lies outside the file (truncated?)')
      const rec = await ZipReader.readAt(fh, z64Pos, 56)
      const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength)
      if (rec.length < 56 || rv.getUint32(0, true) !== SIG_ZIP64_EOCD) throw bad('bad zip64 end-of-central-directory record')
      count = u64(rv, 32, () => bad('zip64 entry count out of range'))
      cdSize = u64(rv, 40, () => bad('zip64 directory size out of range'))
      cdOffset = u64(rv, 48, () => bad('zip64 directory offset out of range'))
    } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw bad('zip64 values without a zip64 locator')
    }
    if (cdOffset + cdSize > size) throw bad(`central directory (${cdSize} bytes at ${cdOffset}) lies past the end of the file (truncated?)`)
    if (cdSize > MAX_CENTRAL_DIRECTORY) throw bad(`central directory of ${cdSize} bytes is implausibly large`)
    if (count * 46 > cdSize) throw bad(`${count} entries cannot fit in a ${cdSize}-byte central directory`)
    const cd = await ZipReader.readAt(fh, cdOffset, cdSize)
    if (cd.length !== cdSize) throw bad('central directory truncated')
    const dv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength)
    const entries: ZipEntry[] = []
    const seen = new Set<string>()
    let p = 0
    const utf8 = new TextDecoder('utf-8', {fatal: true})
    const latin1 = new TextDecoder('latin1')
    for (let e = 0; e < count; e++) {
      if (p + 46 > cd.length || dv.getUint32(p, true) !== SIG_CENTRAL) throw bad(`central directory entry ${e} is corrupt`)
      const flags = dv.getUint16(p + 8, true)
      const method = dv.getUint16(p + 10, true)
      const crc = dv.getUint32(p + 16, true)
      let csize = dv.getUint32(p + 20, true)
      let usize = dv.getUint32(p + 24, true)
      const nameLen = dv.getUint16(p + 28, true)
      const extraLen = dv.getUint16(p + 30, true)
      const commentLen = dv.getUint16(p + 32, true)
      let offset = dv.getUint32(p + 42, true)
      const end = p + 46 + nameLen + extraLen + commentLen
      if (end > cd.length) throw bad(`central directory entry ${e} runs past the directory`)
      const rawName = cd.subarray(p + 46, p + 46 + nameLen)
      let name: string
      try {
        name = flags & 0x800 ? utf8.decode(rawName) : latin1.decode(rawName)
      } catch {
        throw bad(`entry ${e} has a name that is not valid UTF-8`)
      }
      const memberErr = (msg: string) => ZipReader.error(file, memberKey(name), msg)
      // zip64 extra field
      let q = p + 46 + nameLen
      const extraEnd = q + extraLen
      while (q + 4 <= extraEnd) {
        const id = dv.getUint16(q, true)
        const len = dv.getUint16(q + 2, true)
        if (q + 4 + len > extraEnd) throw memberErr('corrupt zip extra field')
        if (id === 0x0001) {
          let r = q + 4
          const take = () => {
            if (r + 8 > q + 4 + len) throw memberErr('zip64 extra field too short')
            const v = u64(dv, r, () => memberErr('zip64 size out of range'))
            r += 8
            return v
          }
          if (usize === 0xffffffff) usize = take()
          if (csize === 0xffffffff) csize = take()
          if (offset === 0xffffffff) offset = take()
        }
        q += 4 + len
      }
      p = end
      const nameProblem = checkMemberName(name)
      if (nameProblem) throw memberErr(`unsafe member name: ${nameProblem}`)
      if (seen.has(name)) throw memberErr('duplicate member name in the archive')
      seen.add(name)
      if (name.endsWith('/')) continue // a folder entry holds no data
      if (flags & 0x1) throw memberErr('member is encrypted (not supported)')
      if (method !== 0 && method !== 8) throw memberErr(`unsupported compression method ${method} (only stored and deflate)`)
      if (method === 0 && csize !== usize) throw memberErr(`stored member sizes disagree (${csize} vs ${usize})`)
      if (offset + 30 + csize > cdOffset)
        throw memberErr(`member data (${csize} bytes at ${offset}) runs past the start of the central directory (truncated?)`)
      entries.push({name, method, flags, crc32: crc, compressedSize: csize, uncompressedSize: usize, localHeaderOffset: offset})
    }
    return entries
  }

  async close(): Promise<void> {
    await this.fh.close()
  }

  private err(entry: ZipEntry, msg: string, cause?: unknown): ContractError {
    return ZipReader.error(this.file, memberKey(entry.name), msg, cause)
  }

  /** Absolute offset of the member's (compressed) data. */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const lh = await ZipReader.readAt(this.fh, entry.localHeaderOffset, 30)
    const dv = new DataView(lh.buffer, lh.byteOffset, lh.byteLength)
    if (lh.length < 30 || dv.getUint32(0, true) !== SIG_LOCAL) throw this.err(entry, 'bad local file header (corrupt zip)')
    const start = entry.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true)
    if (start + entry.compressedSize > this.fileSize) throw this.err(entry, 'member data runs past the end of the file (truncated?)')
    return start
  }

  /**
   * Read the first bytes of a member's uncompressed content (at least `want` bytes when the member has them;
   * deflated members inflate only a prefix).
   */
  async readPrefix(entry: ZipEntry, want: number): Promise<Uint8Array> {
    const start = await this.dataOffset(entry)
    want = Math.min(want, entry.uncompressedSize)
    if (entry.method === 0) return ZipReader.readAt(this.fh, start, want)
    let window = Math.min(entry.compressedSize, Math.max(4096, want + 1024))
    while (true) {
      const comp = await ZipReader.readAt(this.fh, start, window)
      let out: Buffer
      try {
        // deflate expands at most ~1032:1, so this output bound always holds for a window of this size
        out = inflateRawSync(comp, {finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: window * 1040 + 65536})
      } catch (error) {
        throw this.err(entry, `corrupt deflate data (${(error as Error).message})`, error)
      }
      if (out.length >= want || window >= entry.compressedSize)
        return new Uint8Array(out.buffer, out.byteOffset, Math.min(out.length, want))
      window = Math.min(entry.compressedSize, window * 4)
    }
  }

  /**
   * Read a whole member: a fresh Uint8Array of exactly uncompressedSize bytes (never more; inflate has a hard
   * cap at the declared size), CRC-32 checked. `expectedSize` (e.g. implied by the .npy header) must agree.
   */
  async read(entry: ZipEntry): Promise<Uint8Array> {
    const usize = entry.uncompressedSize
    if (usize >= MAX_MEMBER_BYTES)
      throw this.err(entry, `member of ${usize} bytes is larger than one buffer can hold (${MAX_MEMBER_BYTES})`)
    const start = await this.dataOffset(entry)
    let out: Uint8Array
    if (entry.method === 0) {
      // fresh, unzeroed memory (every byte is overwritten or we fail); read in chunks with one read ahead,
      // computing the CRC of a chunk while the next one is read
      out = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(usize, 1)).buffer, 0, usize)
      const crc = await this.readChunkedWithCrc(entry, start, out)
      if (crc >>> 0 !== entry.crc32 >>> 0)
        throw this.err(entry, `CRC-32 mismatch (stored ${hex(entry.crc32)}, data ${hex(crc)}): the file is corrupt`)
      return out
    } else {
      // deflate cannot expand more than ~1032:1; a larger declared size is a lie (do not allocate for it)
      if (usize > entry.compressedSize * 1040 + 1024)
        throw this.err(entry, `declares ${usize} bytes from only ${entry.compressedSize} compressed bytes: impossible for deflate (corrupt or malicious)`)
      if (usize > this.inflateInMemoryLimit) return this.inflateStreaming(entry, start)
      const comp = await ZipReader.readAt(this.fh, start, entry.compressedSize, Buffer.allocUnsafeSlow(Math.max(entry.compressedSize, 1)))
      if (comp.length !== entry.compressedSize) throw this.err(entry, `truncated: read ${comp.length} of ${entry.compressedSize} compressed bytes`)
      let buf: Buffer
      try {
        // one output chunk of the declared size: no reallocations, and a hard cap one byte above it
        buf = inflateRawSync(comp, {chunkSize: Math.max(64, usize + 1), maxOutputLength: Math.max(1, usize + 1)})
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
          throw this.err(entry, `inflates to more than its declared ${usize} bytes (zip bomb or corrupt)`, error)
        throw this.err(entry, `corrupt deflate data (${(error as Error).message})`, error)
      }
      if (buf.length !== usize) throw this.err(entry, `inflates to ${buf.length} bytes but the zip declares ${usize}`)
      out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
    }
    const crc = crc32(out)
    if (crc >>> 0 !== entry.crc32 >>> 0) throw this.err(entry, `CRC-32 mismatch (stored ${hex(entry.crc32)}, data ${hex(crc)}): the file is corrupt`)
    return out
  }

  /**
   * Inflate a large member from 1 MiB reads (two buffers, reused) into zlib's own output buffer, sized to the
   * declared size plus one byte: the output lands in one contiguous buffer that becomes the result (no copy),
   * and one byte more than declared is a zip bomb. Memory: the member + 2 MiB.
   */
  private async inflateStreaming(entry: ZipEntry, start: number): Promise<Uint8Array> {
    const usize = entry.uncompressedSize
    const inflater = createInflateRaw({chunkSize: usize + 1})
    const parts: Buffer[] = []
    let total = 0
    let crc = 0
    let failure: Error | undefined
    const fail = (error: Error) => {
      if (!failure) failure = error
      inflater.destroy()
    }
    const ended = new Promise<void>((resolve) => {
      inflater.on('data', (chunk: Buffer) => {
        total += chunk.length
        if (total > usize) return fail(this.err(entry, `inflates to more than its declared ${usize} bytes (zip bomb or corrupt)`))
        if (chunk.length > 0) crc = crc32(chunk, crc)
        parts.push(chunk)
      })
      inflater.on('error', (error) => fail(this.err(entry, `corrupt deflate data (${error.message})`, error)))
      inflater.on('close', () => resolve())
      inflater.on('end', () => resolve())
    })
    const IN = 1 << 20
    const bufs = [Buffer.allocUnsafeSlow(Math.min(IN, entry.compressedSize) || 1), Buffer.allocUnsafeSlow(Math.min(IN, entry.compressedSize) || 1)]
    const inUse: Array<Promise<void> | undefined> = [undefined, undefined]
    let pos = 0
    for (let k = 0; pos < entry.compressedSize && !failure; k++) {
      const slot = k % 2
      await inUse[slot]
      if (failure) break
      const n = Math.min(IN, entry.compressedSize - pos)
      const got = await ZipReader.readAt(this.fh, start + pos, n, bufs[slot]!.subarray(0, n))
      if (got.length !== n) {
        fail(this.err(entry, `truncated: read ${pos + got.length} of ${entry.compressedSize} compressed bytes`))
        break
      }
      pos += n
      inUse[slot] = new Promise<void>((resolve) => inflater.write(got, () => resolve()))
    }
    if (!failure) inflater.end()
    await ended
    if (failure) throw failure
    if (total !== usize) throw this.err(entry, `inflates to ${total} bytes but the zip declares ${usize}`)
    if (crc >>> 0 !== entry.crc32 >>> 0) throw this.err(entry, `CRC-32 mismatch (stored ${hex(entry.crc32)}, data ${hex(crc)}): the file is corrupt`)
    const first = parts[0]
    let contiguous = first !== undefined
    for (let k = 1, off = first?.byteOffset ?? 0; contiguous && k < parts.length; k++) {
      off += parts[k - 1]!.length
      contiguous = parts[k]!.buffer === first!.buffer && parts[k]!.byteOffset === off
    }
    if (contiguous) return new Uint8Array(first!.buffer, first!.byteOffset, usize)
    // (a zlib that emits separate buffers: copy them together)
    const out = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(usize, 1)).buffer, 0, usize)
    let fill = 0
    for (const p of parts) {
      out.set(p, fill)
      fill += p.length
    }
    return out
  }

  private async readChunkedWithCrc(entry: ZipEntry, start: number, out: Uint8Array): Promise<number> {
    const CHUNK = 4 << 20
    const n = Math.ceil(out.length / CHUNK)
    const readChunk = async (k: number): Promise<void> => {
      const from = k * CHUNK
      const len = Math.min(CHUNK, out.length - from)
      const got = await ZipReader.readAt(this.fh, start + from, len, out.subarray(from, from + len))
      if (got.length !== len) throw this.err(entry, `truncated: read ${from + got.length} of ${out.length} bytes`)
    }
    let crc = 0
    let ahead: Promise<void> | undefined = n > 0 ? readChunk(0) : undefined
    for (let k = 0; k < n; k++) {
      const current = ahead!
      ahead = k + 1 < n ? readChunk(k + 1) : undefined
      try {
        await current
      } catch (error) {
        await ahead?.catch(() => {})
        throw error
      }
      crc = crc32(out.subarray(k * CHUNK, Math.min(out.length, (k + 1) * CHUNK)), crc)
    }
    return crc
  }

  /**
   * Stream a member's uncompressed bytes in chunks (at most `chunkBytes` each, except that stored members use
   * exactly that size), CRC-32 checked at the end, with a hard cap at the declared size. Memory stays at one chunk.
   */
  async stream(entry: ZipEntry, onChunk: (chunk: Uint8Array) => void, chunkBytes = 4 << 20): Promise<void> {
    const start = await this.dataOffset(entry)
    let crc = 0
    let total = 0
    const usize = entry.uncompressedSize
    if (entry.method === 0) {
      const buf = new Uint8Array(Math.min(chunkBytes, Math.max(usize, 1)))
      while (total < usize) {
        const n = Math.min(buf.length, usize - total)
        const got = await ZipReader.readAt(this.fh, start + total, n, buf)
        if (got.length !== n) throw this.err(entry, `truncated: read ${total + got.length} of ${usize} bytes`)
        const chunk = buf.subarray(0, n)
        if (n > 0) crc = crc32(chunk, crc)
        total += n
        onChunk(chunk)
      }
    } else {
      const inflater = createInflateRaw({chunkSize: Math.min(chunkBytes, 1 << 20)})
      let failure: Error | undefined
      const done = new Promise<void>((resolve, reject) => {
        inflater.on('data', (chunk: Buffer) => {
          if (failure) return
          total += chunk.length
          if (total > usize) {
            failure = this.err(entry, `inflates to more than its declared ${usize} bytes (zip bomb or corrupt)`)
            inflater.destroy()
            reject(failure)
            return
          }
          if (chunk.length > 0) crc = crc32(chunk, crc)
          try {
            onChunk(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))
          } catch (error) {
            failure = error as Error
            inflater.destroy()
            reject(error)
          }
        })
        inflater.on('error', (error) => {
          if (!failure) {
            failure = this.err(entry, `corrupt deflate data (${error.message})`, error)
            reject(failure)
          }
        })
        inflater.on('end', () => resolve())
      })
      done.catch(() => {})
      const inBuf = new Uint8Array(Math.min(1 << 20, Math.max(entry.compressedSize, 1)))
      let pos = 0
      while (pos < entry.compressedSize && !failure) {
        const n = Math.min(inBuf.length, entry.compressedSize - pos)
        const got = await ZipReader.readAt(this.fh, start + pos, n, inBuf)
        if (got.length !== n) {
          inflater.destroy()
          throw this.err(entry, 'truncated compressed data')
        }
        pos += n
        const copy = Buffer.from(got) // the inflater keeps a reference until it has consumed it
        if (!inflater.write(copy))
          await new Promise<void>((r) => {
            const done = () => {
              inflater.off('drain', done)
              inflater.off('close', done)
              r()
            }
            inflater.on('drain', done)
            inflater.on('close', done)
          })
      }
      if (!failure) inflater.end()
      await done
      if (total !== usize) throw this.err(entry, `inflates to ${total} bytes but the zip declares ${usize}`)
    }
    if (crc >>> 0 !== entry.crc32 >>> 0) throw this.err(entry, `CRC-32 mismatch (stored ${hex(entry.crc32)}, data ${hex(crc)}): the file is corrupt`)
  }
}

/** The NPZ key of a zip member: its name without `.npy`. */
export function memberKey(zipName: string): string {
  return zipName.endsWith('.npy') ? zipName.slice(0, -4) : zipName
}

function hex(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0')
}
