import {realpathSync} from 'node:fs'
import path from 'node:path'

/** A root folder as the user gave it and as resolved to an absolute, symlink-free path. */
export interface RootPath {
  given: string
  resolved: string
}

export function resolveRoot(given: string, cwd: string): RootPath {
  const abs = path.resolve(cwd, given)
  let resolved = abs
  try {
    resolved = realpathSync(abs)
  } catch {
    // not created yet: keep the absolute path
  }
  return {given, resolved}
}

/** POSIX path of `target` relative to `root` (both absolute or both relative to the same cwd). */
export function toPosixRelative(root: string, target: string): string {
  const rel = path.relative(root, target)
  return rel.split(path.sep).join('/') || '.'
}

/** POSIX form of any path (platform separators replaced). */
export function toPosix(p: string): string {
  return p.split(path.sep).join('/')
}
