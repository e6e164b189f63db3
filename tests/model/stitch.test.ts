import {describe, expect, it} from 'vitest'

import {stitchPatches} from '../../src/model/stitch.js'
import {createRng} from '../../src/util/random.js'
import {hasScipy, noteSkip, runPython} from '../metrics/python.js'

/** a smooth complex object: amplitude and phase made of low-frequency sinusoids */
function smoothObject(H: number, W: number): {re: (y: number, x: number) => number; im: (y: number, x: number) => number} {
  const amp = (y: number, x: number): number => 0.75 + 0.2 * Math.sin(x / 9) * Math.cos(y / 13)
  const ph = (y: number, x: number): number => 0.8 * Math.sin((x + 2 * y) / 17) + 0.3 * Math.cos(x / 23)
  void H
  void W
  return {re: (y, x) => amp(y, x) * Math.cos(ph(y, x)), im: (y, x) => amp(y, x) * Math.sin(ph(y, x))}
}

/** N×N patches centred at (x, y): patch[i, j] = obj(i + y − N/2, j + x − N/2), sampled from the analytic object */
function patchesAt(
  obj: ReturnType<typeof smoothObject>,
  xs: number[],
  ys: number[],
  N: number,
): {re: Float32Array; im: Float32Array; offsets: Float64Array} {
  const B = xs.length
  const re = new Float32Array(B * N * N)
  const im = new Float32Array(B * N * N)
  const offsets = new Float64Array(2 * B)
  for (let b = 0; b < B; b++) {
    offsets[2 * b] = xs[b]
    offsets[2 * b + 1] = ys[b]
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        re[b * N * N + i * N + j] = obj.re(i + ys[b] - N / 2, j + xs[b] - N / 2)
        im[b * N * N + i * N + j] = obj.im(i + ys[b] - N / 2, j + xs[b] - N / 2)
      }
    }
  }
  return {re, im, offsets}
}

describe('stitchPatches (spec §13.8)', () => {
  const N = 32
  const M = 20

  it('integer positions with an integer centre reproduce the object exactly on the covered region (1e-6)', () => {
    const obj = smoothObject(200, 200)
    const xs: number[] = []
    const ys: number[] = []
    for (let y = 60; y <= 100; y += 10) for (let x = 50; x <= 110; x += 10) {
      xs.push(x)
      ys.push(y)
    }
    const {re, im, offsets} = patchesAt(obj, xs, ys, N)
    const s = stitchPatches({re, im}, xs.length, N, offsets, M)
    // mean (80, 80) is integral; max |adjusted| = 30 -> pad 30 (even); canvas 20 + 60
    expect(s.centerX).toBe(80)
    expect(s.centerY).toBe(80)
    expect(s.pad).toBe(30)
    expect(s.H).toBe(80)
    expect(s.originX).toBe(80 - 30 - 10)
    let checked = 0
    for (let r = 0; r < s.H; r++) {
      for (let c = 0; c < s.W; c++) {
        const k = r * s.W + c
        if (s.coverage[k] < 0.5) continue
        expect(Math.abs(s.re[k] - obj.re(s.originY + r, s.originX + c))).toBeLessThan(1e-6)
        expect(Math.abs(s.im[k] - obj.im(s.originY + r, s.originX + c))).toBeLessThan(1e-6)
        checked++
      }
    }
    // positions 10 px apart with M = 20 cover the whole scanned region [40,120)x[50,110) without holes
    expect(checked).toBe(80 * 60)
  })

  // Interior pixels see only second-order bilinear error (|f''|/8 ≈ 2e-3 here); pixels near a patch's crop edge are
  // renormalised partial taps, a first-order error bounded by |∇f|·1 px ≈ 0.12 for this object.
  it('random sub-pixel positions: the object is reproduced within the bilinear error (RMS < 3e-3, max < 0.05)', () => {
    const obj = smoothObject(300, 300)
    const rng = createRng(7)
    const xs = Array.from({length: 400}, () => 60 + 120 * rng.next())
    const ys = Array.from({length: 400}, () => 60 + 120 * rng.next())
    const {re, im, offsets} = patchesAt(obj, xs, ys, N)
    const s = stitchPatches({re, im}, xs.length, N, offsets, M)
    expect(s.pad % 2).toBe(0)
    let maxErr = 0
    let sq = 0
    let n = 0
    for (let r = 0; r < s.H; r++) {
      for (let c = 0; c < s.W; c++) {
        const k = r * s.W + c
        if (s.coverage[k] < 1) continue
        const y = s.originY + r
        const x = s.originX + c
        const e = Math.hypot(s.re[k] - obj.re(y, x), s.im[k] - obj.im(y, x))
        maxErr = Math.max(maxErr, e)
        sq += e * e
        n++
      }
    }
    expect(n).toBeGreaterThan(100 * 100)
    console.log(`stitch of exact patches: RMS ${Math.sqrt(sq / n).toExponential(2)}, max ${maxErr.toExponential(2)} over ${n} px`)
    expect(Math.sqrt(sq / n)).toBeLessThan(3e-3)
    expect(maxErr).toBeLessThan(0.05)
  })

  it('pad = ceil(max|adjusted|) rounded up to even; coverage is zero outside the patches', () => {
    const B = 2
    const re = new Float32Array(B * N * N).fill(1)
    const im = new Float32Array(B * N * N)
    const s = stitchPatches({re, im}, B, N, Float64Array.from([10, 10, 15.2, 10]), M)
    // adjusted x = ±2.6 -> ceil 3 -> 4
    expect(s.pad).toBe(4)
    expect(s.H).toBe(28)
    expect(s.coverage[0]).toBe(0)
    expect(s.re[0]).toBe(0)
  })

  it('rejects bad shapes and crop sizes', () => {
    const re = new Float32Array(N * N)
    expect(() => stitchPatches({re, im: re}, 1, N, Float64Array.from([0, 0]), 21)).toThrow(/even integer/)
    expect(() => stitchPatches({re, im: re}, 2, N, Float64Array.from([0, 0, 0, 0]), 20)).toThrow(/B·N·N/)
  })

  it.skipIf(!hasScipy)('matches a numpy/scipy shift_and_sum (scipy.ndimage.shift order=1, zero fill) to 1e-5', () => {
    const rng = createRng(21)
    const B = 60
    const re = new Float32Array(B * N * N).map(() => rng.normal())
    const im = new Float32Array(B * N * N).map(() => rng.normal())
    const offsets = new Float64Array(2 * B).map(() => 100 + 25 * rng.next())
    const s = stitchPatches({re, im}, B, N, offsets, M)
    const ref = runPython<{re: number[]; im: number[]; H: number}>(
      `from scipy.ndimage import shift
B, N, M = ${B}, ${N}, ${M}
p = arr('re').reshape(B, N, N) + 1j * arr('im').reshape(B, N, N)
off = arr('off').reshape(B, 2)
crop = p[:, N//2 - M//2 : N//2 + M//2, N//2 - M//2 : N//2 + M//2]
adj = off - off.mean(axis=0)
pad = int(np.ceil(np.abs(adj).max()))
pad += pad % 2
def shift_and_sum(imgs):
    acc = np.zeros((M + 2*pad, M + 2*pad))
    for b in range(B):
        padded = np.pad(imgs[b], pad)
        acc += shift(padded, (adj[b, 1], adj[b, 0]), order=1, mode='constant', cval=0.0)
    return acc
ones = shift_and_sum(np.ones((B, M, M)))
res_re = shift_and_sum(crop.real) / (1e-9 + ones)
res_im = shift_and_sum(crop.imag) / (1e-9 + ones)
out({'re': res_re.ravel().tolist(), 'im': res_im.ravel().tolist(), 'H': res_re.shape[0]})`,
      {re, im, off: offsets},
    )
    expect(s.H).toBe(ref.H)
    let maxErr = 0
    for (let k = 0; k < ref.re.length; k++) {
      maxErr = Math.max(maxErr, Math.abs(s.re[k] - ref.re[k]), Math.abs(s.im[k] - ref.im[k]))
    }
    expect(maxErr).toBeLessThan(1e-5)
  })
  if (!hasScipy) noteSkip('stitch parity with scipy.ndimage.shift', 'scipy')
})
