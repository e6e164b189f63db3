/**
 * Training-step speed of the tfjs PtychoPINN: ms per step and patterns/s (batch 16, n_filters_scale 2, Adam,
 * Poisson NLL, the same code path as `study train --runner tfjs`) for N=64 gridsize 1 and 2 and N=128 gridsize 1,
 * on each backend present, plus peak RSS. Figures are medians over timed steps after one warm-up step.
 *
 * Environment: STUDY_BENCH_STEPS (timed steps, default 3), STUDY_BENCH_BACKENDS (comma list; default: the
 * backends present except cpu, which is 20-30x slower than wasm; add it explicitly to measure it).
 */
import {cpus} from 'node:os'

interface Case {
  N: 64 | 128
  gridsize: number
}

const CASES: Case[] = [
  {N: 64, gridsize: 1},
  {N: 64, gridsize: 2},
  {N: 128, gridsize: 1},
]
const BATCH = 16

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export async function run(): Promise<void> {
  const {ensureBackend, findNativePackage} = await import('../src/model/backend.js')
  const tf = await import('@tensorflow/tfjs-core')
  const {modelSpecFrom, parameterCount} = await import('../src/model/architecture.js')
  const {PtychoPinn} = await import('../src/model/ptychopinn.js')
  const {Adam} = await import('../src/model/adam.js')
  const {makeBatch, trainStep} = await import('../src/model/train.js')
  const {createRng} = await import('../src/util/random.js')
  const steps = Number(process.env.STUDY_BENCH_STEPS ?? 3)
  const backends = process.env.STUDY_BENCH_BACKENDS?.split(',').map((s) => s.trim()) ?? [...(findNativePackage() ? ['tensorflow'] : []), 'wasm']
  console.log(`training step, batch ${BATCH}, n_filters_scale 2; ${steps} timed steps after 1 warm-up; ${cpus().length} cores`)
  if (!backends.includes('cpu')) console.log('(cpu backend not timed by default: 20-30x slower than wasm; STUDY_BENCH_BACKENDS=wasm,cpu to add it)')
  if (!findNativePackage()) console.log('(tensorflow backend: @tensorflow/tfjs-node[-gpu] not installed here)')
  console.log('(wall = elapsed time; cpu = this process\'s CPU time, the better figure on a busy machine)')
  console.log('backend     N    gs  params     GFLOP/pattern  wall ms/step  patterns/s  cpu ms/step  patterns/s(cpu)  peak RSS MiB')
  for (const backend of backends) {
    const used = await ensureBackend(backend)
    for (const c of CASES) {
      const C = c.gridsize * c.gridsize
      const N = c.N
      const spec = modelSpecFrom(
        {N, gridsize: c.gridsize, n_filters_scale: 2, amp_activation: 'sigmoid', object_big: true, probe_big: true, probe_mask: false, pad_object: true, probe_scale: 4, gaussian_smoothing_sigma: 0},
        {nphotons: 1e9, intensity_scale_trainable: true, probe_trainable: false},
      )
      const rng = createRng(1)
      const probe = new Float32Array(2 * N * N)
      for (let y = 0; y < N; y++)
        for (let x = 0; x < N; x++) probe[2 * (y * N + x)] = Math.exp(-((y - N / 2) ** 2 + (x - N / 2) ** 2) / (2 * (N / 7) ** 2))
      const model = new PtychoPinn(spec, probe, rng)
      const vars = model.trainableVariables()
      const adam = new Adam(vars)
      const X = new Float32Array(BATCH * N * N * C).map(() => rng.next())
      const coords = new Float32Array(BATCH * 2 * C).map(() => (c.gridsize > 1 ? 6 * (rng.next() - 0.5) : 0))
      const idx = Array.from({length: BATCH}, (_, i) => i)
      const batch = makeBatch({X, coordsRelative: coords, probe}, idx, spec, false)
      const before = tf.memory().numTensors
      await trainStep(model, vars, adam, batch, {nll_weight: 1, mae_weight: 0})
      const times: number[] = []
      const cpuTimes: number[] = []
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now()
        const c0 = process.cpuUsage()
        await trainStep(model, vars, adam, batch, {nll_weight: 1, mae_weight: 0})
        const dc = process.cpuUsage(c0)
        times.push(performance.now() - t0)
        cpuTimes.push((dc.user + dc.system) / 1000)
      }
      const leaked = tf.memory().numTensors - before
      adam.dispose()
      model.dispose()
      const ms = median(times)
      const cpuMs = median(cpuTimes)
      const flops = flopsPerPattern(N, C)
      const rss = process.resourceUsage().maxRSS / 1024
      console.log(
        `${used.padEnd(10)}  ${String(N).padEnd(4)} ${String(c.gridsize).padEnd(3)} ${String(parameterCount(spec)).padEnd(10)} ${(flops / 1e9).toFixed(2).padEnd(14)} ${ms.toFixed(0).padStart(12)}  ${((BATCH / ms) * 1000).toFixed(2).padStart(10)}  ${cpuMs.toFixed(0).padStart(11)}  ${((BATCH / cpuMs) * 1000).toFixed(2).padStart(15)}  ${rss.toFixed(0).padStart(12)}${leaked ? `  (LEAK ${leaked} tensors)` : ''}`,
      )
    }
  }
}

/** forward convolution FLOPs per pattern (2·k²·cin·cout per output pixel), from the architecture */
function flopsPerPattern(N: number, C: number): number {
  const s = 2
  const enc: Record<number, number[]> = {64: [32, 64, 128], 128: [16, 32, 64, 128]}
  const dec: Record<number, number[]> = {64: [64, 32], 128: [128, 64, 32]}
  let f = 0
  let size = N
  let cin = C
  for (const b of enc[N].map((x) => x * s)) {
    f += 2 * 9 * size * size * (cin * b + b * b)
    cin = b
    size /= 2
  }
  const bott = cin
  for (let head = 0; head < 2; head++) {
    let c = bott
    let sz = size
    for (const b of dec[N].map((x) => x * s)) {
      f += 2 * 9 * sz * sz * (c * b + b * b)
      c = b
      sz *= 2
    }
    const fb = (s * 2048) / N
    f += 2 * 9 * sz * sz * ((c - 4) * C + 4 * fb + fb * fb) + 2 * 9 * (2 * sz) ** 2 * fb * C
  }
  return f
}
