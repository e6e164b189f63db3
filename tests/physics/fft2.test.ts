import {describe, expect, it} from 'vitest'

import {Fft2, fftshift2} from '../../src/physics/fft2.js'
import {createRng} from '../../src/util/random.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'

function randomComplex(n: number, seed: number): Float64Array {
  const rng = createRng(seed)
  const a = new Float64Array(2 * n * n)
  for (let i = 0; i < a.length; i++) a[i] = rng.normal()
  return a
}

/** direct O(N^4) DFT, the textbook definition */
function directDft(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(2 * n * n)
  for (let k = 0; k < n; k++)
    for (let l = 0; l < n; l++) {
      let re = 0
      let im = 0
      for (let r = 0; r < n; r++)
        for (let c = 0; c < n; c++) {
          const ang = (-2 * Math.PI * (k * r + l * c)) / n
          const xr = x[2 * (r * n + c)]
          const xi = x[2 * (r * n + c) + 1]
          re += xr * Math.cos(ang) - xi * Math.sin(ang)
          im += xr * Math.sin(ang) + xi * Math.cos(ang)
        }
      out[2 * (k * n + l)] = re
      out[2 * (k * n + l) + 1] = im
    }
  return out
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('Fft2', () => {
  it.each([4, 8, 16])('matches the direct DFT definition at N=%i (abs err < 1e-9)', (n) => {
    const x = randomComplex(n, n)
    const out = new Float64Array(2 * n * n)
    new Fft2(n).forward(x, out)
    expect(maxAbsDiff(out, directDft(x, n))).toBeLessThan(1e-9)
  })

  it('conserves energy (Parseval): sum |F|^2 / N^2 = sum |x|^2 to 1e-12 relative', () => {
    for (const n of [64, 128]) {
      const x = randomComplex(n, 3)
      const power = new Float64Array(n * n)
      new Fft2(n).shiftedPower(x, power, 1 / (n * n))
      let ex = 0
      for (const v of x) ex += v * v
      const ef = power.reduce((a, b) => a + b, 0)
      expect(Math.abs(ef - ex) / ex).toBeLessThan(1e-12)
    }
  })

  it('shiftedPower equals fftshift(|forward|^2) and puts the zero frequency at [N/2, N/2]', () => {
    const n = 32
    const x = randomComplex(n, 5)
    const fft = new Fft2(n)
    const full = new Float64Array(2 * n * n)
    fft.forward(x, full)
    const mag = new Float64Array(n * n)
    for (let i = 0; i < n * n; i++) mag[i] = full[2 * i] ** 2 + full[2 * i + 1] ** 2
    const shifted = new Float64Array(n * n)
    fftshift2(mag, n, shifted)
    const power = new Float64Array(n * n)
    fft.shiftedPower(x, power, 1)
    expect(maxAbsDiff(power, shifted)).toBeLessThan(1e-9)
    // a constant image has all its energy at DC, which lands at the centre
    const ones = new Float64Array(2 * n * n)
    for (let i = 0; i < n * n; i++) ones[2 * i] = 1
    fft.shiftedPower(ones, power, 1)
    expect(power[(n / 2) * n + n / 2]).toBeCloseTo(n * n * n * n, 6)
    expect(power.reduce((a, b) => a + b, 0)).toBeCloseTo(n ** 4, 3)
  })

  it('rejects sizes that are not powers of two', () => {
    expect(() => new Fft2(48)).toThrow(/power of two/)
  })

  it.skipIf(!hasNumpy)('matches numpy.fft.fft2 at N=64 (abs err < 1e-9 for unit-variance input)', () => {
    const n = 64
    const x = randomComplex(n, 11)
    const out = new Float64Array(2 * n * n)
    new Fft2(n).forward(x, out)
    const ref = runPython<number[]>(
      `x = arr('x').reshape(${n}, ${n}, 2); z = x[..., 0] + 1j * x[..., 1]
F = np.fft.fft2(z); out(np.stack([F.real, F.imag], -1).ravel().tolist())`,
      {x},
    )
    expect(maxAbsDiff(out, ref)).toBeLessThan(1e-9)
  })
  if (!hasNumpy) noteSkip('Fft2 vs numpy.fft.fft2', 'numpy')
})
