import {describe, expect, it} from 'vitest'

import {complexImage} from '../../src/physics/complex-image.js'
import {extractPatches} from '../../src/physics/patches.js'
import {createRng} from '../../src/util/random.js'
import {hasScipy, noteSkip, runPython} from '../metrics/python.js'

const H = 40
const W = 48
const rng = createRng(21)
const object = complexImage(H, W)
for (let i = 0; i < object.data.length; i++) object.data[i] = rng.normal()

describe('extractPatches', () => {
  it('at integer positions is the N x N crop centred at (x = column, y = row)', () => {
    const n = 16
    const x = 20
    const y = 13
    const p = extractPatches(object, [x], [y], n, new Float64Array(2 * n * n))
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const src = 2 * ((y - n / 2 + r) * W + (x - n / 2 + c))
        expect(p[2 * (r * n + c)]).toBe(object.data[src])
        expect(p[2 * (r * n + c) + 1]).toBe(object.data[src + 1])
      }
    // the centre pixel of the patch is the object at (y, x)
    expect(p[2 * ((n / 2) * n + n / 2)]).toBe(object.data[2 * (y * W + x)])
  })

  it('is zero outside the object (the reference pads by N//2 zeros)', () => {
    const n = 16
    const p = extractPatches(object, [2], [3], n, new Float64Array(2 * n * n))
    // rows above row 0 of the object: r + 3 - 8 < 0 for r < 5
    for (let r = 0; r < 5; r++) for (let c = 0; c < n; c++) expect(p[2 * (r * n + c)]).toBe(0)
  })

  it('interpolates bilinearly between pixels (direct computation at a fractional position)', () => {
    const n = 8
    const x = 17.25
    const y = 11.6
    const p = extractPatches(object, [x], [y], n, new Float64Array(2 * n * n))
    const at = (r: number, c: number, part: number): number => object.data[2 * (r * W + c) + part]
    for (const [r, c] of [[0, 0], [3, 5], [7, 7]]) {
      const rr = r + y - n / 2
      const cc = c + x - n / 2
      const r0 = Math.floor(rr)
      const c0 = Math.floor(cc)
      const fy = rr - r0
      const fx = cc - c0
      for (const part of [0, 1]) {
        const v =
          (1 - fy) * (1 - fx) * at(r0, c0, part) + (1 - fy) * fx * at(r0, c0 + 1, part) + fy * (1 - fx) * at(r0 + 1, c0, part) + fy * fx * at(r0 + 1, c0 + 1, part)
        expect(p[2 * (r * n + c) + part]).toBeCloseTo(v, 12)
      }
    }
  })

  it.skipIf(!hasScipy)('matches scipy.ndimage.map_coordinates(order=1) on the zero-padded object (abs 1e-12)', () => {
    const n = 16
    const xs = [8.0, 23.37, 39.99, 30.5]
    const ys = [8.0, 20.71, 31.02, 12.25]
    const p = extractPatches(object, xs, ys, n, new Float64Array(2 * xs.length * n * n))
    const ref = runPython<number[]>(
      `from scipy import ndimage
o = arr('o').reshape(${H}, ${W}, 2); xs = arr('xs'); ys = arr('ys'); n = ${n}; pad = n // 2 + 2
res = []
for x, y in zip(xs, ys):
    rr, cc = np.meshgrid(np.arange(n) + y - n // 2 + pad, np.arange(n) + x - n // 2 + pad, indexing='ij')
    parts = [ndimage.map_coordinates(np.pad(o[..., k], pad), [rr, cc], order=1, mode='constant', cval=0.0) for k in (0, 1)]
    res.append(np.stack(parts, -1))
out(np.array(res).ravel().tolist())`,
      {o: object.data, xs, ys},
    )
    let m = 0
    for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(p[i] - ref[i]))
    expect(m).toBeLessThan(1e-12)
  })
  if (!hasScipy) noteSkip('patch extraction vs scipy.ndimage', 'scipy')
})
