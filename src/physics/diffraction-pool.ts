/**
 * Parallel simulation on worker threads (one per core by default). Each pattern has its own noise generator
 * (forward-model.ts), so the output is bit-identical to the single-thread simulateDiffraction for any number of
 * workers. Patches are shared with the workers through a SharedArrayBuffer (no copies) when they live on one.
 *
 * The worker script is the compiled diffraction-worker.js beside this module; where it is absent (running the
 * TypeScript sources directly, e.g. under vitest), `DiffractionPool.create` returns undefined and callers run
 * in this thread.
 */
import {existsSync} from 'node:fs'
import os from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'

import {type DiffractionOptions, type DiffractionResult, prepareDiffraction, simulatePatterns} from './forward-model.js'

const workerPath = fileURLToPath(new URL('./diffraction-worker.js', import.meta.url))

export function defaultWorkerCount(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length)
}

export class DiffractionPool {
  private constructor(private readonly workers: Worker[]) {}

  get size(): number {
    return this.workers.length
  }

  /** A pool of `count` workers, or undefined when count <= 1 or the compiled worker script is not there. */
  static create(count: number = defaultWorkerCount()): DiffractionPool | undefined {
    if (count <= 1 || !existsSync(workerPath)) return undefined
    const workers: Worker[] = []
    for (let i = 0; i < count; i++) {
      const w = new Worker(workerPath)
      w.unref()
      workers.push(w)
    }
    return new DiffractionPool(workers)
  }

  private runSlice(worker: Worker, job: unknown, first: number, last: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: {ok: boolean; message?: string}): void => {
        cleanup()
        if (msg.ok) resolve()
        else reject(new Error(`diffraction worker failed: ${msg.message}`))
      }
      const onError = (error: Error): void => {
        cleanup()
        reject(error)
      }
      const cleanup = (): void => {
        worker.off('message', onMessage)
        worker.off('error', onError)
      }
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.postMessage({job, first, last})
    })
  }

  /** simulateDiffraction split over the workers; the same result, bit for bit. */
  async simulate(
    patches: Float32Array | Float64Array,
    probe: ArrayLike<number>,
    count: number,
    n: number,
    nphotons: number,
    seed: number,
    options: DiffractionOptions = {},
  ): Promise<DiffractionResult> {
    let shared = patches
    if (!(patches.buffer instanceof SharedArrayBuffer)) {
      const sab = new SharedArrayBuffer(patches.byteLength)
      shared = patches instanceof Float32Array ? new Float32Array(sab) : new Float64Array(sab)
      shared.set(patches)
    }
    const job = prepareDiffraction(shared, probe, count, n, nphotons, seed, {...options, shared: true})
    const slices = Math.min(this.workers.length, count)
    const per = Math.ceil(count / slices)
    const runs: Promise<void>[] = []
    for (let k = 0; k < slices; k++) {
      const first = k * per
      const last = Math.min(count, first + per)
      if (first < last) runs.push(this.runSlice(this.workers[k], job, first, last))
    }
    await Promise.all(runs)
    return {diffraction: job.diffraction, intensityScale: job.intensityScale, photonsPerPattern: job.photons}
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}

/** Run in this thread (a helper for callers that may or may not have a pool). */
export async function simulateDiffractionWith(
  pool: DiffractionPool | undefined,
  patches: Float32Array | Float64Array,
  probe: ArrayLike<number>,
  count: number,
  n: number,
  nphotons: number,
  seed: number,
  options: DiffractionOptions = {},
): Promise<DiffractionResult> {
  if (pool) return pool.simulate(patches, probe, count, n, nphotons, seed, options)
  const job = prepareDiffraction(patches, probe, count, n, nphotons, seed, options)
  simulatePatterns(job, 0, count)
  return {diffraction: job.diffraction, intensityScale: job.intensityScale, photonsPerPattern: job.photons}
}
