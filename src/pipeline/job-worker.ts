/**
 * A job worker process (forked by executePlan for `--jobs N`): receives one job at a time over IPC, runs it
 * with the runner named in the settings (loaded once per process) and replies with the outcome.
 * A fresh process per worker means no model or backend state is shared with the parent.
 */
import {loadRunner} from '../runners/registry.js'
import type {Runner} from '../runners/types.js'
import {executeJob} from './executor.js'
import type {WorkerReply, WorkerRequest} from './executor.js'

const runners = new Map<string, Runner>()

async function handle(request: WorkerRequest): Promise<void> {
  const {settings, entry, index} = request
  const cacheKey = JSON.stringify([settings.runnerName, settings.runnerOptions])
  let runner = runners.get(cacheKey)
  if (!runner) {
    runner = await loadRunner(settings.runnerName, settings.runnerOptions)
    runners.set(cacheKey, runner)
  }
  const outcome = await executeJob(entry, settings, runner, {
    onProgress: (_entry, event) => process.send?.({type: 'progress', index, event} satisfies WorkerReply),
  })
  // a timed-out job may still be running in this process: ask the parent to replace the worker
  const exitAfter = outcome.status === 'failed' && /timed out/.test(outcome.error ?? '')
  process.send?.({type: 'outcome', index, outcome, exitAfter} satisfies WorkerReply)
}

process.on('message', (msg: WorkerRequest) => {
  if (msg?.type !== 'job') return
  handle(msg).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error)
    const now = new Date().toISOString()
    process.send?.({
      type: 'outcome',
      index: msg.index,
      outcome: {key: msg.entry.key, status: 'failed', result: {status: 'failed', error: message}, error: message, started_at: now, finished_at: now, duration_s: 0},
      exitAfter: true,
    } satisfies WorkerReply)
  })
})
process.on('disconnect', () => process.exit(0))
