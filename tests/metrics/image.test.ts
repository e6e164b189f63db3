import {describe, expect, it} from 'vitest'

import {fitPlane, image, meanAbsoluteError, pearson, psnr, removePlane, ssim, trimBorder} from '../../src/metrics/image.js'
import {createRng} from '../../src/util/random.js'
import {hasNumpy, hasSkimage, noteSkip, runPython} from './python.js'

function randomImage(H: number, W: number, seed: number, smooth = true): Float64Array {
  const rng = createRng(seed)
  const out = new Float64Array(H * W)
  const fx = 0.05 + 0.2 * rng.next()
  const fy = 0.05 + 0.2 * rng.next()
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) out[r * W + c] = (smooth ? Math.sin(fx * c) * Math.cos(fy * r) : 0) + 0.3 * rng.normal()
  }
  return out
}

/**
 * skimage.metrics.structural_similarity semantics written out in numpy (7×7 uniform window via
 * scipy-free cumulative sums, K1 .01, K2 .03, sample covariance, 3-px crop of the SSIM map) — the fallback
 * reference where scikit-image is not installed.
 */
const NUMPY_SSIM = `
def uniform7(a):
    # mean over 7x7 windows, 'valid' region only; the 3-px crop removes every other pixel anyway
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), axis=0), axis=1)
    return (c[7:, 7:] - c[:-7, 7:] - c[7:, :-7] + c[:-7, :-7]) / 49.0
def ssim_np(x, y, R):
    x = x.astype(np.float64); y = y.astype(np.float64)
    ux, uy = uniform7(x), uniform7(y)
    uxx, uyy, uxy = uniform7(x * x), uniform7(y * y), uniform7(x * y)
    cn = 49 / 48
    vx, vy, vxy = cn * (uxx - ux * ux), cn * (uyy - uy * uy), cn * (uxy - ux * uy)
    C1, C2 = (0.01 * R) ** 2, (0.03 * R) ** 2
    S = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux ** 2 + uy ** 2 + C1) * (vx + vy + C2))
    return float(S.mean())
`

describe('plane fit (fit_and_remove_plane)', () => {
  it('recovers an exact plane a·x + b·y + c (1e-9)', () => {
    const H = 40
    const W = 57
    const data = new Float64Array(H * W)
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) data[r * W + c] = 0.031 * c - 0.047 * r + 1.7
    const p = fitPlane({data, H, W})
    expect(p.a).toBeCloseTo(0.031, 9)
    expect(p.b).toBeCloseTo(-0.047, 9)
    expect(p.c).toBeCloseTo(1.7, 9)
    const res = removePlane({data, H, W})
    expect(Math.max(...res.data.map(Math.abs))).toBeLessThan(1e-9)
  })

  it.skipIf(!hasNumpy)('agrees with numpy.linalg.lstsq on a noisy image (coefficients to 1e-9)', () => {
    const H = 64
    const W = 80
    const data = randomImage(H, W, 3)
    const p = fitPlane({data, H, W})
    const ref = runPython<number[]>(
      `z = arr('z').reshape(${H}, ${W})
yy, xx = np.mgrid[0:${H}, 0:${W}]
A = np.stack([xx.ravel(), yy.ravel(), np.ones(z.size)], axis=1)
coef, *_ = np.linalg.lstsq(A, z.ravel(), rcond=None)
out(coef.tolist())`,
      {z: data},
    )
    expect(Math.abs(p.a - ref[0])).toBeLessThan(1e-9)
    expect(Math.abs(p.b - ref[1])).toBeLessThan(1e-9)
    expect(Math.abs(p.c - ref[2])).toBeLessThan(1e-9)
  })
  if (!hasNumpy) noteSkip('plane fit vs numpy.linalg.lstsq', 'numpy')
})

describe('SSIM (skimage structural_similarity defaults)', () => {
  it('is 1 for identical images and drops with noise', () => {
    const H = 50
    const W = 60
    const a = randomImage(H, W, 1)
    expect(ssim({data: a, H, W}, {data: a, H, W}, 2)).toBeCloseTo(1, 12)
    const noisy = a.map((v, i) => v + 0.5 * Math.sin(i * 12.9898))
    expect(ssim({data: a, H, W}, {data: noisy, H, W}, 2)).toBeLessThan(0.9)
  })

  it('rejects images smaller than the window', () => {
    const d = new Float64Array(36)
    expect(() => ssim({data: d, H: 6, W: 6}, {data: d, H: 6, W: 6}, 1)).toThrow(/at least 7×7/)
  })

  const cases: Array<[number, number, number]> = [
    [48, 64, 1],
    [33, 29, 2],
    [120, 90, 3],
  ]
  it.skipIf(!hasNumpy)('matches the reference on random image pairs (1e-10)', () => {
    if (!hasSkimage) console.log('[note] scikit-image not installed: SSIM checked against the numpy re-implementation in this test')
    for (const [H, W, seed] of cases) {
      const a = randomImage(H, W, seed)
      const b = a.map((v, i) => 0.8 * v + 0.2 + 0.4 * Math.sin(i * 0.37 + seed))
      let R = -Infinity
      let lo = Infinity
      for (const v of a) {
        R = Math.max(R, v)
        lo = Math.min(lo, v)
      }
      const range = R - lo
      const ours = ssim({data: a, H, W}, {data: b, H, W}, range)
      const script = hasSkimage
        ? `from skimage.metrics import structural_similarity as S
out(float(S(arr('a').reshape(${H}, ${W}), arr('b').reshape(${H}, ${W}), data_range=${range})))`
        : `${NUMPY_SSIM}
out(ssim_np(arr('a').reshape(${H}, ${W}), arr('b').reshape(${H}, ${W}), ${range}))`
      const ref = runPython<number>(script, {a, b})
      expect(Math.abs(ours - ref)).toBeLessThan(1e-10)
    }
  })

  it.skipIf(!hasSkimage)('the numpy fallback reference itself agrees with scikit-image (1e-10)', () => {
    const H = 40
    const W = 52
    const a = randomImage(H, W, 9)
    const b = randomImage(H, W, 10)
    const r = runPython<number[]>(
      `${NUMPY_SSIM}
from skimage.metrics import structural_similarity as S
x, y = arr('a').reshape(${H}, ${W}), arr('b').reshape(${H}, ${W})
out([ssim_np(x, y, 3.0), float(S(x, y, data_range=3.0))])`,
      {a, b},
    )
    expect(Math.abs(r[0] - r[1])).toBeLessThan(1e-10)
  })
  if (!hasNumpy) noteSkip('SSIM vs reference', 'numpy')
})

describe('MAE, PSNR (peak 255), Pearson, trim', () => {
  it.skipIf(!hasNumpy)('agree with numpy (1e-10)', () => {
    const H = 30
    const W = 31
    const a = randomImage(H, W, 4)
    const b = randomImage(H, W, 5)
    const ref = runPython<number[]>(
      `a, b = arr('a'), arr('b')
mse = np.mean((a - b) ** 2)
out([float(np.mean(np.abs(a - b))), float(20 * np.log10(255 / np.sqrt(mse))), float(np.corrcoef(a, b)[0, 1])])`,
      {a, b},
    )
    const A = image(a, H, W)
    const Bi = image(b, H, W)
    expect(Math.abs(meanAbsoluteError(A, Bi) - ref[0])).toBeLessThan(1e-10)
    expect(Math.abs(psnr(A, Bi) - ref[1])).toBeLessThan(1e-10)
    expect(Math.abs(pearson(A, Bi) - ref[2])).toBeLessThan(1e-10)
  })

  it('trimBorder cuts t pixels from every side', () => {
    const t = trimBorder(image(Array.from({length: 30}, (_, i) => i), 5, 6), 2)
    expect(t.H).toBe(1)
    expect(t.W).toBe(2)
    expect(Array.from(t.data)).toEqual([14, 15])
  })
})
