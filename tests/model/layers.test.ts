import {beforeAll, describe, expect, it} from 'vitest'
import {conv2d, conv2dFilterGrad, flipKernel, maxPool2, upsample2, usesCustomConvGradient} from '../../src/model/layers.js'
import {farFieldIntensity, illuminate, patchGeometry, patchMatrices, reassembleAndExtract, shiftedDftBlock} from '../../src/model/physics-layers.js'
import {createRng} from '../../src/util/random.js'
import {useBackend} from './helpers.js'

let tf: typeof import('@tensorflow/tfjs-core')
beforeAll(async () => {
  tf = await useBackend('wasm')
})

const rand = (n: number, seed: number) => {
  const r = createRng(seed)
  return Float64Array.from({length: n}, () => 2 * r.next() - 1)
}

/** direct 'same' 3x3 convolution in float64: x (B,H,W,ci), w (3,3,ci,co), b (co) */
function convRef(x: Float64Array, w: Float64Array, b: Float64Array, B: number, H: number, W: number, ci: number, co: number, relu: boolean) {
  const y = new Float64Array(B * H * W * co)
  for (let n = 0; n < B; n++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let o = 0; o < co; o++) {
          let s = b[o]
          for (let di = 0; di < 3; di++)
            for (let dj = 0; dj < 3; dj++) {
              const ii = i + di - 1
              const jj = j + dj - 1
              if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue
              for (let c = 0; c < ci; c++) s += x[((n * H + ii) * W + jj) * ci + c] * w[((di * 3 + dj) * ci + c) * co + o]
            }
          y[((n * H + i) * W + j) * co + o] = relu ? Math.max(0, s) : s
        }
  return y
}

describe('conv2d weight gradient without Conv2DBackpropFilter', () => {
  it('wasm lacks the kernel, so the custom gradient is in use', () => {
    expect(tf.getBackend()).toBe('wasm')
    expect(usesCustomConvGradient()).toBe(true)
  })

  for (const ci of [2, 6]) {
    it(`conv2dFilterGrad equals Σ x·dy computed directly (ci=${ci}, ${ci <= 4 ? 'im2col' : 'transposed conv'} path; rel. error < 1e-4)`, () => {
      const B = 2
      const H = 5
      const W = 7
      const co = 3
      const x = rand(B * H * W * ci, 1)
      const dy = rand(B * H * W * co, 2)
      const ref = new Float64Array(9 * ci * co)
      for (let n = 0; n < B; n++)
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++)
            for (let di = 0; di < 3; di++)
              for (let dj = 0; dj < 3; dj++) {
                const ii = i + di - 1
                const jj = j + dj - 1
                if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue
                for (let c = 0; c < ci; c++)
                  for (let o = 0; o < co; o++) ref[((di * 3 + dj) * ci + c) * co + o] += x[((n * H + ii) * W + jj) * ci + c] * dy[((n * H + i) * W + j) * co + o]
              }
      const g = tf.tidy(() => conv2dFilterGrad(tf.tensor4d(Float32Array.from(x), [B, H, W, ci]), tf.tensor4d(Float32Array.from(dy), [B, H, W, co]), 3, 3))
      const got = g.dataSync()
      g.dispose()
      const scale = Math.max(...ref.map(Math.abs))
      for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-4 * scale)
    })
  }

  for (const relu of [false, true]) {
    it(`gradients of L = Σ R·conv(x, w, b${relu ? ', relu' : ''}) in x, w, b match float64 finite differences (rel. error < 2e-3)`, () => {
      const B = 2
      const H = 4
      const W = 5
      const ci = 3
      const co = 2
      const x = rand(B * H * W * ci, 3)
      const w = rand(9 * ci * co, 4)
      const b = rand(co, 5)
      const R = rand(B * H * W * co, 6)
      const L = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => convRef(xx, ww, bb, B, H, W, ci, co, relu).reduce((a, v, i) => a + v * R[i], 0)
      const g = tf.tidy(() => {
        const xt = tf.tensor4d(Float32Array.from(x), [B, H, W, ci])
        const wt = tf.tensor4d(Float32Array.from(w), [3, 3, ci, co])
        const bt = tf.tensor1d(Float32Array.from(b))
        const Rt = tf.tensor4d(Float32Array.from(R), [B, H, W, co])
        return tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(conv2d(a as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor1D, relu ? 'relu' : 'linear'), Rt)))([xt, wt, bt])
      })
      const [gx, gw, gb] = g.map((t) => t.dataSync())
      tf.dispose(g)
      const h = 1e-6
      const check = (arr: Float64Array, got: ArrayLike<number>, which: number) => {
        const scale = Math.max(1, ...Array.from(got, Math.abs))
        for (let i = 0; i < arr.length; i++) {
          const up = arr.slice()
          const dn = arr.slice()
          up[i] += h
          dn[i] -= h
          const args = (v: Float64Array) => (which === 0 ? L(v, w, b) : which === 1 ? L(x, v, b) : L(x, w, v))
          const fd = (args(up) - args(dn)) / (2 * h)
          expect(Math.abs(got[i] - fd)).toBeLessThan(2e-3 * scale)
        }
      }
      check(x, gx, 0)
      check(w, gw, 1)
      check(b, gb, 2)
    })
  }
})

describe('flipKernel (the kernel of the input gradient)', () => {
  it('out[i, j, o, c] = w[kh-1-i, kw-1-j, c, o] for a non-square 3x3 and a 5x5 kernel', () => {
    for (const [kh, kw, ci, co] of [
      [3, 3, 5, 7],
      [5, 5, 2, 3],
    ]) {
      const w = Float32Array.from(rand(kh * kw * ci * co, 11))
      const out = flipKernel(tf.tensor4d(w, [kh, kw, ci, co]))
      expect(out.shape).toEqual([kh, kw, co, ci])
      const got = out.dataSync()
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++)
          for (let o = 0; o < co; o++)
            for (let c = 0; c < ci; c++) {
              expect(got[((i * kw + j) * co + o) * ci + c]).toBe(w[(((kh - 1 - i) * kw + (kw - 1 - j)) * ci + c) * co + o])
            }
      out.dispose()
    }
  })
})

describe('gradient of the physics chain (reassembly → illumination → far field)', () => {
  it('the directional derivative equals a central difference (exact for this quadratic map; rel. error < 1e-3)', () => {
    const N = 8
    const P = 14
    const B = 1
    const C = 4
    const coords = Float32Array.from(rand(B * 2 * C, 7), (v) => 2.5 * v)
    const g = patchGeometry(coords, B, C, N, P, true)
    const re0 = Float32Array.from(rand(B * C * N * N, 8))
    const im0 = Float32Array.from(rand(B * C * N * N, 9))
    const dre = Float32Array.from(rand(B * C * N * N, 10))
    const dim = Float32Array.from(rand(B * C * N * N, 11))
    const probe = [Float32Array.from(rand(N * N, 12)), Float32Array.from(rand(N * N, 13))]
    const R = Float32Array.from(rand(B * C * N * N, 14))
    const f = (re: tf.Tensor, im: tf.Tensor) => {
      const mats = patchMatrices(g)
      const r = reassembleAndExtract(re as tf.Tensor3D, im as tf.Tensor3D, {B, C, N, P}, mats, true)
      const [pr, pi] = illuminate(r.patchRe, r.patchIm, tf.tensor2d(probe[0], [N, N]), tf.tensor2d(probe[1], [N, N]))
      const I = farFieldIntensity(pr, pi, tf.tensor2d(shiftedDftBlock(N), [2 * N, 2 * N]))
      return tf.sum(tf.mul(I, tf.tensor3d(R, [B * C, N, N])))
    }
    const grads = tf.tidy(() => tf.grads(f)([tf.tensor3d(re0, [B * C, N, N]), tf.tensor3d(im0, [B * C, N, N])]))
    const [gre, gim] = grads.map((t) => t.dataSync())
    tf.dispose(grads)
    let analytic = 0
    for (let i = 0; i < re0.length; i++) analytic += gre[i] * dre[i] + gim[i] * dim[i]
    const h = 0.05
    const at = (s: number) =>
      tf.tidy(() => f(tf.tensor3d(re0.map((v, i) => v + s * dre[i]), [B * C, N, N]), tf.tensor3d(im0.map((v, i) => v + s * dim[i]), [B * C, N, N])).dataSync()[0])
    const fd = (at(h) - at(-h)) / (2 * h)
    expect(Math.abs(analytic - fd)).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)))
  })
})

describe('pooling and upsampling gradients', () => {
  const [B, H, W, C] = [2, 8, 6, 3]
  const xd = Float32Array.from(rand(B * H * W * C, 20))

  it('upsample2 equals resizeNearestNeighbor; its gradient is the 2x2 block sum (abs error < 1e-5)', () => {
    const Rd = Float32Array.from(rand(B * 2 * H * 2 * W * C, 21))
    const [y, ref, g] = tf.tidy(() => {
      const x = tf.tensor4d(xd, [B, H, W, C])
      const R = tf.tensor4d(Rd, [B, 2 * H, 2 * W, C])
      return [upsample2(x), tf.image.resizeNearestNeighbor(x, [2 * H, 2 * W]), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(upsample2(a as tf.Tensor4D), R)))(x)]
    })
    expect(Array.from(y.dataSync())).toEqual(Array.from(ref.dataSync()))
    const gd = g.dataSync()
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++)
          for (let c = 0; c < C; c++) {
            let sum = 0
            for (let di = 0; di < 2; di++) for (let dj = 0; dj < 2; dj++) sum += Rd[((b * 2 * H + 2 * i + di) * 2 * W + 2 * j + dj) * C + c]
            expect(Math.abs(gd[((b * H + i) * W + j) * C + c] - sum)).toBeLessThan(1e-5)
          }
    tf.dispose([y, ref, g])
  })

  it('maxPool2 equals maxPool; its gradient goes to each window maximum (plain-JS reference; wasm MaxPoolGrad gets this shape wrong)', () => {
    const Rd = Float32Array.from(rand(B * (H / 2) * (W / 2) * C, 22))
    const [y, ref, g] = tf.tidy(() => {
      const x = tf.tensor4d(xd, [B, H, W, C])
      const R = tf.tensor4d(Rd, [B, H / 2, W / 2, C])
      return [maxPool2(x), tf.maxPool(x, 2, 2, 'same'), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool2(a as tf.Tensor4D), R)))(x)]
    })
    expect(Array.from(y.dataSync())).toEqual(Array.from(ref.dataSync()))
    const want = new Float32Array(xd.length)
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H / 2; i++)
        for (let j = 0; j < W / 2; j++)
          for (let c = 0; c < C; c++) {
            let best = -Infinity
            let at = -1
            for (let di = 0; di < 2; di++)
              for (let dj = 0; dj < 2; dj++) {
                const k = ((b * H + 2 * i + di) * W + 2 * j + dj) * C + c
                if (xd[k] > best) {
                  best = xd[k]
                  at = k
                }
              }
            want[at] += Rd[((b * (H / 2) + i) * (W / 2) + j) * C + c]
          }
    const gd = g.dataSync()
    for (let i = 0; i < want.length; i++) expect(Math.abs(gd[i] - want[i])).toBeLessThan(1e-6)
    tf.dispose([y, ref, g])
  })
})
