/**
 * `study train --dry-run` wall time on the 9-job matrix, as a real process (target <= 350 ms; TensorFlow.js
 * is never imported for a dry run). Side by side: bare `node -e 0` and `study --help` on the same machine.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {float32, complex64} from '../src/io/ndarray.js'
import {writeNpz} from '../src/io/npz.js'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const bin = path.join(repo, 'bin', 'run.js')

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function timeRuns(args: string[], cwd: string, runs: number): number[] {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(process.execPath, args, {cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'})
    const dt = performance.now() - t0
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    times.push(dt)
  }
  return times
}

async function makeTree(base: string): Promise<void> {
  const N = 64
  for (const dose of [1000, 10000, 100000]) {
    for (const split of ['train', 'test']) {
      const arrays = {
        diffraction: float32([32, N, N]),
        objectGuess: complex64([2 * N, 2 * N]),
        probeGuess: complex64([N, N]),
        xcoords: float32([32]),
        ycoords: float32([32]),
      }
      await writeNpz(path.join(base, 'phase_c', `dose_${dose}`, `patched_${split}.npz`), arrays)
      for (const view of ['dense', 'sparse']) {
        await writeNpz(path.join(base, 'phase_d', `dose_${dose}`, view, `${view}_${split}.npz`), arrays)
      }
    }
  }
}

export async function run(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'study-bench-train-'))
  try {
    await makeTree(base)
    const runs = 9
    const dry = [bin, 'train', '--phase-c-root', 'phase_c', '--phase-d-root', 'phase_d', '--artifact-root', 'out', '--dry-run']
    timeRuns(dry, base, 1) // warm the file cache
    const node = timeRuns(['-e', '0'], base, runs)
    const help = timeRuns([bin, '--help'], base, runs)
    const train = timeRuns(dry, base, runs)
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`
    console.log(`node -e 0                               ${fmt(node)}`)
    console.log(`study --help                            ${fmt(help)}`)
    console.log(`study train --dry-run (9 jobs)          ${fmt(train)}   target <= 350 ms`)
  } finally {
    rmSync(base, {recursive: true, force: true})
  }
}
