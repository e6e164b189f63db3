import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'

export interface FileDigest {
  sha256: string
  size_bytes: number
}

/** sha256 (lowercase hex) and size of a file, streamed in 64 KiB chunks. */
export async function digestFile(file: string): Promise<FileDigest> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(file, {highWaterMark: 64 * 1024})) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  const st = await stat(file)
  if (st.size !== size) throw new Error(`file changed while hashing: ${file}`)
  return {sha256: hash.digest('hex'), size_bytes: size}
}
