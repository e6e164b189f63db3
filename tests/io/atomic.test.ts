/**
 * Atomic writes (src/io/atomic.ts, src/io/zip-writer.ts): a write the environment refuses (a file where a folder
 * should be, no permission) is an OutputError naming the target and the reason (exit 73), leaves no temp file,
 * and never touches the file already there.
 */
import {chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {EXIT_CANNOT_WRITE, OutputError, StudyError} from '../../src/errors.js'
import {asOutputError, writeFileAtomic, writeJsonAtomic} from '../../src/io/atomic.js'
import {writeNpz} from '../../src/io/npz.js'
import {tempDir} from './helpers.js'

const x = {dtype: '<f8', shape: [2], data: Float64Array.of(1, 2)} as const

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (error) {
    return error
  }
  throw new Error('expected the write to fail')
}

describe('atomic writes the environment refuses', () => {
  it('a file in the way of the folder: OutputError naming the target, exit 73, for JSON and NPZ', async () => {
    const dir = tempDir()
    const blocker = path.join(dir, 'runs')
    writeFileSync(blocker, 'not a folder')
    for (const [target, write] of [
      [path.join(blocker, 'manifest.json'), (t: string) => writeJsonAtomic(t, {a: 1})],
      [path.join(blocker, 'dose_1000', 'train.npz'), (t: string) => writeNpz(t, {x: {...x, shape: [...x.shape]}})],
    ] as const) {
      const error = await caught(write(target))
      expect(error).toBeInstanceOf(OutputError)
      expect((error as OutputError).exitCode).toBe(EXIT_CANNOT_WRITE)
      expect((error as OutputError).path).toBe(target)
      expect((error as Error).message).toMatch(new RegExp(`^cannot write ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a file is in the way of a folder on that path \\[(ENOTDIR|EEXIST)\\]`))
    }
    expect(readFileSync(blocker, 'utf8')).toBe('not a folder')
    expect(readdirSync(dir)).toEqual(['runs'])
  })

  it.skipIf(process.getuid?.() === 0)('a read-only folder: permission denied, the old file untouched, no temp file left', async () => {
    const dir = tempDir()
    const target = path.join(dir, 'manifest.json')
    writeFileSync(target, 'old')
    chmodSync(dir, 0o555)
    try {
      const error = await caught(writeFileAtomic(target, 'new'))
      expect(error).toBeInstanceOf(OutputError)
      expect((error as Error).message).toMatch(/: permission denied \[EACCES\]$/)
      const npzError = await caught(writeNpz(path.join(dir, 'a.npz'), {x: {...x, shape: [...x.shape]}}))
      expect(npzError).toBeInstanceOf(OutputError)
    } finally {
      chmodSync(dir, 0o755)
    }
    expect(readFileSync(target, 'utf8')).toBe('old')
    expect(readdirSync(dir)).toEqual(['manifest.json'])
  })
  if (process.getuid?.() === 0) console.log('note: running as root, so the read-only folder case is skipped (root ignores mode bits)')

  it('other errors pass through unchanged', () => {
    const enoent = Object.assign(new Error('gone'), {code: 'ENOENT'})
    expect(asOutputError('/x', enoent)).toBe(enoent)
    const plain = new TypeError('bug')
    expect(asOutputError('/x', plain)).toBe(plain)
    const study = new StudyError('already typed')
    expect(asOutputError('/x', study)).toBe(study)
    const full = Object.assign(new Error('full'), {code: 'ENOSPC', path: '/x/.x.1.tmp'})
    expect((asOutputError('/x', full) as Error).message).toBe('cannot write /x: no space left on device [ENOSPC]')
  })

  it('writes still work and replace the old content', async () => {
    const dir = tempDir()
    const target = path.join(dir, 'sub', 'm.json')
    mkdirSync(path.dirname(target))
    await writeJsonAtomic(target, {a: 1})
    await writeJsonAtomic(target, {a: 2})
    expect(JSON.parse(readFileSync(target, 'utf8'))).toEqual({a: 2})
    expect(readdirSync(path.dirname(target))).toEqual(['m.json'])
  })
})
