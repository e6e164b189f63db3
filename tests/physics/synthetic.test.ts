import {describe, expect, it} from 'vitest'

import {amplitudeOf, phaseOf} from '../../src/physics/complex-image.js'
import {Fft2} from '../../src/physics/fft2.js'
import {randomScanPositions, scanBuffer} from '../../src/physics/scan.js'
import {OBJECT_PHASE_LIMIT, syntheticObject} from '../../src/physics/synthetic-object.js'
import {probeRmsRadius, syntheticProbe} from '../../src/physics/synthetic-probe.js'

describe('syntheticObject', () => {
  const obj = syntheticObject(128, 160, 7)

  it('is deterministic from its seed and differs between seeds', () => {
    expect(Buffer.from(syntheticObject(128, 160, 7).data.buffer).equals(Buffer.from(obj.data.buffer))).toBe(true)
    expect(Buffer.from(syntheticObject(128, 160, 8).data.buffer).equals(Buffer.from(obj.data.buffer))).toBe(false)
  })

  it('has amplitude in [0.5, 1] and phase within +-0.45 pi, each spanning its range', () => {
    const a = amplitudeOf(obj)
    const p = phaseOf(obj)
    expect(Math.min(...a)).toBeCloseTo(0.5, 9)
    expect(Math.max(...a)).toBeCloseTo(1, 9)
    expect(Math.min(...p)).toBeCloseTo(-OBJECT_PHASE_LIMIT, 9)
    expect(Math.max(...p)).toBeCloseTo(OBJECT_PHASE_LIMIT, 9)
  })

  it('has structure at many scales: phase power in every octave of spatial frequency', () => {
    const n = 128
    const sq = syntheticObject(n, n, 3)
    const p = phaseOf(sq)
    const buf = new Float64Array(2 * n * n)
    let mean = 0
    for (const v of p) mean += v / p.length
    for (let i = 0; i < p.length; i++) buf[2 * i] = p[i] - mean
    const power = new Float64Array(n * n)
    new Fft2(n).shiftedPower(buf, power, 1)
    const bands = [0, 0, 0, 0, 0] // radii [1,2), [2,4), [4,8), [8,16), [16,32)
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const f = Math.hypot(r - n / 2, c - n / 2)
        const b = Math.floor(Math.log2(f))
        if (f >= 1 && b < bands.length) bands[b] += power[r * n + c]
      }
    const total = bands.reduce((a, b) => a + b, 0)
    for (const e of bands) expect(e / total).toBeGreaterThan(0.01)
  })

  it('amplitude and phase are correlated but not identical (thicker absorbs more)', () => {
    const a = amplitudeOf(obj)
    const p = phaseOf(obj)
    const ma = a.reduce((x, y) => x + y) / a.length
    const mp = p.reduce((x, y) => x + y) / p.length
    let cov = 0
    let va = 0
    let vp = 0
    for (let i = 0; i < a.length; i++) {
      cov += (a[i] - ma) * (p[i] - mp)
      va += (a[i] - ma) ** 2
      vp += (p[i] - mp) ** 2
    }
    const corr = cov / Math.sqrt(va * vp)
    expect(corr).toBeLessThan(-0.3)
    expect(corr).toBeGreaterThan(-0.98)
  })
})

describe('syntheticProbe', () => {
  it.each([64, 128, 256])('N=%i: peak amplitude 1, centred, RMS radius 0.2 N, little energy at the window edge', (n) => {
    const probe = syntheticProbe(n)
    const a = amplitudeOf(probe)
    expect(Math.max(...a)).toBeCloseTo(1, 12)
    let w = 0
    let cx = 0
    let cy = 0
    let edge = 0
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const e = a[r * n + c] ** 2
        w += e
        cx += e * c
        cy += e * r
        if (r < n / 16 || c < n / 16 || r >= n - n / 16 || c >= n - n / 16) edge += e
      }
    expect(Math.abs(cx / w - n / 2)).toBeLessThan(0.5)
    expect(Math.abs(cy / w - n / 2)).toBeLessThan(0.5)
    expect(probeRmsRadius(probe) / n).toBeGreaterThan(0.15)
    expect(probeRmsRadius(probe) / n).toBeLessThan(0.25)
    expect(edge / w).toBeLessThan(0.05)
  })

  it('rejects sizes that are not powers of two', () => {
    expect(() => syntheticProbe(96)).toThrow(/power of two/)
  })
})

describe('randomScanPositions', () => {
  it('draws seeded positions inside [buffer, size - buffer] with buffer = min(N/2, min(H, W)/2 - 1)', () => {
    expect(scanBuffer(64, 224, 300)).toBe(32)
    expect(scanBuffer(128, 100, 300)).toBe(49)
    const a = randomScanPositions(500, 200, 256, 64, 42)
    for (let i = 0; i < 500; i++) {
      expect(a.xcoords[i]).toBeGreaterThanOrEqual(32)
      expect(a.xcoords[i]).toBeLessThan(256 - 32)
      expect(a.ycoords[i]).toBeGreaterThanOrEqual(32)
      expect(a.ycoords[i]).toBeLessThan(200 - 32)
    }
    const b = randomScanPositions(500, 200, 256, 64, 42)
    expect(Array.from(b.xcoords)).toEqual(Array.from(a.xcoords))
    expect(Array.from(randomScanPositions(500, 200, 256, 64, 43).xcoords)).not.toEqual(Array.from(a.xcoords))
  })
})
