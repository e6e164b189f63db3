/**
 * training_manifest.json and skip_summary.json (spec §6.5, made path-safe), with their zod schemas.
 * Both are validated before writing and written atomically; skip_summary first, the manifest last.
 *
 * Each invocation writes the manifest of that invocation (as the reference does). A manifest already in
 * the artifact root is never lost: before it is replaced it is copied to
 * `manifests/training_manifest.<its timestamp>.json`, and the new manifest names that copy in
 * `previous_manifest`. The per-job completion records (job_record.json) stay the durable truth of
 * each job.
 */
import {execFile} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {z} from 'zod'

import {ContractError} from '../errors.js'
import {writeFileAtomic, writeJsonAtomic} from '../io/atomic.js'
import {toPosixRelative} from '../io/paths.js'

export const MANIFEST_FILE = 'training_manifest.json'
export const SKIP_SUMMARY_FILE = 'skip_summary.json'
export const MANIFEST_ARCHIVE_DIR = 'manifests'
export const MANIFEST_SCHEMA_VERSION = 1

/** a POSIX path relative to the artifact root (or a job folder): no backslash, not absolute */
const RelativePath = z
  .string()
  .min(1)
  .refine((p) => !p.includes('\\') && !p.startsWith('/') && !/^[A-Za-z]:/.test(p), {
    message: 'must be a relative POSIX path',
  })

const RootSchema = z.object({given: z.string(), resolved: z.string()})
const IsoTimestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, {message: 'must be UTC ISO 8601 (…Z)'})
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/)

export const SkipEventSchema = z.object({dose: z.number(), view: z.string(), reason: z.string()})

export const InputFileSchema = z.object({path: RelativePath, sha256: Sha256, size_bytes: z.number().int().nonnegative()})

export const ManifestJobSchema = z.object({
  key: z.string(),
  dose: z.number(),
  view: z.string(),
  gridsize: z.number().int(),
  train_data_path: RelativePath,
  test_data_path: RelativePath,
  log_path: RelativePath,
  artifact_dir: RelativePath,
  backend: z.string(),
  seed: z.number().int().nonnegative(),
  status: z.enum(['success', 'failed', 'dry-run', 'complete', 'interrupted']),
  error: z.string().nullable(),
  started_at: IsoTimestamp,
  finished_at: IsoTimestamp,
  duration_s: z.number().nonnegative(),
  inputs: z.object({train: InputFileSchema, test: InputFileSchema}).nullable(),
  result: z.record(z.string(), z.unknown()),
})
export type ManifestJob = z.infer<typeof ManifestJobSchema>

export const PlanEntrySchema = z.object({
  key: z.string(),
  dose: z.number(),
  view: z.string(),
  gridsize: z.number().int(),
  status: z.enum(['would-run', 'complete', 'missing-input', 'skipped']),
  reason: z.string().nullable(),
})

export const TrainingManifestSchema = z.object({
  schema_version: z.literal(MANIFEST_SCHEMA_VERSION),
  tool: z.object({name: z.string(), version: z.string()}),
  study: z.string(),
  command_line: z.array(z.string()),
  node_version: z.string(),
  platform: z.string(),
  git: z.object({commit: z.string(), dirty: z.boolean()}).nullable(),
  timestamp: IsoTimestamp,
  started_at: IsoTimestamp,
  finished_at: IsoTimestamp,
  phase_c_root: z.string(),
  phase_d_root: z.string(),
  artifact_root: z.string(),
  roots: z.object({phase_c: RootSchema, phase_d: RootSchema, artifact: RootSchema}),
  filters: z.object({
    dose: z.array(z.number()).nullable(),
    view: z.array(z.string()).nullable(),
    gridsize: z.array(z.number().int()).nullable(),
  }),
  dry_run: z.boolean(),
  runner: z.string(),
  backend: z.string(),
  parallel_jobs: z.number().int().positive(),
  seeds: z.object({base: z.number().int(), source: z.enum(['flag', 'study-default'])}),
  design: z.record(z.string(), z.unknown()),
  overrides: z.record(z.string(), z.unknown()),
  plan: z.array(PlanEntrySchema),
  jobs: z.array(ManifestJobSchema),
  skipped_views: z.array(SkipEventSchema),
  skipped_count: z.number().int().nonnegative(),
  skip_summary_path: RelativePath,
  summary: z.object({
    selected: z.number().int().nonnegative(),
    succeeded: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    complete: z.number().int().nonnegative(),
    dry_run: z.number().int().nonnegative(),
    interrupted: z.number().int().nonnegative(),
  }),
  previous_manifest: RelativePath.nullable(),
})
export type TrainingManifest = z.infer<typeof TrainingManifestSchema>

export const SkipSummarySchema = z.object({
  schema_version: z.literal(MANIFEST_SCHEMA_VERSION),
  timestamp: IsoTimestamp,
  skipped_views: z.array(SkipEventSchema),
  skipped_count: z.number().int().nonnegative(),
})
export type SkipSummary = z.infer<typeof SkipSummarySchema>

/** relative POSIX path from the artifact root */
export function relToRoot(artifactRoot: string, p: string): string {
  return toPosixRelative(artifactRoot, p)
}

let cachedVersion: string | undefined
/** the tool's version from its package.json (found by walking up from this module) */
export function toolVersion(): string {
  if (cachedVersion) return cachedVersion
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'package.json')
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as {name?: string; version?: string}
        if (pkg.name === 'study' && pkg.version) return (cachedVersion = pkg.version)
      } catch {
        // keep walking
      }
    }
    dir = path.dirname(dir)
  }
  return (cachedVersion = '0.0.0-unknown')
}

const execFileAsync = promisify(execFile)

/** commit and dirty flag of the git checkout at `cwd`, or null when it is not one (or git is absent) */
export async function gitState(cwd: string): Promise<{commit: string; dirty: boolean} | null> {
  try {
    // one process: porcelain v2 gives the commit ('# branch.oid') and one line per changed/untracked file
    const {stdout} = await execFileAsync('git', ['-C', cwd, 'status', '--porcelain=v2', '--branch'], {
      timeout: 5000,
      maxBuffer: 64 * 1024 * 1024,
    })
    const lines = stdout.split('\n').filter(Boolean)
    const commit = /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(stdout)?.[1]
    if (!commit) return null
    return {commit, dirty: lines.some((l) => !l.startsWith('#'))}
  } catch {
    return null
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown, file: string): T {
  const r = schema.safeParse(value)
  if (!r.success) {
    // a bug in study, not the user's input: nothing has been written
    throw new ContractError(file, undefined, `refusing to write an invalid manifest:\n${z.prettifyError(r.error)}`)
  }
  return r.data
}

function archiveName(timestamp: string | undefined, fallback: Date): string {
  const ts = (timestamp ?? fallback.toISOString()).replace(/[:]/g, '').replace(/[^0-9A-Za-z.TZ-]/g, '')
  return `training_manifest.${ts}.json`
}

/** Copy the existing manifest (if any) into manifests/ and return its path relative to the root. */
async function archivePrevious(artifactRoot: string): Promise<string | null> {
  const current = path.join(artifactRoot, MANIFEST_FILE)
  let text: string
  try {
    text = await readFile(current, 'utf8')
  } catch {
    return null
  }
  let timestamp: string | undefined
  try {
    const parsed = JSON.parse(text) as {started_at?: unknown; timestamp?: unknown}
    const t = parsed.started_at ?? parsed.timestamp
    if (typeof t === 'string') timestamp = t
  } catch {
    // an unreadable manifest is archived as is
  }
  const st = await stat(current)
  let name = archiveName(timestamp, st.mtime)
  let target = path.join(artifactRoot, MANIFEST_ARCHIVE_DIR, name)
  for (let n = 2; existsSync(target); n++) {
    if ((await readFile(target, 'utf8').catch(() => '')) === text) return relToRoot(artifactRoot, target)
    name = archiveName(timestamp, st.mtime).replace(/\.json$/, `.${n}.json`)
    target = path.join(artifactRoot, MANIFEST_ARCHIVE_DIR, name)
  }
  await writeFileAtomic(target, text)
  return relToRoot(artifactRoot, target)
}

export interface WrittenManifest {
  manifestPath: string
  skipSummaryPath: string
  manifest: TrainingManifest
}

/**
 * Validate both documents, archive the previous manifest, then write skip_summary.json and
 * training_manifest.json atomically. `previous_manifest` is filled in here.
 */
export async function writeTrainingManifest(
  artifactRoot: string,
  manifest: Omit<TrainingManifest, 'previous_manifest'>,
): Promise<WrittenManifest> {
  const manifestPath = path.join(artifactRoot, MANIFEST_FILE)
  const skipSummaryPath = path.join(artifactRoot, SKIP_SUMMARY_FILE)
  const skipSummary = validate(
    SkipSummarySchema,
    {
      schema_version: MANIFEST_SCHEMA_VERSION,
      timestamp: manifest.timestamp,
      skipped_views: manifest.skipped_views,
      skipped_count: manifest.skipped_count,
    },
    skipSummaryPath,
  )
  // validate with a placeholder first, so nothing is archived or written for an invalid manifest
  validate(TrainingManifestSchema, {...manifest, previous_manifest: null}, manifestPath)
  const previous = await archivePrevious(artifactRoot)
  const full = validate(TrainingManifestSchema, {...manifest, previous_manifest: previous}, manifestPath)
  await writeJsonAtomic(skipSummaryPath, skipSummary)
  await writeJsonAtomic(manifestPath, full)
  return {manifestPath, skipSummaryPath, manifest: full}
}
