import {mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {ContractError, MissingInputError} from '../../src/errors.js'
import {complex64, float32, float64} from '../../src/io/ndarray.js'
import {readNpz, writeNpz} from '../../src/io/npz.js'
import {readGreyPng} from '../../src/io/png.js'
import {
  type LoadedBundle,
  type ReconstructDeps,
  reconstructFromBundle,
  ReconstructionMetricsFileSchema,
  writeReconstruction,
} from '../../src/model/reconstruct.js'
import {loadGroupedData} from '../../src/model/training-data.js'
import {createRng} from '../../src/util/random.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'

const N = 32
const H = 150
const W = 170
const amp = (y: number, x: number): number => 0.7 + 0.15 * Math.sin(x / 6) * Math.cos(y / 8)
const ph = (y: number, x: number): number => 0.9 * Math.sin((x - y) / 14) + 0.4 * Math.cos(y / 11)

/** a test NPZ with an analytic object, sub-pixel positions and exact ground-truth patches */
async function writeTestNpz(file: string, n: number, seed: number): Promise<Float32Array> {
  const rng = createRng(seed)
  const xs = Float64Array.from({length: n}, () => 35 + 100 * rng.next())
  const ys = Float64Array.from({length: n}, () => 35 + 80 * rng.next())
  const obj = new Float32Array(2 * H * W)
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      obj[2 * (r * W + c)] = amp(r, c) * Math.cos(ph(r, c))
      obj[2 * (r * W + c) + 1] = amp(r, c) * Math.sin(ph(r, c))
    }
  }
  const gt = new Float32Array(2 * n * N * N)
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const y = i + ys[b] - N / 2
        const x = j + xs[b] - N / 2
        gt[2 * ((b * N + i) * N + j)] = amp(y, x) * Math.cos(ph(y, x))
        gt[2 * ((b * N + i) * N + j) + 1] = amp(y, x) * Math.sin(ph(y, x))
      }
    }
  }
  const diff = new Float32Array(n * N * N).map(() => rng.next())
  const probe = new Float32Array(2 * N * N).fill(1)
  await writeNpz(file, {
    diffraction: float32([n, N, N], diff),
    xcoords: float64([n], xs),
    ycoords: float64([n], ys),
    probeGuess: complex64([N, N], probe),
    objectGuess: complex64([H, W], obj),
    ground_truth_patches: complex64([n, N, N, 1], gt),
  })
  return gt
}

/** a model stand-in that "predicts" the exact ground-truth patches (gs1 groups are the images in file order) */
function fakeDeps(gt: Float32Array, calls: {disposed: number; predicted: number}): ReconstructDeps {
  return {
    async loadBundle(): Promise<LoadedBundle> {
      return {N, gridsize: 1, intensityScale: 12.5, dispose: () => void calls.disposed++}
    },
    async predictObjectPatches(_bundle, X, coordsRelative) {
      calls.predicted++
      const B = X.length / (N * N)
      expect(coordsRelative.length).toBe(2 * B)
      const re = new Float32Array(B * N * N)
      const im = new Float32Array(B * N * N)
      for (let k = 0; k < B * N * N; k++) {
        re[k] = gt[2 * k]
        im[k] = gt[2 * k + 1]
      }
      return {re, im, B, N}
    },
  }
}

describe('reconstructFromBundle (with ground-truth patches standing in for the model)', () => {
  it('stitches, writes NPZ + PNGs + metrics, and the exact patches score near-perfect', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-rec-'))
    const testNpz = path.join(dir, 'patched_test.npz')
    const bundle = path.join(dir, 'wts.bundle')
    writeFileSync(bundle, 'fake')
    const gt = await writeTestNpz(testNpz, 400, 1)
    const calls = {disposed: 0, predicted: 0}
    const out = path.join(dir, 'recon')
    const r = await reconstructFromBundle(bundle, testNpz, out, {}, fakeDeps(gt, calls))
    expect(calls).toEqual({disposed: 1, predicted: 1})
    expect(r.nGroups).toBe(400)
    expect(readdirSync(out).sort()).toEqual([
      'comparison_amplitude.png',
      'comparison_phase.png',
      'ground_truth_amplitude.png',
      'ground_truth_phase.png',
      'reconstruction.npz',
      'reconstruction_amplitude.png',
      'reconstruction_metrics.json',
      'reconstruction_phase.png',
    ])
    const m = r.metrics!
    console.log(`exact patches: phase corr ${m.correlation.phase.toFixed(4)}, SSIM amp ${m.ssim.amplitude.toFixed(4)} phase ${m.ssim.phase.toFixed(4)}`)
    // uncovered corners of the scanned box (zeros) and bilinear error keep these below 1
    expect(m.correlation.phase).toBeGreaterThan(0.99)
    expect(m.ssim.phase).toBeGreaterThan(0.98)
    expect(m.ssim.amplitude).toBeGreaterThan(0.97)
    const file = ReconstructionMetricsFileSchema.parse(JSON.parse(readFileSync(r.metricsPath!, 'utf8')))
    expect(file.stitch_crop_size).toBe(20)
    expect(file.test_data).toBe('../patched_test.npz')
    const png = await readGreyPng(r.amplitudePng)
    expect(png.H).toBe(r.height)
    expect(png.W).toBe(r.width)
    const npz = await readNpz(r.npzPath, {members: ['object', 'origin_xy', 'offsets']})
    expect(npz.object.dtype).toBe('<c8')
    expect(npz.object.shape).toEqual([r.height, r.width])
    expect(npz.offsets.shape).toEqual([400, 1, 2, 1])
  })

  it('gridsize 2 without --n-groups: one group per scan position, no oversampling needed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-rec-gs2-default-'))
    const testNpz = path.join(dir, 'dense_test.npz')
    const bundle = path.join(dir, 'model_bundle.zip')
    writeFileSync(bundle, 'fake')
    await writeTestNpz(testNpz, 120, 3)
    let predictedGroups = -1
    const deps: ReconstructDeps = {
      async loadBundle(): Promise<LoadedBundle> {
        return {N, gridsize: 2, intensityScale: 12.5, dispose: () => {}}
      },
      async predictObjectPatches(_bundle, X) {
        const B = X.length / (N * N * 4)
        predictedGroups = B
        return {re: new Float32Array(B * N * N).fill(1), im: new Float32Array(B * N * N), B, N}
      },
    }
    const r = await reconstructFromBundle(bundle, testNpz, path.join(dir, 'recon'), {}, deps)
    expect(predictedGroups).toBe(120)
    expect(r.nGroups).toBe(120)
  })

  it('gridsize 2: patches of the group objects stitched at the group centres reproduce the object', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-rec-'))
    const testNpz = path.join(dir, 'patched_test.npz')
    await writeTestNpz(testNpz, 300, 6)
    const data = await loadGroupedData(testNpz, {N, gridsize: 2, nGroups: 300, neighborCount: 7, enableOversampling: false, seed: 1, nphotons: 1e4})
    expect(data.C).toBe(4)
    const B = data.B
    const re = new Float32Array(B * N * N)
    const im = new Float32Array(B * N * N)
    for (let b = 0; b < B; b++) {
      const cx = data.coordsOffsets[2 * b]
      const cy = data.coordsOffsets[2 * b + 1]
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          const y = i + cy - N / 2
          const x = j + cx - N / 2
          re[(b * N + i) * N + j] = amp(y, x) * Math.cos(ph(y, x))
          im[(b * N + i) * N + j] = amp(y, x) * Math.sin(ph(y, x))
        }
      }
    }
    const r = await writeReconstruction({re, im, B, N}, data, process.env.STUDY_DEBUG_OUT ?? path.join(dir, 'o'), {M: 20, seed: 1})
    const m = r.metrics!
    console.log(`gs2 exact group patches: phase corr ${m.correlation.phase.toFixed(4)}, SSIM amp ${m.ssim.amplitude.toFixed(4)} phase ${m.ssim.phase.toFixed(4)}`)
    // group centres leave more uncovered (zero) pixels near the border of the scanned box than gs1 positions
    expect(m.correlation.phase).toBeGreaterThan(0.97)
    expect(m.ssim.phase).toBeGreaterThan(0.95)
  })

  it('a permuted "prediction" scores far worse (the metrics can fail)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-rec-'))
    const testNpz = path.join(dir, 'patched_test.npz')
    const bundle = path.join(dir, 'b.bundle')
    writeFileSync(bundle, 'fake')
    const gt = await writeTestNpz(testNpz, 400, 2)
    // shuffle whole patches
    const rng = createRng(3)
    const shuffled = new Float32Array(gt.length)
    for (let b = 0; b < 400; b++) {
      const s = rng.nextInt(400)
      shuffled.set(gt.subarray(2 * s * N * N, 2 * (s + 1) * N * N), 2 * b * N * N)
    }
    const r = await reconstructFromBundle(bundle, testNpz, path.join(dir, 'o'), {}, fakeDeps(shuffled, {disposed: 0, predicted: 0}))
    expect(r.metrics!.correlation.phase).toBeLessThan(0.5)
  })

  it('a missing bundle or test file is a MissingInputError naming it; an unreadable bundle a ContractError naming it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-rec-'))
    const testNpz = path.join(dir, 't.npz')
    const gt = await writeTestNpz(testNpz, 20, 4)
    const deps = fakeDeps(gt, {disposed: 0, predicted: 0})
    await expect(reconstructFromBundle(path.join(dir, 'missing.zip'), testNpz, dir, {}, deps)).rejects.toThrow(MissingInputError)
    await expect(reconstructFromBundle(path.join(dir, 'missing.zip'), testNpz, dir, {}, deps)).rejects.toThrow(/missing\.zip/)
    const bundle = path.join(dir, 'corrupt.zip')
    writeFileSync(bundle, 'not a zip')
    await expect(reconstructFromBundle(bundle, path.join(dir, 'nope.npz'), dir, {}, deps)).rejects.toThrow(/nope\.npz/)
    const broken: ReconstructDeps = {...deps, loadBundle: async () => Promise.reject(new Error('bad magic'))}
    await expect(reconstructFromBundle(bundle, testNpz, dir, {}, broken)).rejects.toThrow(ContractError)
    await expect(reconstructFromBundle(bundle, testNpz, dir, {}, broken)).rejects.toThrow(/corrupt\.zip.*bad magic/)
  })

  it.skipIf(!hasNumpy)('numpy reads reconstruction.npz: complex64 object whose |.| and angle match the amplitude/phase members', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-rec-'))
    const testNpz = path.join(dir, 'patched_test.npz')
    const bundle = path.join(dir, 'b.bundle')
    writeFileSync(bundle, 'fake')
    const gt = await writeTestNpz(testNpz, 100, 5)
    const r = await reconstructFromBundle(bundle, testNpz, path.join(dir, 'o'), {M: 16}, fakeDeps(gt, {disposed: 0, predicted: 0}))
    const ref = runPython<{dtype: string; shape: number[]; err: number; meta: {stitch_crop_size: number}}>(
      `d = np.load(${JSON.stringify(r.npzPath)})
o = d['object']
out({'dtype': str(o.dtype), 'shape': list(o.shape), 'err': float(max(np.abs(np.abs(o) - d['amplitude']).max(), np.abs(np.angle(o) - d['phase']).max())),
     'meta': json.loads(str(d['_metadata']))})`,
    )
    expect(ref.dtype).toBe('complex64')
    expect(ref.shape).toEqual([r.height, r.width])
    expect(ref.err).toBeLessThan(1e-5)
    expect(ref.meta.stitch_crop_size).toBe(16)
  })
  if (!hasNumpy) noteSkip('reconstruction.npz read by numpy', 'numpy')
})
