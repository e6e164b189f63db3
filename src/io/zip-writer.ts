/**
 * A minimal zip writer for .npz files: members are written one after the other into a temp file next to the
 * target (no whole-archive buffer), then fsynced and renamed over the target (atomic). Stored or deflated,
 * zip64 records where sizes or offsets need them (or always, for tests), a fixed 1980-01-01 timestamp so the
 * same arrays give byte-identical files.
 */
import {randomBytes} from 'node:crypto'
import {mkdir, open, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import {once} from 'node:events'
import {crc32, createDeflateRaw, deflateRawSync} from 'node:zlib'
import {asOutputError} from './atomic.js'

export interface ZipMemberInput {
  name: string
  /** the uncompressed content, as consecutive parts (not concatenated in memory for stored members) */
  parts: Uint8Array[]
}

export interface ZipWriteOptions {
  compress?: boolean
  /** zlib level 0-9 (numpy's savez_compressed uses the zlib default, 6) */
  level?: number
  /** 'auto' writes zip64 records only when needed; 'always' forces them (for tests) */
  zip64?: 'auto' | 'always'
}

const LIMIT32 = 0xffffffff
const DOS_DATE = (0 << 9) | (1 << 5) | 1 // 1980-01-01
const DOS_TIME = 0

interface Written {
  name: Buffer
  utf8: boolean
  method: number
  crc: number
  csize: number
  usize: number
  offset: number
  zip64: boolean
}

const SLICE = 4 << 20
/** Members larger than this get zip64 records (their deflated size could pass 4 GiB). */
const ZIP64_FROM = 0xf0000000
/** Members larger than this are deflated as a stream straight to the file (no concatenated copy in memory). */
const STREAM_DEFLATE_FROM = 1 << 20

/** Deflate parts (in 1 MiB slices, no copies) on zlib's thread pool, writing output as it comes. */
async function deflateStreaming(
  parts: Uint8Array[],
  level: number,
  write: (b: Uint8Array) => Promise<void>,
  addCrc: (b: Uint8Array) => void,
): Promise<void> {
  const deflater = createDeflateRaw({level, chunkSize: 1 << 20})
  const feed = (async () => {
    for (const part of parts)
      for (let o = 0; o < part.length; o += 1 << 20) {
        const slice = part.subarray(o, Math.min(part.length, o + (1 << 20)))
        const more = deflater.write(slice)
        addCrc(slice) // on this thread while zlib deflates on its pool
        if (!more) await once(deflater, 'drain')
      }
    deflater.end()
  })()
  feed.catch(() => {})
  for await (const chunk of deflater) await write(chunk as Buffer)
  await feed
}

function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

export async function writeZipAtomic(target: string, members: ZipMemberInput[], opts: ZipWriteOptions = {}): Promise<void> {
  try {
    await writeZipAtomicRaw(target, members, opts)
  } catch (error) {
    throw asOutputError(target, error)
  }
}

async function writeZipAtomicRaw(target: string, members: ZipMemberInput[], opts: ZipWriteOptions): Promise<void> {
  const compress = opts.compress ?? true
  const force64 = opts.zip64 === 'always'
  await mkdir(path.dirname(target), {recursive: true})
  const tmp = tempPathFor(target)
  const fh = await open(tmp, 'w')
  let pos = 0
  const writeAt = async (bytes: Uint8Array, at: number) => {
    let done = 0
    while (done < bytes.length) {
      const {bytesWritten} = await fh.write(bytes, done, bytes.length - done, at + done)
      done += bytesWritten
    }
  }
  const write = async (bytes: Uint8Array) => {
    await writeAt(bytes, pos)
    pos += bytes.length
  }
  try {
    const written: Written[] = []
    for (const m of members) {
      let crc = 0
      let usize = 0
      for (const part of m.parts) usize += part.length
      // (node's crc32 returns 0 for a view on a zero-length ArrayBuffer, whatever the running value)
      const addCrc = (bytes: Uint8Array) => {
        if (bytes.length > 0) crc = crc32(bytes, crc)
      }
      const method = compress ? 8 : 0
      const name = Buffer.from(m.name, 'utf8')
      const utf8 = /[^\x20-\x7e]/.test(m.name)
      // the compressed size is known only after deflating: decide zip64 conservatively (deflate expands
      // incompressible data by well under 1 %), write the local header, the data, then patch the size in place
      const zip64 = force64 || usize >= ZIP64_FROM || pos >= LIMIT32
      const offset = pos
      // local header; with zip64 both sizes go into the extra field
      const extra = zip64 ? 20 : 0
      const lh = Buffer.alloc(30 + name.length + extra)
      lh.writeUInt32LE(0x04034b50, 0)
      lh.writeUInt16LE(zip64 ? 45 : 20, 4)
      lh.writeUInt16LE(utf8 ? 0x800 : 0, 6)
      lh.writeUInt16LE(method, 8)
      lh.writeUInt16LE(DOS_TIME, 10)
      lh.writeUInt16LE(DOS_DATE, 12)
      lh.writeUInt32LE(0, 14) // CRC-32: patched below, computed while the data is written
      lh.writeUInt32LE(zip64 ? LIMIT32 : usize, 18) // compressed size: patched below when deflating
      lh.writeUInt32LE(zip64 ? LIMIT32 : usize, 22)
      lh.writeUInt16LE(name.length, 26)
      lh.writeUInt16LE(extra, 28)
      name.copy(lh, 30)
      if (zip64) {
        const x = 30 + name.length
        lh.writeUInt16LE(0x0001, x)
        lh.writeUInt16LE(16, x + 2)
        lh.writeBigUInt64LE(BigInt(usize), x + 4)
        lh.writeBigUInt64LE(BigInt(usize), x + 12)
      }
      await write(lh)
      let csize = usize
      if (compress) {
        const dataStart = pos
        if (usize <= STREAM_DEFLATE_FROM) {
          const joined = m.parts.length === 1 ? m.parts[0]! : Buffer.concat(m.parts)
          addCrc(joined)
          await write(deflateRawSync(joined, {level: opts.level ?? 6}))
        } else await deflateStreaming(m.parts, opts.level ?? 6, write, addCrc)
        csize = pos - dataStart
        if (!zip64 && csize >= LIMIT32) throw new Error(`internal: member ${m.name} deflated to ${csize} bytes without zip64`)
        const patch = Buffer.alloc(zip64 ? 8 : 4)
        if (zip64) patch.writeBigUInt64LE(BigInt(csize))
        else patch.writeUInt32LE(csize)
        await writeAt(patch, zip64 ? offset + 30 + name.length + 12 : offset + 18)
      } else {
        // stored: write 4 MiB slices, computing the CRC of each while it is being written
        for (const part of m.parts)
          for (let o = 0; o < part.length; o += SLICE) {
            const slice = part.subarray(o, Math.min(part.length, o + SLICE))
            const pending = write(slice)
            addCrc(slice)
            await pending
          }
      }
      const crcBytes = Buffer.alloc(4)
      crcBytes.writeUInt32LE(crc >>> 0)
      await writeAt(crcBytes, offset + 14)
      written.push({name, utf8, method, crc: crc >>> 0, csize, usize, offset, zip64})
    }
    // central directory
    const cdOffset = pos
    for (const w of written) {
      const fields: bigint[] = []
      if (w.zip64 || w.usize >= LIMIT32) fields.push(BigInt(w.usize))
      if (w.zip64 || w.csize >= LIMIT32) fields.push(BigInt(w.csize))
      if (w.zip64 || w.offset >= LIMIT32) fields.push(BigInt(w.offset))
      const extra = fields.length > 0 ? 4 + 8 * fields.length : 0
      const big = fields.length > 0
      const ch = Buffer.alloc(46 + w.name.length + extra)
      ch.writeUInt32LE(0x02014b50, 0)
      ch.writeUInt16LE((3 << 8) | (big ? 45 : 20), 4) // made by unix
      ch.writeUInt16LE(big ? 45 : 20, 6)
      ch.writeUInt16LE(w.utf8 ? 0x800 : 0, 8)
      ch.writeUInt16LE(w.method, 10)
      ch.writeUInt16LE(DOS_TIME, 12)
      ch.writeUInt16LE(DOS_DATE, 14)
      ch.writeUInt32LE(w.crc, 16)
      ch.writeUInt32LE(big ? LIMIT32 : w.csize, 20)
      ch.writeUInt32LE(big ? LIMIT32 : w.usize, 24)
      ch.writeUInt16LE(w.name.length, 28)
      ch.writeUInt16LE(extra, 30)
      ch.writeUInt16LE(0, 32) // comment
      ch.writeUInt16LE(0, 34) // disk
      ch.writeUInt16LE(0, 36) // internal attrs
      ch.writeUInt32LE((0o100644 << 16) >>> 0, 38) // external attrs: regular file rw-r--r--
      ch.writeUInt32LE(big ? LIMIT32 : w.offset, 42)
      w.name.copy(ch, 46)
      if (big) {
        let x = 46 + w.name.length
        ch.writeUInt16LE(0x0001, x)
        ch.writeUInt16LE(8 * fields.length, x + 2)
        x += 4
        for (const f of fields) {
          ch.writeBigUInt64LE(f, x)
          x += 8
        }
      }
      await write(ch)
    }
    const cdSize = pos - cdOffset
    const need64 = force64 || written.length >= 0xffff || cdOffset >= LIMIT32 || cdSize >= LIMIT32
    if (need64) {
      const z64At = pos
      const rec = Buffer.alloc(56 + 20)
      rec.writeUInt32LE(0x06064b50, 0)
      rec.writeBigUInt64LE(44n, 4) // size of the rest of the record
      rec.writeUInt16LE((3 << 8) | 45, 12)
      rec.writeUInt16LE(45, 14)
      rec.writeUInt32LE(0, 16)
      rec.writeUInt32LE(0, 20)
      rec.writeBigUInt64LE(BigInt(written.length), 24)
      rec.writeBigUInt64LE(BigInt(written.length), 32)
      rec.writeBigUInt64LE(BigInt(cdSize), 40)
      rec.writeBigUInt64LE(BigInt(cdOffset), 48)
      // locator
      rec.writeUInt32LE(0x07064b50, 56)
      rec.writeUInt32LE(0, 60)
      rec.writeBigUInt64LE(BigInt(z64At), 64)
      rec.writeUInt32LE(1, 72)
      await write(rec)
    }
    const eocd = Buffer.alloc(22)
    eocd.writeUInt32LE(0x06054b50, 0)
    eocd.writeUInt16LE(Math.min(written.length, 0xffff), 8)
    eocd.writeUInt16LE(Math.min(written.length, 0xffff), 10)
    eocd.writeUInt32LE(need64 ? LIMIT32 : cdSize, 12)
    eocd.writeUInt32LE(need64 ? LIMIT32 : cdOffset, 16)
    await write(eocd)
    await fh.sync()
    await fh.close()
  } catch (error) {
    await fh.close().catch(() => {})
    await rm(tmp, {force: true})
    throw error
  }
  try {
    await rename(tmp, target)
  } catch (error) {
    await rm(tmp, {force: true})
    throw error
  }
}
