/**
 * One training job (spec §6.3): folders and log, dry run, patch size, TrainingConfig, the legacy bridge
 * (exactly once, before the runner: CONFIG-001), then the runner.
 */
import {appendFile, mkdir, readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {writeFileAtomic} from '../io/atomic.js'
import {freshLegacyDict, updateLegacyDict} from '../config/legacy.js'
import type {LegacyBridge, LegacyDict} from '../config/legacy.js'
import {legacyBackendFor, parseTrainingConfig} from '../config/schemas.js'
import type {ModelConfigInput, TrainingConfig, TrainingConfigInput} from '../config/schemas.js'
import type {ProgressEvent, Runner, RunnerResult, TrainingJob} from '../runners/types.js'
import {formatDoseE} from './format.js'
import {inferPatchSize as defaultInferPatchSize} from './patch-size.js'

/** Training fields the user may override (the pipeline sets paths, N, gridsize, nphotons and backend per job). */
export type TrainingOverrides = Omit<
  Partial<TrainingConfigInput>,
  'model' | 'train_data_file' | 'test_data_file' | 'output_dir' | 'nphotons' | 'backend'
> & {model?: Omit<Partial<ModelConfigInput>, 'N' | 'gridsize'>}

export interface DryRunResult {
  dose: number
  view: string
  gridsize: number
  train_data_path: string
  test_data_path: string
  log_path: string
  artifact_dir: string
  dry_run: true
  backend: string
  /** false when an existing non-dry-run log was kept instead of being overwritten */
  log_written: boolean
}

export interface RunTrainingJobOptions {
  runner: Runner
  dryRun?: boolean
  /** compute backend requested for the runner ('auto' | 'tensorflow' | 'wasm' | 'cpu' | 'pytorch') */
  backend?: string
  seed?: number
  /** start from scratch: the runner must not resume earlier state (--force) */
  fresh?: boolean
  overrides?: TrainingOverrides
  /** the legacy bridge; called exactly once per real job (tests inject a spy) */
  bridge?: LegacyBridge
  /** the starting legacy dict of this job (a fresh copy of the defaults unless given) */
  legacyDict?: LegacyDict
  inferPatchSize?: (file: string, warn?: (message: string) => void) => Promise<number>
  onProgress?: (event: ProgressEvent) => void
  signal?: AbortSignal
  /** called with the config and legacy params right before the runner (for records) */
  onConfig?: (config: TrainingConfig, legacyParams: LegacyDict) => void
}

/** The TrainingConfig of a job: defaults + user overrides + what the job fixes (paths, N, gridsize, dose). */
export function buildJobConfig(
  job: TrainingJob,
  patchSize: number,
  backend: string,
  overrides: TrainingOverrides = {},
): TrainingConfig {
  const {model: modelOverrides, ...training} = overrides
  return parseTrainingConfig(
    {
      ...training,
      model: {...modelOverrides, gridsize: job.gridsize, N: patchSize},
      train_data_file: job.trainDataPath,
      test_data_file: job.testDataPath,
      output_dir: job.artifactDir,
      nphotons: job.dose,
      backend: legacyBackendFor(backend),
    },
    `training config of ${job.view} dose=${formatDoseE(job.dose)} gridsize=${job.gridsize}`,
  )
}

const DRY_RUN_PREFIX = 'DRY RUN: '

/** The three lines a dry run writes (the reference's format). */
function dryRunLogText(job: TrainingJob): string {
  return `${DRY_RUN_PREFIX}${job.view} dose=${job.dose} gridsize=${job.gridsize}\nTrain: ${job.trainDataPath}\nTest: ${job.testDataPath}\n`
}

/** Is this text exactly a dry-run log (three lines, the first starting with `DRY RUN: `)? */
export function isDryRunLog(text: string): boolean {
  const lines = text.split('\n')
  return (
    lines.length === 4 &&
    lines[3] === '' &&
    lines[0].startsWith(DRY_RUN_PREFIX) &&
    lines[1].startsWith('Train: ') &&
    lines[2].startsWith('Test: ')
  )
}

/** 'absent' (missing or empty), 'dry-run' (exactly a dry-run log) or 'real' (anything else: a training's log). */
async function logKind(logPath: string): Promise<'absent' | 'dry-run' | 'real'> {
  let size: number
  try {
    size = (await stat(logPath)).size
  } catch {
    return 'absent'
  }
  if (size === 0) return 'absent'
  if (size > 16 * 1024) return 'real'
  return isDryRunLog(await readFile(logPath, 'utf8')) ? 'dry-run' : 'real'
}

/**
 * May a dry run overwrite this log? Only when it is absent, empty or exactly a dry-run log: a dry run never
 * destroys the log of a real training (a deliberate change from the reference, which always overwrote it).
 */
async function dryRunMayWriteLog(logPath: string): Promise<boolean> {
  return (await logKind(logPath)) !== 'real'
}

/**
 * Run one job. Returns the runner's result (or the dry-run summary). Runner exceptions propagate, as in the
 * reference; executeTrainingJob turns them into a failed job.
 */
export async function runTrainingJob(
  job: TrainingJob,
  options: RunTrainingJobOptions & {dryRun: true},
): Promise<DryRunResult>
export async function runTrainingJob(
  job: TrainingJob,
  options: RunTrainingJobOptions & {dryRun?: false},
): Promise<RunnerResult>
export async function runTrainingJob(job: TrainingJob, options: RunTrainingJobOptions): Promise<RunnerResult | DryRunResult>
export async function runTrainingJob(job: TrainingJob, options: RunTrainingJobOptions): Promise<RunnerResult | DryRunResult> {
  const backend = options.backend ?? 'auto'
  await mkdir(job.artifactDir, {recursive: true})
  await mkdir(path.dirname(job.logPath), {recursive: true})
  await appendFile(job.logPath, '') // touch

  if (options.dryRun) {
    const logWritten = await dryRunMayWriteLog(job.logPath)
    if (logWritten) {
      await writeFileAtomic(job.logPath, dryRunLogText(job))
    }
    return {
      dose: job.dose,
      view: job.view,
      gridsize: job.gridsize,
      train_data_path: job.trainDataPath,
      test_data_path: job.testDataPath,
      log_path: job.logPath,
      artifact_dir: job.artifactDir,
      dry_run: true,
      backend,
      log_written: logWritten,
    }
  }

  // a real run starts a fresh log where only a dry run's three lines stand (a real training's log is appended to)
  if ((await logKind(job.logPath)) === 'dry-run') await writeFileAtomic(job.logPath, '')
  const warnings: string[] = []
  const patchSize = await (options.inferPatchSize ?? defaultInferPatchSize)(job.trainDataPath, (m) => warnings.push(m))
  if (warnings.length > 0) {
    await mkdir(path.dirname(job.logPath), {recursive: true})
    await appendFile(job.logPath, warnings.map((w) => `Warning: ${w}\n`).join(''))
  }
  const config = buildJobConfig(job, patchSize, backend, options.overrides)
  const bridge = options.bridge ?? updateLegacyDict
  const legacyParams = options.legacyDict ?? freshLegacyDict()
  const bridged = bridge(legacyParams, config) ?? legacyParams
  options.onConfig?.(config, bridged)
  return options.runner({
    config,
    legacyParams: bridged,
    job,
    logPath: job.logPath,
    backend,
    seed: options.seed ?? 0,
    fresh: options.fresh,
    onProgress: options.onProgress,
    signal: options.signal,
  })
}

/** Read a log's text (for tests and messages); '' when absent. */
export async function readLog(logPath: string): Promise<string> {
  try {
    return await readFile(logPath, 'utf8')
  } catch {
    return ''
  }
}
