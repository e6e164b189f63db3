import {beforeAll, describe, expect, it} from 'vitest'
import {
  centerMask,
  farFieldIntensity,
  fillInterpolationMatrix,
  normalizeProbe,
  patchGeometry,
  patchMatrices,
  probeMaskReal,
  reassembleAndExtract,
  shiftedDftBlock,
  translateImageReference,
} from '../../src/model/physics-layers.js'
import {createRng} from '../../src/util/random.js'
import {hasNumpy, py, useBackend} from './helpers.js'

let tf: typeof import('@tensorflow/tfjs-core')
beforeAll(async () => {
  tf = await useBackend('wasm')
})

const rand = (n: number, seed: number) => {
  const r = createRng(seed)
  return Float32Array.from({length: n}, () => 2 * r.next() - 1)
}

/** direct O(N^4) DFT in float64: |fftshift(fft2(ψ))|² / N², in [ky][kx] order */
function directIntensity(re: Float32Array, im: Float32Array, N: number): Float64Array {
  const out = new Float64Array(N * N)
  for (let ky = 0; ky < N; ky++)
    for (let kx = 0; kx < N; kx++) {
      const fy = (ky + N / 2) % N
      const fx = (kx + N / 2) % N
      let sr = 0
      let si = 0
      for (let y = 0; y < N; y++)
        for (let x = 0; x < N; x++) {
          const a = (-2 * Math.PI * (fy * y + fx * x)) / N
          const c = Math.cos(a)
          const s = Math.sin(a)
          sr += re[y * N + x] * c - im[y * N + x] * s
          si += re[y * N + x] * s + im[y * N + x] * c
        }
      out[ky * N + kx] = (sr * sr + si * si) / (N * N)
    }
  return out
}

describe('far-field intensity (DFT as matMul)', () => {
  it('equals a direct float64 DFT with fftshift, transposed to (kx, ky) (rel. error < 1e-4)', () => {
    const N = 16
    const M = 3
    const re = rand(M * N * N, 1)
    const im = rand(M * N * N, 2)
    const block = tf.tensor2d(shiftedDftBlock(N), [2 * N, 2 * N])
    const I = tf.tidy(() => farFieldIntensity(tf.tensor3d(re, [M, N, N]), tf.tensor3d(im, [M, N, N]), block))
    const got = I.dataSync()
    tf.dispose([I, block])
    for (let m = 0; m < M; m++) {
      const ref = directIntensity(re.subarray(m * N * N, (m + 1) * N * N), im.subarray(m * N * N, (m + 1) * N * N), N)
      const peak = Math.max(...ref)
      for (let ky = 0; ky < N; ky++)
        for (let kx = 0; kx < N; kx++) expect(Math.abs(got[m * N * N + kx * N + ky] - ref[ky * N + kx])).toBeLessThan(1e-4 * peak)
    }
  })

  it.skipIf(!hasNumpy)('matches numpy |fftshift(fft2)|²/N² at N=64 (rel. error < 1e-4)', () => {
    const N = 64
    const re = rand(N * N, 3)
    const im = rand(N * N, 4)
    const ref = py<number[]>(
      `import sys, json, numpy as np
d = json.load(sys.stdin); N = d['N']
z = np.array(d['re']).reshape(N, N) + 1j*np.array(d['im']).reshape(N, N)
print(json.dumps((np.abs(np.fft.fftshift(np.fft.fft2(z)))**2 / N**2).T.ravel().tolist()))`,
      {N, re: [...re], im: [...im]},
    )
    const block = tf.tensor2d(shiftedDftBlock(N), [2 * N, 2 * N])
    const I = tf.tidy(() => farFieldIntensity(tf.tensor3d(re, [1, N, N]), tf.tensor3d(im, [1, N, N]), block))
    const got = I.dataSync()
    tf.dispose([I, block])
    const peak = Math.max(...ref)
    let worst = 0
    for (let i = 0; i < N * N; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]) / peak)
    expect(worst).toBeLessThan(1e-4)
  })
})

describe('translation (separable bilinear, zero fill)', () => {
  it('moves content by +t: a point at (y=5, x=4) translated by (dx=2, dy=1) lands at (6, 6)', () => {
    const H = 12
    const img = new Float64Array(H * H)
    img[5 * H + 4] = 1
    const out = translateImageReference(img, H, H, 2, 1)
    expect(out[6 * H + 6]).toBe(1)
    expect(out.reduce((a, b) => a + b, 0)).toBe(1)
  })

  it.skipIf(!hasNumpy)('the JS reference equals scipy.ndimage.shift(order=1, mode=grid-constant) (abs error < 1e-9)', () => {
    const H = 10
    const img = Float64Array.from(rand(H * H, 5))
    for (const [dx, dy] of [
      [1.3, -2.6],
      [-0.25, 0.75],
      [4.5, 3.2],
    ]) {
      const ref = py<number[]>(
        `import sys, json, numpy as np
from scipy import ndimage
d = json.load(sys.stdin); H = d['H']
a = np.array(d['img']).reshape(H, H)
print(json.dumps(ndimage.shift(a, (d['dy'], d['dx']), order=1, mode='grid-constant', cval=0.0, prefilter=False).ravel().tolist()))`,
        {H, img: [...img], dx, dy},
      )
      const got = translateImageReference(img, H, H, dx, dy)
      for (let i = 0; i < H * H; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-9)
    }
  })

  it('Ty · img · Txᵀ equals the 2-D reference translation (abs error < 1e-6)', () => {
    const H = 9
    const img = rand(H * H, 6)
    const dx = 1.7
    const dy = -0.4
    const Ty = new Float32Array(H * H)
    const Tx = new Float32Array(H * H)
    fillInterpolationMatrix(Ty, 0, H, H, -dy)
    fillInterpolationMatrix(Tx, 0, H, H, -dx)
    const ref = translateImageReference(img, H, H, dx, dy)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < H; x++) {
        let s = 0
        for (let a = 0; a < H; a++) for (let b = 0; b < H; b++) s += Ty[y * H + a] * img[a * H + b] * Tx[x * H + b]
        expect(Math.abs(s - ref[y * H + x])).toBeLessThan(1e-6)
      }
  })
})

/** plain-JS object.big reassembly and extraction, built only from translateImageReference */
function referenceReassembly(re: Float32Array, coords: Float32Array, C: number, N: number, P: number) {
  const p0 = (P - N) / 2
  const pad = (img: ArrayLike<number>) => {
    const o = new Float64Array(P * P)
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) o[(y + p0) * P + x + p0] = img[y * N + x]
    return o
  }
  const mask = centerMask(N)
  const sum = new Float64Array(P * P)
  const norm = new Float64Array(P * P)
  for (let c = 0; c < C; c++) {
    const rx = coords[c]
    const ry = coords[C + c]
    const t = translateImageReference(pad(re.subarray(c * N * N, (c + 1) * N * N)), P, P, -rx, -ry)
    const m = translateImageReference(pad(mask), P, P, -rx, -ry)
    for (let i = 0; i < P * P; i++) {
      sum[i] += t[i]
      norm[i] += m[i]
    }
  }
  const big = sum.map((v, i) => v / (norm[i] + 0.001))
  const trim = (img: Float64Array) => {
    const o = new Float64Array(N * N)
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) o[y * N + x] = img[(y + p0) * P + x + p0]
    return o
  }
  const patches = []
  for (let c = 0; c < C; c++) patches.push(trim(translateImageReference(big, P, P, coords[c], coords[C + c])))
  return {trimmed: trim(big), patches}
}

describe('object.big reassembly and extraction (gridsize 2)', () => {
  it('match a plain-JS pad/translate/sum/normalise/trim reference (abs error < 1e-4)', () => {
    const N = 16
    const P = 30
    const C = 4
    const B = 2
    const re = rand(B * C * N * N, 7)
    const im = rand(B * C * N * N, 8)
    const coords = Float32Array.from(rand(B * 2 * C, 9), (v) => 4 * v)
    const g = patchGeometry(coords, B, C, N, P, true)
    const out = tf.tidy(() => {
      const r = reassembleAndExtract(
        tf.tensor3d(re, [B * C, N, N]),
        tf.tensor3d(im, [B * C, N, N]),
        {B, C, N, P},
        patchMatrices(g),
        true,
      )
      return [r.trimmedRe, r.trimmedIm, r.patchRe, r.patchIm]
    })
    const [tRe, tIm, pRe, pIm] = out.map((t) => t.dataSync())
    tf.dispose(out)
    for (let b = 0; b < B; b++) {
      const cb = coords.subarray(b * 2 * C, (b + 1) * 2 * C)
      for (const [src, trimmed, patches] of [
        [re, tRe, pRe],
        [im, tIm, pIm],
      ] as const) {
        const ref = referenceReassembly(src.subarray(b * C * N * N, (b + 1) * C * N * N), cb, C, N, P)
        // the trimmed object divides by (norm + 0.001): values outside the centre grow up to 1000x; compare relatively
        for (let i = 0; i < N * N; i++) expect(Math.abs(trimmed[b * N * N + i] - ref.trimmed[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.trimmed[i])))
        for (let c = 0; c < C; c++)
          for (let i = 0; i < N * N; i++) {
            const r = ref.patches[c][i]
            expect(Math.abs(patches[(b * C + c) * N * N + i] - r)).toBeLessThan(1e-4 * Math.max(1, Math.abs(r)))
          }
      }
    }
  })
})

describe('probe normalisation (§13.3)', () => {
  it('mask is dist < N//4 around the centre; norm = probe_scale · mean(|mask · probe|)', () => {
    const N = 16
    const m = probeMaskReal(N)
    // a disc of radius N/4 (area ≈ π·16 = 50.3 px), symmetric under flips
    expect(Math.abs(m.reduce((a, b) => a + b, 0) - Math.PI * 16)).toBeLessThan(5)
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) expect(m[y * N + x]).toBe(m[(N - 1 - y) * N + (N - 1 - x)])
    const probe = Float32Array.from(rand(2 * N * N, 10))
    const p = normalizeProbe(probe, N, 4)
    let s = 0
    for (let i = 0; i < N * N; i++) s += m[i] * Math.hypot(probe[2 * i], probe[2 * i + 1])
    expect(p.norm).toBeCloseTo((4 * s) / (N * N), 6)
    expect(p.re[5]).toBeCloseTo(probe[10] / p.norm, 6)
  })

  it.skipIf(!hasNumpy)('mask count and norm match the numpy formula', () => {
    const N = 64
    const probe = Float32Array.from(rand(2 * N * N, 11))
    const ref = py<{count: number; norm: number}>(
      `import sys, json, numpy as np
d = json.load(sys.stdin); N = d['N']
p = np.array(d['p']).reshape(N, N, 2); z = p[..., 0] + 1j*p[..., 1]
c = np.arange(N) - N//2 + .5
xx, yy = np.meshgrid(c, c); mask = (np.sqrt(xx**2 + yy**2) < N//4)
print(json.dumps({'count': int(mask.sum()), 'norm': float(4.0*np.mean(np.abs(mask*z)))}))`,
      {N, p: [...probe]},
    )
    expect(probeMaskReal(N).reduce((a, b) => a + b, 0)).toBe(ref.count)
    expect(normalizeProbe(probe, N, 4).norm).toBeCloseTo(ref.norm, 5)
  })
})
