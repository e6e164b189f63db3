import {describe, expect, it} from 'vitest'

import {alignByCoordinates, alignForEvaluation, evaluateReconstruction, type ComplexImage} from '../../src/metrics/evaluate.js'
import {stitchPatches} from '../../src/model/stitch.js'
import {createRng} from '../../src/util/random.js'
import {hasNumpy, hasSkimage, noteSkip, runPython} from './python.js'

function texturedObject(H: number, W: number, seed: number): ComplexImage {
  const rng = createRng(seed)
  const re = new Float64Array(H * W)
  const im = new Float64Array(H * W)
  const k = Array.from({length: 6}, () => [0.02 + 0.2 * rng.next(), 0.02 + 0.2 * rng.next(), 6 * rng.next()])
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      let a = 0.7
      let p = 0
      for (const [fx, fy, ph] of k) {
        a += 0.04 * Math.sin(fx * c + fy * r + ph)
        p += 0.12 * Math.cos(fy * c - fx * r + ph)
      }
      re[r * W + c] = a * Math.cos(p)
      im[r * W + c] = a * Math.sin(p)
    }
  }
  return {re, im, H, W}
}

describe('evaluateReconstruction (spec §8.3)', () => {
  it('is blind to an amplitude scale and a phase plane: perfect scores', () => {
    const gt = texturedObject(60, 70, 1)
    const pred: ComplexImage = {re: new Float64Array(gt.re.length), im: new Float64Array(gt.im.length), H: 60, W: 70}
    for (let r = 0; r < 60; r++) {
      for (let c = 0; c < 70; c++) {
        const k = r * 70 + c
        const a = 2.5 * Math.hypot(gt.re[k], gt.im[k])
        const p = Math.atan2(gt.im[k], gt.re[k]) + 0.01 * c - 0.012 * r + 0.3
        pred.re[k] = a * Math.cos(p)
        pred.im[k] = a * Math.sin(p)
      }
    }
    const m = evaluateReconstruction(pred, gt)
    expect(m.height).toBe(56)
    expect(m.width).toBe(66)
    expect(m.amplitude_scale).toBeCloseTo(1 / 2.5, 9)
    expect(m.mae.amplitude).toBeLessThan(1e-9)
    expect(m.mae.phase).toBeLessThan(1e-9)
    expect(m.ssim.amplitude).toBeCloseTo(1, 9)
    expect(m.ssim.phase).toBeCloseTo(1, 9)
    expect(m.correlation.phase).toBeCloseTo(1, 9)
  })

  it('correlation is taken over the covered pixels when a mask is given', () => {
    const gt = texturedObject(40, 40, 7)
    const pred: ComplexImage = {re: Float64Array.from(gt.re), im: Float64Array.from(gt.im), H: 40, W: 40}
    const mask = new Float64Array(1600).fill(1)
    for (let r = 0; r < 12; r++) {
      for (let c = 0; c < 12; c++) {
        pred.re[r * 40 + c] = 0
        pred.im[r * 40 + c] = 0
        mask[r * 40 + c] = 0
      }
    }
    const plain = evaluateReconstruction(pred, gt)
    const masked = evaluateReconstruction(pred, gt, {mask})
    expect(plain.correlation.amplitude).toBeLessThan(0.9)
    expect(masked.correlation.amplitude).toBeCloseTo(1, 6)
    expect(masked.covered_fraction).toBeCloseTo(1 - 100 / 1296, 12)
    expect(masked.ssim.amplitude).toBe(plain.ssim.amplitude)
  })

  it.skipIf(!hasNumpy)('matches a numpy re-implementation of eval_reconstruction (1e-8)', () => {
    const gt = texturedObject(64, 64, 2)
    const pred = texturedObject(64, 64, 3)
    const m = evaluateReconstruction(pred, gt)
    const ssimCode = hasSkimage
      ? 'from skimage.metrics import structural_similarity as S'
      : `def _u7(a):
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), axis=0), axis=1)
    return (c[7:, 7:] - c[:-7, 7:] - c[7:, :-7] + c[:-7, :-7]) / 49.0
def S(x, y, data_range):
    ux, uy = _u7(x), _u7(y); cn = 49 / 48
    vx, vy, vxy = cn * (_u7(x*x) - ux*ux), cn * (_u7(y*y) - uy*uy), cn * (_u7(x*y) - ux*uy)
    C1, C2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return float((((2*ux*uy + C1) * (2*vxy + C2)) / ((ux**2 + uy**2 + C1) * (vx + vy + C2))).mean())`
    const ref = runPython<Record<string, number>>(
      `${ssimCode}
t = (arr('tre') + 1j * arr('tim')).reshape(64, 64)
p = (arr('pre') + 1j * arr('pim')).reshape(64, 64)
trim = lambda a: a[2:-2, 2:-2]
def plane(z):
    yy, xx = np.mgrid[0:z.shape[0], 0:z.shape[1]]
    A = np.stack([xx.ravel(), yy.ravel(), np.ones(z.size)], axis=1)
    coef, *_ = np.linalg.lstsq(A, z.ravel(), rcond=None)
    return z - (A @ coef).reshape(z.shape)
pt, pp = plane(trim(np.angle(t))), plane(trim(np.angle(p)))
at, ap = trim(np.abs(t)), trim(np.abs(p))
ap = ap * (at.mean() / ap.mean())
psnr = lambda a, b: 20 * np.log10(255 / np.sqrt(np.mean((a - b) ** 2)))
out({'mae_a': float(np.mean(np.abs(at - ap))), 'mae_p': float(np.mean(np.abs(pt - pp))),
     'psnr_a': float(psnr(at, ap)), 'psnr_p': float(psnr(pt, pp)),
     'ssim_a': float(S(at, ap, data_range=at.max() - at.min())),
     'ssim_p': float(S((pt + np.pi) / (2 * np.pi), (pp + np.pi) / (2 * np.pi), data_range=1.0)),
     'corr_p': float(np.corrcoef(pt.ravel(), pp.ravel())[0, 1])})`,
      {tre: gt.re, tim: gt.im, pre: pred.re, pim: pred.im},
    )
    expect(Math.abs(m.mae.amplitude - ref.mae_a)).toBeLessThan(1e-8)
    expect(Math.abs(m.mae.phase - ref.mae_p)).toBeLessThan(1e-8)
    expect(Math.abs(m.psnr.amplitude - ref.psnr_a)).toBeLessThan(1e-8)
    expect(Math.abs(m.psnr.phase - ref.psnr_p)).toBeLessThan(1e-8)
    expect(Math.abs(m.ssim.amplitude - ref.ssim_a)).toBeLessThan(1e-8)
    expect(Math.abs(m.ssim.phase - ref.ssim_p)).toBeLessThan(1e-8)
    expect(Math.abs(m.correlation.phase - ref.corr_p)).toBeLessThan(1e-8)
  })
  if (!hasNumpy) noteSkip('eval_reconstruction vs numpy', 'numpy')
})

describe('alignment of the stitched canvas with the ground truth', () => {
  const H = 160
  const W = 180
  const N = 32
  const M = 20
  const gt = texturedObject(H, W, 4)
  const rng = createRng(5)
  // a jittered 8-px grid (integer positions, so the patches are exact copies of the object) that covers the
  // whole scanned region; the mean position is fractional, so the canvas sits off the object's pixel grid
  const xi: number[] = []
  const yi: number[] = []
  for (let y = 40; y <= 120; y += 8) {
    for (let x = 40; x <= 140; x += 8) {
      xi.push(x + rng.nextInt(7) - 3)
      yi.push(y + rng.nextInt(7) - 3)
    }
  }
  const B = xi.length
  const re = new Float32Array(B * N * N)
  const im = new Float32Array(B * N * N)
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        const k = (i + yi[b] - N / 2) * W + (j + xi[b] - N / 2)
        re[b * N * N + i * N + j] = gt.re[k]
        im[b * N * N + i * N + j] = gt.im[k]
      }
    }
  }
  const offsets = new Float64Array(2 * B)
  for (let b = 0; b < B; b++) {
    offsets[2 * b] = xi[b]
    offsets[2 * b + 1] = yi[b]
  }
  const stitched = stitchPatches({re, im}, B, N, offsets, M)

  /** mean |recon − gt| over pixels covered by at least one whole patch */
  function coveredError(a: ReturnType<typeof alignByCoordinates>): {mean: number; max: number; n: number} {
    let sum = 0
    let max = 0
    let n = 0
    for (let r = 0; r < a.recon.H; r++) {
      for (let c = 0; c < a.recon.W; c++) {
        if (stitched.coverage[(r + a.rowStart) * stitched.W + c + a.colStart] < 1) continue
        const k = r * a.recon.W + c
        const e = Math.hypot(a.recon.re[k] - a.gt.re[k], a.recon.im[k] - a.gt.im[k])
        sum += e
        max = Math.max(max, e)
        n++
      }
    }
    return {mean: sum / n, max, n}
  }

  it('alignByCoordinates puts the ground truth under the stitched canvas to within the bilinear error', () => {
    expect(stitched.centerX % 1).not.toBe(0)
    const a = alignByCoordinates(stitched, gt, xi, yi, M)
    expect(a.gt.H).toBe(a.recon.H)
    expect(a.gt.W).toBe(a.recon.W)
    const e = coveredError(a)
    expect(e.n).toBeGreaterThan(0.8 * a.recon.H * a.recon.W)
    expect(e.mean).toBeLessThan(5e-3)
    // the same measure with the canvas misplaced by one pixel is far worse: the check can fail
    const off = coveredError(alignByCoordinates({...stitched, originX: stitched.originX + 1}, gt, xi, yi, M))
    expect(off.mean).toBeGreaterThan(5 * e.mean)
  })

  it('alignByCoordinates compares the scanned box [min − M/2, max + M/2) clipped to the object', () => {
    const canvas = {re: new Float64Array(100 * 100), im: new Float64Array(100 * 100), H: 100, W: 100, originX: -5.5, originY: 0}
    const small = texturedObject(80, 90, 9)
    const a = alignByCoordinates(canvas, small, [10, 40], [30, 50], 20)
    // rows: object [20, 60) -> canvas [20, 60); columns: object [0, 50) clipped at 0 -> canvas 6..55 (x = c − 5.5 ≥ 0)
    expect([a.rowStart, a.recon.H]).toEqual([20, 40])
    expect([a.colStart, a.recon.W]).toEqual([6, 50])
  })

  it('alignForEvaluation follows the reference crop: GT rows [int(min_y) − M/2, int(max_y) + M/2), then common centre crop', () => {
    const a = alignForEvaluation(stitched, gt, xi, yi, M)
    const minY = Math.min(...yi)
    const maxY = Math.max(...yi)
    const minX = Math.min(...xi)
    const maxX = Math.max(...xi)
    expect(a.gt.H).toBe(Math.min(maxY - minY + M, stitched.H))
    expect(a.gt.W).toBe(Math.min(maxX - minX + M, stitched.W))
    expect(a.recon.H).toBe(a.gt.H)
    expect(a.recon.W).toBe(a.gt.W)
  })
})
