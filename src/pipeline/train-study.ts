/**
 * `study train` as a library call: plan the study's training jobs, apply the plan with a runner, write the
 * manifest. Takes explicit paths and a cwd; prints nothing itself (lines go to the given callbacks).
 */

import {legacyBackendFor, parseTrainingConfig} from '../config/schemas.js'
import {digestFile} from '../io/hash.js'
import type {RunnerOptions} from '../runners/registry.js'
import type {ProgressEvent, Runner} from '../runners/types.js'
import type {LegacyBridge} from '../config/legacy.js'
import {executePlan, NOT_STARTED, nowIso} from './executor.js'
import type {JobOutcome} from './executor.js'
import type {TrainingFilters} from './filters.js'
import {formatDoseE} from './format.js'
import {lockArtifactRoot} from './lock.js'
import {asOutputError, ensureWritableDir} from '../io/atomic.js'
import {MANIFEST_SCHEMA_VERSION, gitState, relToRoot, toolVersion, writeTrainingManifest} from './manifest.js'
import type {ManifestJob, TrainingManifest, WrittenManifest} from './manifest.js'
import {planTraining, selectedEntries} from './plan.js'
import type {PlannedJob, TrainingPlan} from './plan.js'
import type {TrainingOverrides} from './run-job.js'
import type {TrainingStudy} from './study.js'

export interface TrainStudyInput {
  study: TrainingStudy
  phaseCRoot: string
  phaseDRoot: string
  artifactRoot: string
  /** the folder relative roots are resolved against (and whose git state is recorded) */
  cwd: string
  filters?: TrainingFilters
  dryRun?: boolean
  /** a missing phase D view throws instead of being skipped (the CLI is non-strict) */
  strict?: boolean
  runner: string
  runnerOptions?: RunnerOptions
  /** compute backend requested ('auto' by default) */
  backend?: string
  /** worker processes (1: in this process) */
  jobs?: number
  seed?: number
  overrides?: TrainingOverrides
  force?: boolean
  timeoutS?: number
  /** the command line recorded in the manifest */
  commandLine?: string[]
  /** in-process injections for tests: a runner instance and the legacy bridge */
  runnerInstance?: Runner
  bridge?: LegacyBridge
  /** human lines for stdout (bundle lines, per-job results) */
  report?: (line: string) => void
  /** informational lines for stderr (skips, warnings, job starts) */
  log?: (line: string) => void
  onProgress?: (entry: PlannedJob, event: ProgressEvent) => void
  /** abort (e.g. on Ctrl-C): the running job is stopped, no more start, the manifest is still written */
  signal?: AbortSignal
}

export interface TrainStudyResult extends WrittenManifest {
  plan: TrainingPlan
  outcomes: JobOutcome[]
  failed: number
  interrupted: number
}

/** The user's overrides must make a valid config on their own: checked once, before any job. */
export function validateOverrides(overrides: TrainingOverrides, backend: string): void {
  const {model, ...training} = overrides
  parseTrainingConfig({...training, model: {...model}, backend: legacyBackendFor(backend)}, 'training options')
}

function runnerSignature(input: TrainStudyInput): string {
  const o = input.runnerOptions ?? {}
  return JSON.stringify({command: o.command?.command ?? null, shell: o.command?.shell ?? false})
}

/** Plan only (the `--dry-run` listing without writing anything). */
export async function planStudyTraining(input: TrainStudyInput): Promise<TrainingPlan> {
  validateOverrides(input.overrides ?? {}, input.backend ?? 'auto')
  return planTraining({
    study: input.study,
    phaseCRoot: input.phaseCRoot,
    phaseDRoot: input.phaseDRoot,
    artifactRoot: input.artifactRoot,
    cwd: input.cwd,
    filters: input.filters,
    strict: input.strict,
    seed: input.seed,
    backend: input.backend,
    runner: input.runner,
    runnerSignature: runnerSignature(input),
    overrides: input.overrides,
    force: input.force,
    log: input.log,
  })
}

export async function trainStudy(input: TrainStudyInput): Promise<TrainStudyResult> {
  const startedAt = nowIso()
  const gitPromise = gitState(input.cwd)
  const plan = await planStudyTraining(input)
  for (const f of plan.unmatchedFilters) input.log?.(`warning: ${f} matched no job`)
  const artifactRoot = plan.roots.artifact.resolved
  let unlock: () => Promise<void>
  try {
    // an unwritable root (or a file in its way) is the user's to fix: exit 73 with the path, before any job
    await ensureWritableDir(artifactRoot)
    unlock = await lockArtifactRoot(artifactRoot)
  } catch (error) {
    throw asOutputError(artifactRoot, error)
  }
  try {
    return await applyPlan(input, plan, startedAt, gitPromise)
  } finally {
    await unlock()
  }
}

async function applyPlan(
  input: TrainStudyInput,
  plan: TrainingPlan,
  startedAt: string,
  gitPromise: Promise<{commit: string; dirty: boolean} | null>,
): Promise<TrainStudyResult> {
  const dryRun = input.dryRun ?? false
  const artifactRoot = plan.roots.artifact.resolved
  const entries = selectedEntries(plan)

  // inputs as trained: sha256 and size of every input NPZ (real runs only), each file hashed once
  const digests = new Map<string, Promise<{sha256: string; size_bytes: number}>>()
  const digest = (file: string) => {
    if (!digests.has(file)) digests.set(file, digestFile(file))
    return digests.get(file)!
  }
  const inputs = new Map<string, ManifestJob['inputs']>()
  if (!dryRun) {
    await Promise.all(
      entries.map(async (e) => {
        const job = e.job!
        const [train, test] = await Promise.all([digest(job.trainDataPath), digest(job.testDataPath)])
        inputs.set(e.key, {
          train: {path: relToRoot(artifactRoot, job.trainDataPath), ...train},
          test: {path: relToRoot(artifactRoot, job.testDataPath), ...test},
        })
      }),
    )
  }

  const outcomes = await executePlan(entries, {
    settings: {
      dryRun,
      backend: plan.backend,
      runnerName: plan.runner,
      runnerOptions: withCommandCwd(input.runnerOptions ?? {}, input.cwd),
      runnerSignature: plan.runnerSignature,
      overrides: plan.overrides,
      timeoutS: input.timeoutS,
      force: input.force,
    },
    jobs: input.jobs,
    hooks: {runner: input.runnerInstance, bridge: input.bridge, onProgress: input.onProgress, signal: input.signal},
    onStart: (entry) => input.log?.(`→ Training ${entry.view} (dose=${formatDoseE(entry.dose)}, gridsize=${entry.gridsize})`),
    onOutcome: (entry, outcome) => reportOutcome(entry, outcome, input),
  })

  const jobs: ManifestJob[] = entries.map((entry, i) => {
    const job = entry.job!
    const outcome = outcomes[i]
    const result =
      outcome.status === 'dry-run'
        ? {
            ...outcome.result,
            train_data_path: relToRoot(artifactRoot, job.trainDataPath),
            test_data_path: relToRoot(artifactRoot, job.testDataPath),
            log_path: relToRoot(artifactRoot, job.logPath),
            artifact_dir: relToRoot(artifactRoot, job.artifactDir),
          }
        : outcome.result
    return {
      key: entry.key,
      dose: entry.dose,
      view: entry.view,
      gridsize: entry.gridsize,
      train_data_path: relToRoot(artifactRoot, job.trainDataPath),
      test_data_path: relToRoot(artifactRoot, job.testDataPath),
      log_path: relToRoot(artifactRoot, job.logPath),
      artifact_dir: relToRoot(artifactRoot, job.artifactDir),
      backend: plan.backend,
      seed: entry.seed,
      status: outcome.status,
      error: outcome.error ?? null,
      started_at: outcome.started_at,
      finished_at: outcome.finished_at,
      duration_s: outcome.duration_s,
      inputs: inputs.get(entry.key) ?? null,
      result,
    }
  })

  const count = (s: JobOutcome['status']) => outcomes.filter((o) => o.status === s).length
  const finishedAt = nowIso()
  const manifest: Omit<TrainingManifest, 'previous_manifest'> = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    tool: {name: 'study', version: toolVersion()},
    study: plan.study.name,
    command_line: input.commandLine ?? [],
    node_version: process.version,
    platform: `${process.platform}-${process.arch}`,
    git: await gitPromise,
    timestamp: finishedAt,
    started_at: startedAt,
    finished_at: finishedAt,
    phase_c_root: plan.roots.phaseC.given,
    phase_d_root: plan.roots.phaseD.given,
    artifact_root: plan.roots.artifact.given,
    roots: {phase_c: plan.roots.phaseC, phase_d: plan.roots.phaseD, artifact: plan.roots.artifact},
    filters: plan.recordedFilters,
    dry_run: dryRun,
    runner: plan.runner,
    backend: plan.backend,
    parallel_jobs: Math.max(1, Math.floor(input.jobs ?? 1)),
    seeds: {base: plan.baseSeed, source: input.seed === undefined ? 'study-default' : 'flag'},
    design: plan.study.designDict(),
    overrides: {...plan.overrides} as Record<string, unknown>,
    plan: plan.entries.map((e) => ({key: e.key, dose: e.dose, view: e.view, gridsize: e.gridsize, status: e.status, reason: e.reason ?? null})),
    jobs,
    skipped_views: plan.skipped.map((s) => ({...s})),
    skipped_count: plan.skipped.length,
    skip_summary_path: 'skip_summary.json',
    summary: {
      selected: entries.length,
      succeeded: count('success'),
      failed: count('failed'),
      complete: count('complete'),
      dry_run: count('dry-run'),
      interrupted: count('interrupted'),
    },
  }
  const written = await writeTrainingManifest(artifactRoot, manifest)
  return {...written, plan, outcomes, failed: count('failed'), interrupted: count('interrupted')}
}

/** relative program paths in a command template resolve against the folder study was started in */
function withCommandCwd(options: RunnerOptions, cwd: string): RunnerOptions {
  return options.command ? {...options, command: {cwd, ...options.command}} : options
}

function reportOutcome(entry: PlannedJob, outcome: JobOutcome, input: TrainStudyInput): void {
  const tag = `${entry.view}/dose=${formatDoseE(entry.dose)}`
  const report = input.report
  if (!report) return
  if (outcome.status === 'dry-run') {
    const verdict = entry.problem === undefined ? 'would run' : `would fail: ${entry.problem}`
    report(`[dry run] ${entry.view} dose=${formatDoseE(entry.dose)} gridsize=${entry.gridsize}: ${verdict}`)
    return
  }
  if (outcome.status === 'interrupted') {
    const what = outcome.error === NOT_STARTED ? 'not started (interrupted before it began)' : 'interrupted'
    report(`✗ ${entry.view} dose=${formatDoseE(entry.dose)} gridsize=${entry.gridsize}: ${what}`)
    return
  }
  if (outcome.status === 'failed') {
    report(`✗ ${entry.view} dose=${formatDoseE(entry.dose)} gridsize=${entry.gridsize}: failed: ${outcome.error}`)
    return
  }
  const r = outcome.result
  const verb = outcome.status === 'complete' ? 'already complete' : 'done'
  report(`✓ ${entry.view} dose=${formatDoseE(entry.dose)} gridsize=${entry.gridsize}: ${verb} (${outcome.duration_s.toFixed(1)} s)`)
  if (typeof r.bundle_path === 'string') {
    report(`    → Bundle [${tag}]: ${r.bundle_path}`)
    if (typeof r.bundle_sha256 === 'string') report(`    → SHA256 [${tag}]: ${r.bundle_sha256}`)
    if (typeof r.bundle_size_bytes === 'number') report(`    → Size [${tag}]: ${r.bundle_size_bytes} bytes`)
  }
  // the runner's warnings (e.g. a command that wrote no bundle) on the terminal, not only in train.log
  if (Array.isArray(r.warnings)) for (const w of r.warnings) report(`    ! ${String(w)} [${tag}]`)
  // the end-of-job reconstruction (tfjs runner): its outcome on the terminal, not only in train.log
  const rec = r.reconstruction
  if (rec && typeof rec === 'object' && !Array.isArray(rec)) {
    const {status, error, npz_path: npz, metrics} = rec as {status?: unknown; error?: unknown; npz_path?: unknown; metrics?: unknown}
    if (status === 'failed') report(`    ! reconstruction of the test split failed [${tag}]: ${String(error)} (training succeeded; see train.log)`)
    else if (status === 'success' && typeof npz === 'string') {
      const corr = (metrics as {correlation?: {amplitude?: unknown; phase?: unknown}} | undefined)?.correlation
      const f = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(3) : '-')
      const scores = corr ? ` (vs ground truth: amplitude correlation ${f(corr.amplitude)}, phase correlation ${f(corr.phase)})` : ''
      report(`    → Reconstruction [${tag}]: ${npz}${scores}`)
    }
  }
}
