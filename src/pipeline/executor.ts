/**
 * Apply a plan: run each selected job (in this process, or in N worker processes with `jobs > 1`), turn
 * runner failures into failed jobs (the study goes on), write completion records. Outcomes come back in
 * plan order whatever the parallelism, so manifests of sequential and parallel runs are identical apart
 * from times.
 */
import {fork} from 'node:child_process'
import type {ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {appendFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'

import type {LegacyBridge} from '../config/legacy.js'
import type {TrainingConfig} from '../config/schemas.js'
import {StudyError} from '../errors.js'
import {loadRunner} from '../runners/registry.js'
import type {RunnerOptions} from '../runners/registry.js'
import type {ProgressEvent, Runner} from '../runners/types.js'
import {clearJobRecord, jobFingerprint, stampInput, writeJobRecord, JOB_RECORD_SCHEMA_VERSION} from './job-record.js'
import {isRunnable} from './plan.js'
import type {PlannedJob} from './plan.js'
import {sanitizeResultObject} from './results.js'
import {runTrainingJob} from './run-job.js'
import type {TrainingOverrides} from './run-job.js'

export type JobStatus = 'success' | 'failed' | 'dry-run' | 'complete' | 'interrupted'

/** the error of an `interrupted` job that Ctrl-C/SIGTERM stopped before it began (nothing of it ran) */
export const NOT_STARTED = 'interrupted before the job started'

export interface JobOutcome {
  key: string
  status: JobStatus
  /** sanitised result: runner result (paths relative to the job folder) or dry-run summary */
  result: Record<string, unknown>
  error?: string
  started_at: string
  finished_at: string
  duration_s: number
}

/** Serialisable settings of a run (they cross into worker processes). */
export interface ExecutionSettings {
  dryRun: boolean
  backend: string
  runnerName: string
  runnerOptions: RunnerOptions
  runnerSignature: string
  overrides: TrainingOverrides
  /** seconds per job for runners without their own timeout; 0 = none */
  timeoutS?: number
  /** --force: runners start from scratch (the tfjs runner ignores earlier checkpoints) */
  force?: boolean
}

export interface InProcessHooks {
  /** an already loaded runner (tests inject spies); otherwise loaded from the registry by name */
  runner?: Runner
  bridge?: LegacyBridge
  onProgress?: (entry: PlannedJob, event: ProgressEvent) => void
  /** aborting stops the running job (runners get the signal) and starts no more jobs */
  signal?: AbortSignal
}

/**
 * Now, in UTC ISO 8601 with milliseconds and 'Z' (e.g. 2026-11-22T08:25:30.358Z). Date#toISOString gives
 * exactly this; luxon is not loaded here because importing it costs ~20 ms of the dry run's 350 ms budget.
 */
export function nowIso(): string {
  return new Date().toISOString()
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}

/** Run one planned job in this process and return its outcome; never throws for a job failure. */
export async function executeJob(
  entry: PlannedJob,
  settings: ExecutionSettings,
  runner: Runner | undefined,
  hooks: InProcessHooks = {},
): Promise<JobOutcome> {
  const started = Date.now()
  const startedAt = nowIso()
  const done = (status: JobStatus, result: Record<string, unknown>, error?: string): JobOutcome => ({
    key: entry.key,
    status,
    result,
    ...(error === undefined ? {} : {error}),
    started_at: startedAt,
    finished_at: nowIso(),
    duration_s: Math.round((Date.now() - started) / 1000 * 1000) / 1000,
  })
  const job = entry.job
  if (!job) return done('failed', {}, entry.reason ?? 'no job')
  if (entry.status === 'complete' && entry.record) {
    return {...done('complete', entry.record.result), duration_s: entry.record.duration_s}
  }

  if (settings.dryRun) {
    try {
      const summary = await runTrainingJob(job, {runner: runner ?? noRunner, dryRun: true, backend: settings.backend})
      return done('dry-run', {...summary})
    } catch (error) {
      return done('failed', {}, errorText(error))
    }
  }

  // the plan found from the inputs that this job cannot run as configured: fail it before anything starts
  if (entry.problem !== undefined) return done('failed', {status: 'failed', error: entry.problem}, entry.problem)

  let config: TrainingConfig | undefined
  try {
    if (hooks.signal?.aborted) return done('interrupted', {}, NOT_STARTED)
    if (!runner) throw new StudyError(`runner '${settings.runnerName}' was not loaded`)
    await clearJobRecord(job.artifactDir)
    const controller = new AbortController()
    hooks.signal?.addEventListener('abort', () => controller.abort(), {once: true})
    const run = runTrainingJob(job, {
      runner,
      backend: settings.backend,
      seed: entry.seed,
      fresh: settings.force === true,
      overrides: settings.overrides,
      bridge: hooks.bridge,
      signal: controller.signal,
      onProgress: hooks.onProgress ? (event) => hooks.onProgress!(entry, event) : undefined,
      onConfig: (c) => {
        config = c
      },
    })
    const timeoutMs = (settings.timeoutS ?? 0) * 1000
    let timer: NodeJS.Timeout | undefined
    const result = await (timeoutMs > 0 && settings.runnerName !== 'command'
      ? Promise.race([
          run,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              controller.abort()
              reject(new Error(`job timed out after ${settings.timeoutS} s`))
            }, timeoutMs)
          }),
        ]).finally(() => clearTimeout(timer))
      : run)
    const clean = sanitizeResultObject(result, job.artifactDir)
    if (hooks.signal?.aborted && result.status !== 'success') {
      await appendFile(job.logPath, 'Job interrupted\n').catch(() => {})
      return done('interrupted', clean, 'interrupted')
    }
    if (result.status !== 'success') {
      const error = typeof result.error === 'string' && result.error ? result.error : `runner reported status '${String(result.status)}'`
      await appendFile(job.logPath, `Job failed: ${error}\n`).catch(() => {})
      return done('failed', clean, error)
    }
    const outcome = done('success', clean)
    await writeJobRecord(job.artifactDir, {
      schema_version: JOB_RECORD_SCHEMA_VERSION,
      key: entry.key,
      status: 'success',
      fingerprint: jobFingerprint({
        key: entry.key,
        config,
        runner: settings.runnerName,
        runnerSignature: settings.runnerSignature,
        backend: settings.backend,
        seed: entry.seed,
        inputs: {train: stampInput(job.trainDataPath), test: stampInput(job.testDataPath)},
      }),
      finished_at: outcome.finished_at,
      duration_s: outcome.duration_s,
      result: clean,
    })
    return outcome
  } catch (error) {
    const message = errorText(error)
    if (hooks.signal?.aborted) {
      await appendFile(job.logPath, `Job interrupted: ${message}\n`).catch(() => {})
      return done('interrupted', {status: 'interrupted', error: message}, 'interrupted')
    }
    await appendFile(job.logPath, `Job failed: ${message}\n`).catch(() => {})
    return done('failed', {status: 'failed', error: message}, message)
  }
}

const noRunner: Runner = async () => {
  throw new Error('a dry run never calls a runner')
}

export interface ExecutePlanOptions {
  settings: ExecutionSettings
  /** worker processes; 1 (default) runs in this process */
  jobs?: number
  hooks?: InProcessHooks
  /** called once per job, in plan order */
  onOutcome?: (entry: PlannedJob, outcome: JobOutcome) => void
  /** called when a job starts */
  onStart?: (entry: PlannedJob) => void
}

/** Calls onOutcome in plan order as outcomes arrive in any order. */
class OrderedSink {
  private readonly outcomes: (JobOutcome | undefined)[]
  private next = 0
  constructor(
    private readonly entries: PlannedJob[],
    private readonly onOutcome?: (entry: PlannedJob, outcome: JobOutcome) => void,
  ) {
    this.outcomes = new Array(entries.length)
  }
  put(index: number, outcome: JobOutcome): void {
    this.outcomes[index] = outcome
    while (this.next < this.entries.length && this.outcomes[this.next]) {
      this.onOutcome?.(this.entries[this.next], this.outcomes[this.next]!)
      this.next++
    }
  }
  all(): JobOutcome[] {
    return this.outcomes as JobOutcome[]
  }
}

/** Run the selected entries; returns their outcomes in the same order. */
export async function executePlan(entries: PlannedJob[], options: ExecutePlanOptions): Promise<JobOutcome[]> {
  const {settings} = options
  const sink = new OrderedSink(entries, options.onOutcome)
  const needsRunner = !settings.dryRun && entries.some(isRunnable)
  const parallel = Math.max(1, Math.floor(options.jobs ?? 1))
  const runnable = entries.filter(isRunnable).length

  if (parallel > 1 && needsRunner && runnable > 1 && !options.hooks?.runner) {
    await executeInWorkers(entries, options, sink, Math.min(parallel, runnable))
    return sink.all()
  }

  const runner = needsRunner ? options.hooks?.runner ?? (await loadRunner(settings.runnerName, settings.runnerOptions)) : undefined
  for (let i = 0; i < entries.length; i++) {
    if (!settings.dryRun && isRunnable(entries[i]) && !options.hooks?.signal?.aborted) options.onStart?.(entries[i])
    sink.put(i, await executeJob(entries[i], settings, runner, options.hooks))
  }
  return sink.all()
}

// ---------- worker processes ----------

export interface WorkerRequest {
  type: 'job'
  index: number
  entry: PlannedJob
  settings: ExecutionSettings
}

export type WorkerReply =
  | {type: 'outcome'; index: number; outcome: JobOutcome; exitAfter?: boolean}
  | {type: 'progress'; index: number; event: ProgressEvent}

export function workerModulePath(): string {
  return fileURLToPath(new URL('./job-worker.js', import.meta.url))
}

async function executeInWorkers(
  entries: PlannedJob[],
  options: ExecutePlanOptions,
  sink: OrderedSink,
  slots: number,
): Promise<void> {
  const workerPath = workerModulePath()
  if (!existsSync(workerPath)) {
    throw new StudyError(`parallel jobs need the built worker ${workerPath}; build with 'npm run build' or use --jobs 1`)
  }
  // complete / non-runnable entries resolve at once, in this process
  const queue: number[] = []
  for (let i = 0; i < entries.length; i++) {
    if (isRunnable(entries[i])) queue.push(i)
    else sink.put(i, await executeJob(entries[i], options.settings, undefined, options.hooks))
  }

  const runSlot = async (): Promise<void> => {
    let child: ChildProcess | undefined
    const killChild = () => child?.kill('SIGTERM')
    options.hooks?.signal?.addEventListener('abort', killChild)
    try {
      for (;;) {
        const index = queue.shift()
        if (index === undefined) return
        const entry = entries[index]
        if (options.hooks?.signal?.aborted) {
          sink.put(index, await executeJob(entry, options.settings, undefined, options.hooks))
          continue
        }
        if (!child || child.exitCode !== null || child.signalCode !== null) {
          // a worker's stdout goes to our stderr: stdout stays ours (ordered job lines, --json)
          child = fork(workerPath, [], {stdio: ['ignore', 2, 2, 'ipc'], execArgv: []})
        }
        options.onStart?.(entry)
        const startedAt = nowIso()
        const started = Date.now()
        const reply = await new Promise<{outcome: JobOutcome; exitAfter: boolean}>((resolve) => {
          const c = child!
          const onMessage = (msg: WorkerReply) => {
            if (msg.index !== index) return
            if (msg.type === 'progress') options.hooks?.onProgress?.(entry, msg.event)
            else {
              cleanup()
              resolve({outcome: msg.outcome, exitAfter: Boolean(msg.exitAfter)})
            }
          }
          const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
            cleanup()
            const interrupted = Boolean(options.hooks?.signal?.aborted)
            const error = interrupted ? 'interrupted' : `worker process ended (${signal ?? `exit code ${code}`}) while running the job`
            if (entry.job) void appendFile(entry.job.logPath, `Job failed: ${error}\n`).catch(() => {})
            resolve({
              outcome: {
                key: entry.key,
                status: interrupted ? 'interrupted' : 'failed',
                result: {status: interrupted ? 'interrupted' : 'failed', error},
                error,
                started_at: startedAt,
                finished_at: nowIso(),
                duration_s: (Date.now() - started) / 1000,
              },
              exitAfter: true,
            })
          }
          const cleanup = () => {
            c.off('message', onMessage)
            c.off('exit', onExit)
          }
          c.on('message', onMessage)
          c.on('exit', onExit)
          const request: WorkerRequest = {type: 'job', index, entry, settings: options.settings}
          c.send(request)
        })
        sink.put(index, reply.outcome)
        if (reply.exitAfter) {
          child.kill()
          child = undefined
        }
      }
    } finally {
      options.hooks?.signal?.removeEventListener('abort', killChild)
      if (child?.connected) child.disconnect()
    }
  }
  await Promise.all(Array.from({length: slots}, () => runSlot()))
}
