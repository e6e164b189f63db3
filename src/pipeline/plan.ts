/**
 * Plan, then apply. planTraining computes, as plain data, every job of the study with its status:
 *   would-run      selected and not yet complete (or --force)
 *   complete       selected, and its completion record matches what would run now
 *   missing-input  a view without phase D data (skipped, recorded in skipped_views)
 *   skipped        excluded by --view / --gridsize
 * `--dry-run` records exactly this plan; a real run applies it (executePlan).
 */
import {existsSync, statSync} from 'node:fs'
import path from 'node:path'

import {MissingInputError, UsageError} from '../errors.js'
import {listNpz} from '../io/npz.js'
import {legacyBackendFor, parseTrainingConfig} from '../config/schemas.js'
import {resolveRoot} from '../io/paths.js'
import type {RootPath} from '../io/paths.js'
import {deriveSeed} from '../util/random.js'
import type {TrainingJob} from '../runners/types.js'
import {jobFingerprint, readJobRecord, stampInput} from './job-record.js'
import type {JobRecord} from './job-record.js'
import {matchesFilters, noMatchError, recordFilters, unmatchedFilterValues} from './filters.js'
import type {RecordedFilters, TrainingFilters} from './filters.js'
import {buildJobConfig} from './run-job.js'
import type {TrainingOverrides} from './run-job.js'
import {inferPatchSize as defaultInferPatchSize} from './patch-size.js'
import {narrowDoses} from './study.js'
import type {TrainingStudy} from './study.js'
import {buildTrainingJobs, jobKey} from './training-jobs.js'
import type {SkipEvent} from './training-jobs.js'

export type PlannedStatus = 'would-run' | 'complete' | 'missing-input' | 'skipped'

export interface PlannedJob {
  /** e.g. 'dose_1000/dense/gs2' */
  key: string
  dose: number
  view: string
  gridsize: number
  status: PlannedStatus
  reason?: string
  /** absent for missing-input */
  job?: TrainingJob
  /** this job's seed (derived from the base seed and the key) */
  seed: number
  /** the completion record of a complete job */
  record?: JobRecord
  /** why this would-run job cannot run as configured (found from its inputs' headers); a real run fails it at once */
  problem?: string
}

export interface PlanRoots {
  phaseC: RootPath
  phaseD: RootPath
  artifact: RootPath
}

export interface TrainingPlan {
  study: TrainingStudy
  roots: PlanRoots
  filters: TrainingFilters
  recordedFilters: RecordedFilters
  /** every job examined, in study order (dose, then view) */
  entries: PlannedJob[]
  skipped: SkipEvent[]
  baseSeed: number
  backend: string
  runner: string
  runnerSignature: string
  overrides: TrainingOverrides
  /** filter values that matched nothing while others did (a warning for the user) */
  unmatchedFilters: string[]
}

export interface PlanTrainingInput {
  study: TrainingStudy
  /** roots as the user gave them; resolved against cwd */
  phaseCRoot: string
  phaseDRoot: string
  artifactRoot: string
  cwd: string
  filters?: TrainingFilters
  /** strict: a missing phase D view throws (default false, as the reference CLI) */
  strict?: boolean
  seed?: number
  backend?: string
  runner?: string
  /** anything about the runner that changes its output (e.g. the command template) */
  runnerSignature?: string
  overrides?: TrainingOverrides
  /** rerun jobs that are complete */
  force?: boolean
  /** check completion records (default true); a plan for a dry run may skip nothing else */
  checkComplete?: boolean
  inferPatchSize?: (file: string) => Promise<number>
  log?: (line: string) => void
}

/** The recorded bundle is still there with its recorded size (a deleted or truncated bundle means: rerun). */
function outputsIntact(artifactDir: string, record: JobRecord): boolean {
  const rel = record.result.bundle_path
  if (typeof rel !== 'string') return true
  const st = statOrUndefined(path.resolve(artifactDir, rel))
  if (!st?.isFile()) return false
  const size = record.result.bundle_size_bytes
  return typeof size !== 'number' || st.size === size
}

function statOrUndefined(p: string) {
  try {
    return statSync(p)
  } catch {
    return undefined
  }
}

/**
 * OVERSAMPLING-001 ahead of time: a gridsize > 1 job whose n_groups exceeds its training file's scan positions
 * cannot run (without --enable-oversampling). Found here, reading only the NPZ headers, such a job carries a
 * `problem`: the plan (and a dry run) warns about it, and a real run fails it at once, before anything trains,
 * instead of the user finding out job by job after the others have trained for hours.
 */
async function checkGroupsFitPositions(entries: PlannedJob[], backend: string, overrides: TrainingOverrides, log?: (line: string) => void): Promise<void> {
  let nGroups: number
  let oversampling: boolean
  try {
    const {model, ...training} = overrides
    const config = parseTrainingConfig({...training, model: {...model}, backend: legacyBackendFor(backend)}, 'training options')
    nGroups = config.n_groups
    oversampling = config.enable_oversampling
  } catch {
    return // invalid options are reported on their own
  }
  if (oversampling) return
  for (const entry of entries) {
    if (entry.status !== 'would-run' || entry.gridsize <= 1 || !entry.job) continue
    const file = entry.job.trainDataPath
    let positions: number | undefined
    try {
      const members = await listNpz(file)
      const m = ['xcoords_start', 'xcoords', 'diffraction', 'diff3d'].map((name) => members.find((x) => x.name === name)).find(Boolean)
      positions = m?.shape[0]
    } catch {
      continue // an unreadable file is reported by the job itself
    }
    if (positions === undefined || nGroups <= positions) continue
    entry.problem =
      `n_groups=${nGroups} exceeds the ${positions} scan positions of ${file} at gridsize ${entry.gridsize} (OVERSAMPLING-001): ` +
      `pass --n-groups ${positions} (or fewer) or --enable-oversampling`
    entry.reason = entry.problem
    log?.(`warning: ${entry.key}: ${entry.problem}; this job will fail before any training`)
  }
}

/** A selected job that a real run hands to its runner (would-run, with no problem found by the plan). */
export function isRunnable(entry: PlannedJob): boolean {
  return entry.status === 'would-run' && entry.problem === undefined
}

/** Entries that a run acts on (would-run and complete), in order. */
export function selectedEntries(plan: TrainingPlan): PlannedJob[] {
  return plan.entries.filter((e) => e.status === 'would-run' || e.status === 'complete')
}

export async function planTraining(input: PlanTrainingInput): Promise<TrainingPlan> {
  const filters = input.filters ?? {}
  const roots: PlanRoots = {
    phaseC: resolveRoot(input.phaseCRoot, input.cwd),
    phaseD: resolveRoot(input.phaseDRoot, input.cwd),
    artifact: resolveRoot(input.artifactRoot, input.cwd),
  }
  const fullStudy = input.study
  // a phase C root that does not exist is one clear error, not a "dataset not found" per job
  if (!existsSync(roots.phaseC.resolved)) throw new MissingInputError(roots.phaseC.resolved, 'phase C root (--phase-c-root)')
  if (!statSync(roots.phaseC.resolved).isDirectory()) throw new UsageError(`--phase-c-root ${roots.phaseC.resolved} is a file, not a folder`)
  if (!existsSync(roots.phaseD.resolved)) {
    input.log?.(`Warning: phase D root ${roots.phaseD.resolved} does not exist: every overlap-view (gridsize 2) job is skipped`)
  }
  const available = {
    doses: fullStudy.design.dose_list,
    dosesWithData: fullStudy.design.dose_list.filter((d) => existsSync(path.join(roots.phaseC.resolved, fullStudy.layout.doseDir(d)))),
    views: fullStudy.views.map((v) => v.name),
    gridsizes: [...new Set(fullStudy.views.map((v) => v.gridsize))],
  }

  // --dose narrows the design before jobs are built, so doses without data are never looked at.
  let study = fullStudy
  if (filters.dose?.length) {
    // each dose once (1000 and 1e3 are the same), design doses in design order, then others ascending
    const requested = new Set(filters.dose)
    const inDesign = fullStudy.design.dose_list.filter((d) => requested.has(d))
    // a dose outside the design is allowed when its phase C data exist (the reference trains it)
    const extra = [...requested]
      .filter((d) => !fullStudy.design.dose_list.includes(d))
      .filter((d) => existsSync(path.join(roots.phaseC.resolved, fullStudy.layout.doseDir(d))))
      .sort((a, b) => a - b)
    const wanted = [...inDesign, ...extra]
    if (wanted.length === 0) throw noMatchError(filters, available, [])
    study = narrowDoses(fullStudy, wanted)
  }

  const {jobs, skipped} = buildTrainingJobs(
    study,
    {phaseCRoot: roots.phaseC.resolved, phaseDRoot: roots.phaseD.resolved, artifactRoot: roots.artifact.resolved},
    {strict: input.strict ?? false, log: input.log},
  )
  const baseSeed = input.seed ?? study.defaultSeed
  const backend = input.backend ?? 'auto'
  const runner = input.runner ?? 'stub'
  const runnerSignature = input.runnerSignature ?? ''
  const overrides = input.overrides ?? {}

  // entries in study order: jobs and skip events interleaved by (dose, view)
  const entries: PlannedJob[] = []
  for (const dose of study.design.dose_list) {
    for (const view of study.views) {
      const key = jobKey(study, {dose, view: view.name, gridsize: view.gridsize})
      const seed = deriveSeed(baseSeed, key)
      const job = jobs.find((j) => j.dose === dose && j.view === view.name)
      const skip = skipped.find((s) => s.dose === dose && s.view === view.name)
      const base = {key, dose, view: view.name, gridsize: view.gridsize, seed}
      if (skip) entries.push({...base, status: 'missing-input', reason: skip.reason})
      else if (job && !matchesFilters(job, filters)) entries.push({...base, status: 'skipped', reason: 'excluded by filters', job})
      else if (job) entries.push({...base, status: 'would-run', job})
    }
  }

  const selected = entries.filter((e) => e.status === 'would-run')
  if (selected.length === 0) throw noMatchError(filters, available, skipped)

  if (input.checkComplete !== false && !input.force) {
    const infer = input.inferPatchSize ?? defaultInferPatchSize
    await Promise.all(
      selected.map(async (entry) => {
        const record = readJobRecord(entry.job!.artifactDir)
        if (!record) return
        const job = entry.job!
        let config
        try {
          config = buildJobConfig(job, await infer(job.trainDataPath), backend, overrides)
        } catch {
          return // an invalid config will fail when run; it is not complete
        }
        const fingerprint = jobFingerprint({
          key: entry.key,
          config,
          runner,
          runnerSignature,
          backend,
          seed: entry.seed,
          inputs: {train: stampInput(job.trainDataPath), test: stampInput(job.testDataPath)},
        })
        if (record.fingerprint === fingerprint && outputsIntact(job.artifactDir, record)) {
          entry.status = 'complete'
          entry.record = record
          entry.reason = `completed ${record.finished_at}`
        }
      }),
    )
  }

  if (runner === 'tfjs') await checkGroupsFitPositions(selected, backend, overrides, input.log)

  return {
    study,
    roots,
    filters,
    recordedFilters: recordFilters(filters),
    entries,
    skipped,
    baseSeed,
    backend,
    runner,
    runnerSignature,
    overrides,
    unmatchedFilters: unmatchedFilterValues(
      entries.filter((e) => e.status !== 'missing-input'),
      filters,
    ),
  }
}
