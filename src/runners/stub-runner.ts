/**
 * The stub runner: a first-class runner for testing the matrix, failure and resume behaviour black-box.
 * It records its calls, writes a deterministic fake bundle (wts.h5.zip) and a `stub_call.json` beside each
 * job, can be told to fail for some jobs (report a failure or throw) and to be slow.
 *
 * From the command line it is configured by environment variables (the test rig's knobs):
 *   STUDY_STUB_FAIL        comma-separated job patterns that fail (see jobMatches)
 *   STUDY_STUB_FAIL_MODE   'report' (default: return status failed) or 'throw'
 *   STUDY_STUB_DELAY_MS    milliseconds each job takes
 *   STUDY_STUB_CRASH       job patterns whose worker process dies mid-job (exit 17; in the main process: throws)
 */
import {appendFile} from 'node:fs/promises'
import path from 'node:path'

import {zipSync, strToU8} from 'fflate'

import {writeFileAtomic, writeJsonAtomic} from '../io/atomic.js'
import {digestFile} from '../io/hash.js'
import {createRng} from '../util/random.js'
import type {Runner, RunnerContext, RunnerResult, TrainingJob} from './types.js'

export interface StubRunnerOptions {
  /** job patterns that fail */
  fail?: readonly string[]
  failMode?: 'report' | 'throw'
  /** time each job takes */
  delayMs?: number
  /** job patterns whose process dies mid-job (only in a worker process; in the main process it throws) */
  crash?: readonly string[]
  /** every call is pushed here (in-process tests) */
  calls?: RunnerContext[]
}

export const STUB_BUNDLE_NAME = 'wts.h5.zip'
export const STUB_CALL_RECORD = 'stub_call.json'

/**
 * Does a job match a pattern? Patterns: a view ('dense'), a view at a dose ('dense@1000'), a dose
 * ('@1000'), a view and gridsize ('dense/gs2'), or '*' for every job.
 */
export function jobMatches(job: Pick<TrainingJob, 'dose' | 'view' | 'gridsize'>, pattern: string): boolean {
  const p = pattern.trim()
  if (p === '*') return true
  const m = /^([^@/]*)(?:\/gs(\d+))?(?:@(.+))?$/.exec(p)
  if (!m) return false
  const [, view, gs, dose] = m
  if (view && view !== job.view) return false
  if (gs !== undefined && Number(gs) !== job.gridsize) return false
  if (dose !== undefined && Number(dose) !== job.dose) return false
  return Boolean(view || gs || dose)
}

export function stubOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StubRunnerOptions {
  const fail = (env.STUDY_STUB_FAIL ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const mode = env.STUDY_STUB_FAIL_MODE === 'throw' ? 'throw' : 'report'
  const delay = Number(env.STUDY_STUB_DELAY_MS ?? 0)
  const crash = (env.STUDY_STUB_CRASH ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  return {fail, failMode: mode, delayMs: Number.isFinite(delay) && delay > 0 ? delay : 0, ...(crash.length ? {crash} : {})}
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'))
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      reject(new Error('aborted'))
    })
  })
}

/** A deterministic fake training history from the job's seed: the loss falls each epoch. */
function fakeHistory(seed: number, nepochs: number): number[] {
  const rng = createRng(seed)
  const loss: number[] = []
  let value = 1 + rng.next()
  for (let e = 0; e < nepochs; e++) {
    value *= 0.8 + 0.1 * rng.next()
    loss.push(Number(value.toFixed(6)))
  }
  return loss
}

export function createStubRunner(options: StubRunnerOptions = {}): Runner {
  return async (ctx: RunnerContext): Promise<RunnerResult> => {
    options.calls?.push(ctx)
    const {job} = ctx
    const record = {
      job: {dose: job.dose, view: job.view, gridsize: job.gridsize},
      backend: ctx.backend,
      seed: ctx.seed,
      config: ctx.config,
      legacy_params: ctx.legacyParams,
    }
    await writeJsonAtomic(path.join(job.artifactDir, STUB_CALL_RECORD), record)
    await appendFile(ctx.logPath, `stub runner: ${job.view} dose=${job.dose} gridsize=${job.gridsize} backend=${ctx.backend} seed=${ctx.seed}\n`)
    if (options.delayMs) await sleep(options.delayMs, ctx.signal)
    if (options.crash?.some((p) => jobMatches(job, p))) {
      if (process.send) process.exit(17) // a worker process: simulate a crash (out of memory, segfault, ...)
      throw new Error('stub crash requested outside a worker process')
    }

    if (options.fail?.some((p) => jobMatches(job, p))) {
      const error = `stub failure requested for ${job.view}@${job.dose}/gs${job.gridsize}`
      await appendFile(ctx.logPath, `${error}\n`)
      if (options.failMode === 'throw') throw new Error(error)
      return {status: 'failed', error}
    }

    const loss = fakeHistory(ctx.seed, ctx.config.nepochs)
    // deterministic bundle: fixed member mtime, content from the job's inputs only
    const params = JSON.stringify({stub: true, job: record.job, seed: ctx.seed, nepochs: ctx.config.nepochs, N: ctx.config.model.N})
    const bundle = zipSync({'params.json': strToU8(params)}, {mtime: new Date('2000-01-01T00:00:00Z')})
    const bundlePath = path.join(job.artifactDir, STUB_BUNDLE_NAME)
    await writeFileAtomic(bundlePath, bundle)
    const digest = await digestFile(bundlePath)
    await appendFile(
      ctx.logPath,
      `Training completed successfully\nFinal loss: ${loss[loss.length - 1]}\nEpochs completed: ${loss.length}\n` +
        `Bundle path: ${STUB_BUNDLE_NAME}\nBundle SHA256: ${digest.sha256}\nBundle size: ${digest.size_bytes} bytes\n`,
    )
    return {
      status: 'success',
      backend_used: ctx.backend === 'auto' ? 'stub' : ctx.backend,
      final_loss: loss[loss.length - 1],
      epochs_completed: loss.length,
      checkpoint_path: null,
      bundle_path: STUB_BUNDLE_NAME,
      bundle_sha256: digest.sha256,
      bundle_size_bytes: digest.size_bytes,
      history: {loss, train_loss: loss},
    }
  }
}
