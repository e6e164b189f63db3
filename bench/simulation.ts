/**
 * Phase C simulation speed: patterns per second of the forward model + Poisson noise at N = 64 and N = 128 on
 * 512 patterns of the built-in object and probe, side by side with numpy doing the same work on the same
 * patches (np.fft.fft2 on the batch, |.|^2, fftshift, Generator.poisson, sqrt).
 *
 * The machines are shared and noisy, so the study's runs and numpy's runs are interleaved (numpy runs in one
 * long-lived python3 process that times a run whenever asked) and the medians are compared: both see the same
 * load. numpy is skipped with a message when python3/numpy is absent.
 */
import {type ChildProcessWithoutNullStreams, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {createInterface} from 'node:readline'

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
const REPEATS = 9
const DOSES = [1e3, 1e5]

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

const NUMPY_SERVER = `
import sys, json, time
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
cache = {}
for line in sys.stdin:
    cmd = json.loads(line)
    n, count, dose, what = cmd['n'], cmd['count'], cmd['dose'], cmd['what']
    if n not in cache:
        Y = np.fromfile(d + f'/patches{n}.f32', dtype='<f4').view(np.complex64).reshape(count, n, n)
        P = np.fromfile(d + f'/probe{n}.f32', dtype='<f4').view(np.complex64).reshape(n, n)
        cache[n] = (Y, P)
    Y, P = cache[n]
    t = time.perf_counter()
    if what == 'total':
        obj = Y * P
        s = np.sqrt(dose / np.mean(np.sum(np.abs(obj) ** 2, axis=(1, 2))))
        I = np.fft.fftshift(np.abs(np.fft.fft2(s * obj)) ** 2 / (n * n), axes=(1, 2))
        X = (np.sqrt(rng.poisson(I)) / s).astype(np.float32)
    else:
        F = np.fft.fft2(Y * P)
    print(json.dumps(time.perf_counter() - t), flush=True)
`

class NumpyServer {
  private readonly lines: AsyncIterator<string>
  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({input: proc.stdout})[Symbol.asyncIterator]()
  }

  static start(dir: string): NumpyServer {
    return new NumpyServer(spawn('python3', ['-c', NUMPY_SERVER, dir]))
  }

  async time(n: number, dose: number, what: 'total' | 'fft'): Promise<number> {
    this.proc.stdin.write(JSON.stringify({n, count: COUNT, dose, what}) + '\n')
    const r = await this.lines.next()
    if (r.done) throw new Error('numpy process ended')
    return JSON.parse(r.value) as number
  }

  stop(): void {
    this.proc.stdin.end()
  }
}

async function interleaved(js: () => Promise<unknown> | unknown, np: (() => Promise<number>) | undefined): Promise<{js: number; np: number}> {
  await js()
  if (np) await np()
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now()
    await js()
    a.push((performance.now() - t0) / 1000)
    if (np) b.push(await np())
  }
  return {js: median(a), np: np ? median(b) : Number.NaN}
}

export async function run(): Promise<void> {
  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], {stdio: 'ignore'}).status === 0
  if (!hasNumpy) console.log('numpy: not available (python3 -c "import numpy" failed): study figures only')
  const workers = defaultWorkerCount()
  console.log(`forward model + Poisson, ${COUNT} patterns, medians of ${REPEATS} interleaved runs, patterns/s (higher is better)`)
  console.log(`study: one thread, and ${workers} worker threads (study generate's default; byte-identical output); numpy: one thread`)
  console.log(`N    dose   | study 1 thr  numpy  ratio | study ${workers} thr  numpy  ratio | FFT: study  numpy | study Poisson`)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'study-bench-'))
  const data = new Map<number, {patches: Float32Array; probe: Float32Array}>()
  for (const n of [64, 128]) {
    const size = 4 * n
    const object = syntheticObject(size, size, 1)
    const scan = randomScanPositions(COUNT, size, size, n, 42)
    const patches = extractPatches(object, scan.xcoords, scan.ycoords, n, new Float32Array(new SharedArrayBuffer(8 * COUNT * n * n))) as Float32Array
    const probe = Float32Array.from(syntheticProbe(n).data)
    writeFileSync(path.join(dir, `patches${n}.f32`), Buffer.from(Float32Array.from(patches).buffer))
    writeFileSync(path.join(dir, `probe${n}.f32`), Buffer.from(probe.buffer))
    data.set(n, {patches, probe})
  }
  const numpy = hasNumpy ? NumpyServer.start(dir) : undefined
  const pool = DiffractionPool.create(workers)
  const ps = (t: number): string => (Number.isFinite(t) ? (COUNT / t).toFixed(0) : 'n/a').padStart(6)
  const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) ? (b / a).toFixed(2) + 'x' : 'n/a').padStart(6)
  try {
    for (const n of [64, 128]) {
      const {patches, probe} = data.get(n)!
      const fft = new Fft2(n)
      const exit = new Float64Array(2 * n * n)
      const power = new Float64Array(n * n)
      const fftTimes = await interleaved(
        () => {
          for (let b = 0; b < COUNT; b++) {
            for (let i = 0; i < 2 * n * n; i++) exit[i] = patches[2 * b * n * n + i]
            fft.shiftedPower(exit, power, 1)
          }
        },
        numpy ? () => numpy.time(n, 1, 'fft') : undefined,
      )
      for (const dose of DOSES) {
        let seed = 0
        const one = await interleaved(() => simulateDiffraction(patches, probe, COUNT, n, dose, seed++), numpy ? () => numpy.time(n, dose, 'total') : undefined)
        const many = pool
          ? await interleaved(() => pool.simulate(patches, probe, COUNT, n, dose, seed++), numpy ? () => numpy.time(n, dose, 'total') : undefined)
          : {js: Number.NaN, np: Number.NaN}
        const clean = simulateDiffraction(patches, probe, COUNT, n, dose, 0, {poisson: false})
        const lambdas = Float64Array.from(clean.diffraction, (x) => (x * clean.intensityScale) ** 2)
        const poissonOnly = await interleaved(() => {
          const rng = createRng(seed++)
          for (let i = 0; i < lambdas.length; i++) samplePoisson(rng, lambdas[i])
        }, undefined)
        console.log(
          `${String(n).padEnd(4)} ${dose.toExponential(0).padEnd(6)} | ${ps(one.js)}     ${ps(one.np)} ${ratio(one.js, one.np)} | ` +
            `${ps(many.js)}       ${ps(many.np)} ${ratio(many.js, many.np)} | ${ps(fftTimes.js)}  ${ps(fftTimes.np)} | ${ps(poissonOnly.js)}`,
        )
      }
    }
  } finally {
    numpy?.stop()
    await pool?.close()
    rmSync(dir, {recursive: true, force: true})
  }
  console.log(`(load average while measuring: ${os.loadavg().map((v) => v.toFixed(1)).join(', ')} on ${os.cpus().length} cores)`)
}
