/**
 * The example study end to end, as a user runs it: `study train --example` in a fresh folder
 * (generate phase C + D, then train all 9 jobs briefly with the tfjs runner, one worker per core).
 * Target (TARGETS.md): <= 10 minutes on 2 cores. Also times the second run, which reuses everything.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(repo, 'bin', 'run.js')

function runExample(cwd: string): {seconds: number; status: number | null; stderr: string} {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [bin, 'train', '--example', '--json'], {cwd, encoding: 'utf8', maxBuffer: 64 << 20})
  return {seconds: (performance.now() - t0) / 1000, status: r.status, stderr: r.stderr}
}

export async function run(): Promise<void> {
  if (process.env.STUDY_BENCH_SKIP_EXAMPLE) {
    console.log('example study: skipped (STUDY_BENCH_SKIP_EXAMPLE is set)')
    return
  }
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'study-bench-example-'))
  try {
    const first = runExample(cwd)
    if (first.status !== 0) throw new Error(`study train --example exited ${first.status}:\n${first.stderr.slice(-2000)}`)
    const manifest = JSON.parse(readFileSync(path.join(cwd, 'study-out', 'example', 'training_manifest.json'), 'utf8')) as {
      jobs: Array<{key: string; status: string; duration_s?: number; result?: {backend_used?: string}}>
      parallel_jobs?: number
    }
    const ok = manifest.jobs.filter((j) => j.status === 'success').length
    const perJob = manifest.jobs.map((j) => j.duration_s ?? 0)
    const backend = manifest.jobs[0]?.result?.backend_used ?? '?'
    console.log(`example study, first run (generate + overlap + train 9 jobs, ${manifest.parallel_jobs ?? '?'} workers, backend ${backend}):`)
    console.log(`  wall ${first.seconds.toFixed(1)} s (target <= 600 s); ${ok}/${manifest.jobs.length} jobs succeeded; per job ${Math.min(...perJob).toFixed(1)}-${Math.max(...perJob).toFixed(1)} s`)
    const second = runExample(cwd)
    console.log(`example study, second run (data reused, jobs complete): wall ${second.seconds.toFixed(1)} s, exit ${second.status}`)
  } finally {
    rmSync(cwd, {recursive: true, force: true})
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
