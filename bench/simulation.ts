/**
 * Phase C simulation speed: patterns per second of the forward model + Poisson noise (simulateDiffraction)
 * at N = 64 and N = 128 on 512 patterns of the built-in object and probe, side by side with numpy doing the
 * same work (np.fft.fft2 on the batch, |.|^2, fftshift, Generator.poisson, sqrt) on the same patches.
 * Medians of several runs; numpy is skipped with a message when python3/numpy is absent.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {DiffractionPool, defaultWorkerCount} from '../src/physics/diffraction-pool.js'
import {Fft2} from '../src/physics/fft2.js'
import {simulateDiffraction} from '../src/physics/forward-model.js'
import {extractPatches} from '../src/physics/patches.js'
import {samplePoisson} from '../src/physics/poisson.js'
import {randomScanPositions} from '../src/physics/scan.js'
import {syntheticObject} from '../src/physics/synthetic-object.js'
import {syntheticProbe} from '../src/physics/synthetic-probe.js'
import {createRng} from '../src/util/random.js'

const COUNT = 512
const REPEATS = 5
const DOSES = [1e3, 1e5]

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

function timeIt(fn: () => void, repeats = REPEATS): number {
  fn() // warm-up
  const t: number[] = []
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now()
    fn()
    t.push((performance.now() - t0) / 1000)
  }
  return median(t)
}

async function timeItAsync(fn: () => Promise<unknown>, repeats = REPEATS): Promise<number> {
  await fn()
  const t: number[] = []
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now()
    await fn()
    t.push((performance.now() - t0) / 1000)
  }
  return median(t)
}

const NUMPY_SCRIPT = `
import sys, json, time
import numpy as np
n, count, dose, repeats, d = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
Y = np.fromfile(d + '/patches.f32', dtype='<f4').view(np.complex64).reshape(count, n, n)
P = np.fromfile(d + '/probe.f32', dtype='<f4').view(np.complex64).reshape(n, n)
rng = np.random.default_rng(0)
def run():
    obj = Y * P
    s = np.sqrt(dose / np.mean(np.sum(np.abs(obj) ** 2, axis=(1, 2))))
    I = np.fft.fftshift(np.abs(np.fft.fft2(s * obj)) ** 2 / (n * n), axes=(1, 2))
    return (np.sqrt(rng.poisson(I)) / s).astype(np.float32)
run()
ts = []
for _ in range(repeats):
    t = time.perf_counter(); run(); ts.append(time.perf_counter() - t)
fft = []
for _ in range(repeats):
    t = time.perf_counter(); np.fft.fft2(Y * P); fft.append(time.perf_counter() - t)
print(json.dumps({'total': float(np.median(ts)), 'fft': float(np.median(fft)), 'numpy': np.__version__}))
`

export async function run(): Promise<void> {
  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], {stdio: 'ignore'}).status === 0
  if (!hasNumpy) console.log('numpy: not available (python3 -c "import numpy" failed): JS figures only')
  const workers = defaultWorkerCount()
  console.log(`forward model + Poisson, ${COUNT} patterns, median of ${REPEATS} runs (patterns/s; higher is better)`)
  console.log(`study: 1 thread, and ${workers} worker threads (what study generate uses; bit-identical output); numpy: 1 thread`)
  console.log(`N    dose    study 1 thr  study ${workers} thr  numpy   ratio(1 thr)  ratio(${workers} thr) | JS FFT  numpy FFT  JS Poisson`)
  for (const n of [64, 128]) {
    const size = 4 * n
    const object = syntheticObject(size, size, 1)
    const probe = syntheticProbe(n)
    const scan = randomScanPositions(COUNT, size, size, n, 42)
    const patches = extractPatches(object, scan.xcoords, scan.ycoords, n, new Float32Array(2 * COUNT * n * n)) as Float32Array
    const probe32 = Float32Array.from(probe.data)
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-bench-'))
    const pool = DiffractionPool.create(workers)
    try {
      writeFileSync(path.join(dir, 'patches.f32'), Buffer.from(patches.buffer, patches.byteOffset, patches.byteLength))
      writeFileSync(path.join(dir, 'probe.f32'), Buffer.from(probe32.buffer))
      // component timings (dose independent for the FFT)
      const fft = new Fft2(n)
      const exit = new Float64Array(2 * n * n)
      const power = new Float64Array(n * n)
      const fftOnly = timeIt(() => {
        for (let b = 0; b < COUNT; b++) {
          for (let i = 0; i < 2 * n * n; i++) exit[i] = patches[2 * b * n * n + i]
          fft.shiftedPower(exit, power, 1)
        }
      })
      for (const dose of DOSES) {
        let seed = 0
        const total = timeIt(() => {
          simulateDiffraction(patches, probe32, COUNT, n, dose, seed++)
        })
        const parallel = pool ? await timeItAsync(() => pool.simulate(patches, probe32, COUNT, n, dose, seed++)) : Number.NaN
        // Poisson alone on the noiseless intensities of the same patterns
        const clean = simulateDiffraction(patches, probe32, COUNT, n, dose, 0, {poisson: false})
        const s = clean.intensityScale
        const lambdas = new Float64Array(clean.diffraction.length)
        for (let i = 0; i < lambdas.length; i++) lambdas[i] = (clean.diffraction[i] * s) ** 2
        const poissonOnly = timeIt(() => {
          const rng = createRng(seed++)
          for (let i = 0; i < lambdas.length; i++) samplePoisson(rng, lambdas[i])
        })
        let numpyTotal = Number.NaN
        let numpyFft = Number.NaN
        if (hasNumpy) {
          const r = spawnSync('python3', ['-c', NUMPY_SCRIPT, String(n), String(COUNT), String(dose), String(REPEATS), dir], {encoding: 'utf8'})
          if (r.status === 0) {
            const j = JSON.parse(r.stdout) as {total: number; fft: number}
            numpyTotal = j.total
            numpyFft = j.fft
          } else {
            console.log(`numpy run failed: ${r.stderr.trim().split('\n').pop()}`)
          }
        }
        const ps = (t: number): string => (Number.isFinite(t) ? (COUNT / t).toFixed(0) : 'n/a').padStart(8)
        const ratio = (t: number): string => (Number.isFinite(numpyTotal) && Number.isFinite(t) ? (numpyTotal / t).toFixed(2) + 'x' : 'n/a')
        console.log(
          `${String(n).padEnd(4)} ${dose.toExponential(0).padEnd(6)} ${ps(total)}    ${ps(parallel)}     ${ps(numpyTotal)}  ${ratio(total).padStart(8)}     ${ratio(parallel).padStart(8)}  | ${ps(fftOnly)} ${ps(numpyFft)}  ${ps(poissonOnly)}`,
        )
      }
    } finally {
      await pool?.close()
      rmSync(dir, {recursive: true, force: true})
    }
  }
}
