/**
 * Completion records: a job is complete when its `job_record.json` exists, was written atomically after
 * its outputs, and matches what would run now (same config, runner, backend, seed and input files).
 * A crash leaves no record, so the job is visibly incomplete and reruns.
 */
import {createHash} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import path from 'node:path'

import {z} from 'zod'

import {writeJsonAtomic} from '../io/atomic.js'

export const JOB_RECORD_FILE = 'job_record.json'
export const JOB_RECORD_SCHEMA_VERSION = 1

export const InputStampSchema = z.object({size_bytes: z.number().int().nonnegative(), mtime_ms: z.number()})
export type InputStamp = z.infer<typeof InputStampSchema>

export const JobRecordSchema = z.object({
  schema_version: z.literal(JOB_RECORD_SCHEMA_VERSION),
  key: z.string(),
  status: z.literal('success'),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  finished_at: z.string(),
  duration_s: z.number().nonnegative(),
  result: z.record(z.string(), z.unknown()),
})
export type JobRecord = z.infer<typeof JobRecordSchema>

export interface FingerprintInput {
  key: string
  config: unknown
  runner: string
  runnerSignature: string
  backend: string
  seed: number
  inputs: {train: InputStamp | null; test: InputStamp | null}
}

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable)
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
    )
  }
  return value
}

export function jobFingerprint(input: FingerprintInput): string {
  return createHash('sha256').update(JSON.stringify(stable(input))).digest('hex')
}

export function stampInput(file: string): InputStamp | null {
  try {
    const st = statSync(file)
    return {size_bytes: st.size, mtime_ms: Math.round(st.mtimeMs)}
  } catch {
    return null
  }
}

/** The job's completion record, or undefined when absent or unreadable (an unreadable one is not trusted). */
export function readJobRecord(artifactDir: string): JobRecord | undefined {
  try {
    const parsed = JobRecordSchema.safeParse(JSON.parse(readFileSync(path.join(artifactDir, JOB_RECORD_FILE), 'utf8')))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

export async function writeJobRecord(artifactDir: string, record: JobRecord): Promise<void> {
  await writeJsonAtomic(path.join(artifactDir, JOB_RECORD_FILE), JobRecordSchema.parse(record))
}

/** Remove a job's record before it reruns, so a crash mid-run cannot leave a stale "complete". */
/** where a job's record goes when the job runs again (kept, so that a rerun that fails does not erase it) */
export const PREVIOUS_JOB_RECORD_FILE = 'job_record.previous.json'

/**
 * Before a job runs (again): its completion record is moved aside to job_record.previous.json (replacing an
 * older one), so that the job is incomplete until the new run succeeds, yet the record of the earlier success
 * is not lost when the new run fails.
 */
export async function clearJobRecord(artifactDir: string): Promise<void> {
  try {
    await rename(path.join(artifactDir, JOB_RECORD_FILE), path.join(artifactDir, PREVIOUS_JOB_RECORD_FILE))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') await rm(path.join(artifactDir, JOB_RECORD_FILE), {force: true})
  }
}
