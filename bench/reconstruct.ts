/**
 * Reconstruction figures: stitching throughput (patches/s, spec §13.8 shift-and-sum with M = 20) and
 * SSIM time on a 512×512 image, with numpy/scipy's figure side by side where python3 has them.
 */
import {spawnSync} from 'node:child_process'

import {ssim} from '../src/metrics/image.js'
import {stitchPatches} from '../src/model/stitch.js'
import {createRng} from '../src/util/random.js'

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function timeIt(fn: () => void, reps: number): number {
  fn()
  const t: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    fn()
    t.push(performance.now() - t0)
  }
  return median(t)
}

function python(script: string): string | undefined {
  const r = spawnSync('python3', ['-c', script], {encoding: 'utf8', timeout: 600_000})
  return r.status === 0 ? r.stdout.trim() : undefined
}

export async function run(): Promise<void> {
  const rng = createRng(1)
  for (const [B, N] of [
    [5000, 64],
    [5000, 128],
  ]) {
    const re = new Float32Array(B * N * N).map(() => rng.normal())
    const im = new Float32Array(B * N * N).map(() => rng.normal())
    const offsets = new Float64Array(2 * B).map(() => 64 + 300 * rng.next())
    const ms = timeIt(() => stitchPatches({re, im}, B, N, offsets, 20), 5)
    console.log(`stitch ${B} patches N=${N} M=20: ${ms.toFixed(1)} ms (${((B / ms) * 1000).toFixed(0)} patches/s)`)
  }
  const np = python(`
import time, numpy as np
from scipy.ndimage import shift
rng = np.random.default_rng(1)
B, M = 1000, 20
crop = rng.standard_normal((B, M, M)) + 1j * rng.standard_normal((B, M, M))
adj = rng.uniform(-150, 150, (B, 2))
pad = int(np.ceil(np.abs(adj).max())); pad += pad % 2
t0 = time.perf_counter()
acc = np.zeros((M + 2*pad, M + 2*pad), complex); ones = np.zeros((M + 2*pad, M + 2*pad))
for b in range(B):
    acc += shift(np.pad(crop[b].real, pad), adj[b, ::-1], order=1) + 1j * shift(np.pad(crop[b].imag, pad), adj[b, ::-1], order=1)
    ones += shift(np.pad(np.ones((M, M)), pad), adj[b, ::-1], order=1)
dt = time.perf_counter() - t0
print(f"{B / dt:.0f}")`)
  console.log(
    np
      ? `numpy/scipy shift_and_sum (scipy.ndimage.shift per patch, full canvas): ${np} patches/s`
      : 'numpy/scipy figure: python3 with scipy not available',
  )

  const H = 512
  const a = new Float64Array(H * H).map(() => rng.next())
  const b = a.map((v) => v + 0.1 * rng.normal())
  const ms = timeIt(() => ssim({data: a, H, W: H}, {data: b, H, W: H}, 1), 5)
  console.log(`SSIM 512×512 (7×7 window): ${ms.toFixed(1)} ms`)
  const sk = python(`
import time, numpy as np
try:
    from skimage.metrics import structural_similarity as S
except ImportError:
    raise SystemExit(1)
rng = np.random.default_rng(0); a = rng.random((512, 512)); b = a + 0.1 * rng.standard_normal((512, 512))
S(a, b, data_range=1.0)
ts = []
for _ in range(5):
    t0 = time.perf_counter(); S(a, b, data_range=1.0); ts.append(time.perf_counter() - t0)
print(f"{sorted(ts)[2] * 1000:.1f}")`)
  console.log(sk ? `skimage structural_similarity 512×512: ${sk} ms` : 'skimage figure: scikit-image not installed')
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
