/**
 * The runner protocol: how the pipeline hands one training job to whatever trains it.
 * A runner is looked up by name from the registry (src/runners/registry.ts).
 */
import type {TrainingConfig} from '../config/schemas.js'
import type {LegacyDict} from '../config/legacy.js'

/** One job of the training matrix. All paths are absolute. */
export interface TrainingJob {
  dose: number
  view: string
  gridsize: number
  trainDataPath: string
  testDataPath: string
  artifactDir: string
  logPath: string
}

export interface ProgressEvent {
  epoch: number
  nepochs: number
  loss?: number
  val_loss?: number
  lr?: number
  /** seconds */
  elapsed_s?: number
  eta_s?: number
  message?: string
}

export interface RunnerContext {
  config: TrainingConfig
  /** the legacy flat parameter dict, produced by the bridge exactly once for this job */
  legacyParams: LegacyDict
  job: TrainingJob
  /** absolute path of the job's log; the runner appends to it */
  logPath: string
  /** backend requested by the user, e.g. 'auto' | 'tensorflow' | 'wasm' | 'cpu' */
  backend: string
  /** seed for every random step of this job (grouping, init, shuffling); recorded in the manifest */
  seed: number
  /** start from scratch (--force): do not resume from checkpoints of an earlier run */
  fresh?: boolean
  /** optional live progress sink (the CLI renders it) */
  onProgress?: (event: ProgressEvent) => void
  signal?: AbortSignal
}

export interface RunnerResult {
  status: 'success' | 'failed'
  error?: string
  /** backend actually used, when the runner resolved 'auto' */
  backend_used?: string
  final_loss?: number
  epochs_completed?: number
  checkpoint_path?: string | null
  /** POSIX path relative to job.artifactDir */
  bundle_path?: string
  bundle_sha256?: string
  bundle_size_bytes?: number
  history?: Record<string, number[]>
  [key: string]: unknown
}

export type Runner = (ctx: RunnerContext) => Promise<RunnerResult>
