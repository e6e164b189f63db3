import {randomBytes} from 'node:crypto'
import {constants as fsConstants, mkdirSync} from 'node:fs'
import {access, mkdir, open, rename, rm, stat} from 'node:fs/promises'
import {closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import path from 'node:path'

import {OutputError, StudyError} from '../errors.js'

function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

const OUTPUT_FAILURES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a file is in the way of a folder on that path',
  EEXIST: 'a file is in the way of a folder on that path',
  EISDIR: 'the target is a folder',
}

/**
 * An fs error met while writing `target` that the user must fix (permissions, a full or read-only disk, a file where a
 * folder should be) becomes an OutputError naming the file and the reason; anything else is returned unchanged.
 */
export function asOutputError(target: string, error: unknown): unknown {
  if (error instanceof StudyError) return error
  const e = error as NodeJS.ErrnoException | undefined
  const code = e?.code
  if (!code || !(code in OUTPUT_FAILURES)) return error
  const at = e.path && path.resolve(e.path) !== path.resolve(target) && !path.basename(e.path).startsWith(`.${path.basename(target)}.`) ? ` (at ${e.path})` : ''
  return new OutputError(target, `cannot write ${target}: ${OUTPUT_FAILURES[code]} [${code}]${at}`, {cause: error})
}

/**
 * Make sure `dir` exists (created with its parents) and is a writable folder, before any long work writes into
 * it; a problem the user must fix becomes an OutputError (exit 73) naming the folder.
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, {recursive: true})
    await access(dir, fsConstants.W_OK)
  } catch (error) {
    throw asOutputError(dir, error)
  }
}

/**
 * Check, without creating anything, that `dir` could be created or written: the nearest existing ancestor (or
 * `dir` itself) must be a folder this process may write to. Throws an OutputError (exit 73) naming `dir` if not.
 */
export async function checkDirWritable(dir: string): Promise<void> {
  let at = path.resolve(dir)
  for (;;) {
    let st
    try {
      st = await stat(at)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const parent = path.dirname(at)
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== at) {
        at = parent
        continue
      }
      throw asOutputError(dir, error)
    }
    if (!st.isDirectory()) {
      const e = Object.assign(new Error(`not a folder: ${at}`), {code: at === path.resolve(dir) ? 'EEXIST' : 'ENOTDIR', path: at})
      throw asOutputError(dir, e)
    }
    try {
      await access(at, fsConstants.W_OK)
    } catch (error) {
      throw asOutputError(dir, error)
    }
    return
  }
}

/**
 * Write a file atomically: write a temp file in the same folder, fsync it, rename it over the target.
 * A reader sees either the old content or the new one, never a partial file.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFileAtomicRaw(target, data)
  } catch (error) {
    throw asOutputError(target, error)
  }
}

async function writeFileAtomicRaw(target: string, data: string | Uint8Array): Promise<void> {
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
