/**
 * What a job's result looks like in records and manifests: JSON-safe, model objects dropped, paths POSIX
 * and relative (to the job's artifact folder for result fields, as the reference's bundle_path).
 */
import path from 'node:path'

import {toPosix} from '../io/paths.js'

/** keys the reference drops from results (live model objects) */
export const DROPPED_RESULT_KEYS = new Set(['models', 'model', 'autoencoder', 'diffraction_to_obj'])

function isPathKey(key: string): boolean {
  return key.endsWith('_path') || key.endsWith('_dir') || key === 'path'
}

/** relative POSIX path of an absolute path below (or beside) `base`; relative strings are made POSIX */
export function relativePosix(base: string, p: string): string {
  if (!path.isAbsolute(p)) return toPosix(p)
  return toPosix(path.relative(base, p)) || '.'
}

export function sanitizeResult(value: unknown, artifactDir: string, key = ''): unknown {
  if (value === null || value === undefined) return null
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value)
  if (typeof value === 'string') return isPathKey(key) ? relativePosix(artifactDir, value) : value
  if (typeof value === 'boolean') return value
  if (typeof value === 'bigint') return Number(value)
  if (Array.isArray(value)) return value.map((v) => sanitizeResult(v, artifactDir))
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v) => sanitizeResult(v, artifactDir))
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (DROPPED_RESULT_KEYS.has(k) || v === undefined) continue
      out[k] = sanitizeResult(v, artifactDir, k)
    }
    return out
  }
  return String(value)
}

export function sanitizeResultObject(value: unknown, artifactDir: string): Record<string, unknown> {
  const out = sanitizeResult(value, artifactDir)
  return out && typeof out === 'object' && !Array.isArray(out) ? (out as Record<string, unknown>) : {value: out}
}
