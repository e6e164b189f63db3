import {randomBytes} from 'node:crypto'
import {mkdirSync} from 'node:fs'
import {mkdir, open, rename, rm} from 'node:fs/promises'
import {closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import path from 'node:path'

function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Write a file atomically: write a temp file in the same folder, fsync it, rename it over the target.
 * A reader sees either the old content or the new one, never a partial file.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(target), {recursive: true})
  const tmp = tempPathFor(target)
  const handle = await open(tmp, 'w')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (error) {
    await handle.close().catch(() => {})
    await rm(tmp, {force: true})
    throw error
  }
  await handle.close()
  try {
    await rename(tmp, target)
  } catch (error) {
    await rm(tmp, {force: true})
    throw error
  }
}

/** Synchronous twin of writeFileAtomic, for exit paths where awaiting is not possible. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(target), {recursive: true})
  const tmp = tempPathFor(target)
  const fd = openSync(tmp, 'w')
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    rmSync(tmp, {force: true})
    throw error
  }
  closeSync(fd)
  renameSync(tmp, target)
}

/** Pretty JSON with a trailing newline, written atomically. */
export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n')
}
