import {describe, expect, it} from 'vitest'

import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {intensityScaleFor, prepareDiffraction, simulateDiffraction, simulatePatterns} from '../../src/physics/forward-model.js'
import {extractPatches} from '../../src/physics/patches.js'
import {randomScanPositions} from '../../src/physics/scan.js'
import {syntheticObject} from '../../src/physics/synthetic-object.js'
import {syntheticProbe} from '../../src/physics/synthetic-probe.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'

const N = 64
const COUNT = 96
const object = syntheticObject(192, 192, 3)
const probe = syntheticProbe(N)
const pos = randomScanPositions(COUNT, 192, 192, N, 42)
const patches = extractPatches(object, pos.xcoords, pos.ycoords, N, new Float64Array(2 * COUNT * N * N))

function illuminatedEnergy(b: number): number {
  let e = 0
  for (let i = 0; i < N * N; i++) {
    const yr = patches[2 * (b * N * N + i)]
    const yi = patches[2 * (b * N * N + i) + 1]
    e += (yr * yr + yi * yi) * (probe.data[2 * i] ** 2 + probe.data[2 * i + 1] ** 2)
  }
  return e
}

describe('simulateDiffraction', () => {
  it('noiseless: stored energy per pattern equals sum |Y P|^2 (Parseval, rel 1e-5 for float32 storage)', () => {
    const r = simulateDiffraction(patches, probe.data, COUNT, N, 1e4, 1, {poisson: false})
    for (const b of [0, 17, COUNT - 1]) {
      let ex = 0
      for (let i = 0; i < N * N; i++) ex += r.diffraction[b * N * N + i] ** 2
      expect(Math.abs(ex - illuminatedEnergy(b)) / illuminatedEnergy(b)).toBeLessThan(1e-5)
    }
  })

  it('intensity scale s = sqrt(nphotons / mean sum |Y P|^2)', () => {
    let mean = 0
    for (let b = 0; b < COUNT; b++) mean += illuminatedEnergy(b) / COUNT
    const s = intensityScaleFor(1e3, patches, probe.data, COUNT, N)
    expect(s).toBeCloseTo(Math.sqrt(1e3 / mean), 10)
  })

  it.each([1e3, 1e4, 1e5])('dose %d: mean photons per pattern equals the dose within 5 Poisson standard errors', (dose) => {
    const r = simulateDiffraction(patches, probe.data, COUNT, N, dose, 2)
    const mean = r.photonsPerPattern.reduce((a, b) => a + b, 0) / COUNT
    // the mean of COUNT independent pattern totals, each Poisson with mean lambda_b: variance dose / COUNT
    expect(Math.abs(mean - dose)).toBeLessThan(5 * Math.sqrt(dose / COUNT))
    // re-scaled, the stored amplitudes give back the integer counts: (X s)^2 = k
    const s = r.intensityScale
    let total = 0
    let maxFrac = 0
    for (let i = 0; i < N * N; i++) {
      const k = (r.diffraction[i] * s) ** 2
      total += k
      maxFrac = Math.max(maxFrac, Math.abs(k - Math.round(k)))
    }
    expect(maxFrac).toBeLessThan(1e-2 * Math.max(1, Math.sqrt(total)))
    expect(Math.abs(total - r.photonsPerPattern[0]) / r.photonsPerPattern[0]).toBeLessThan(1e-5)
  })

  it('noisy amplitudes converge to the noiseless ones as the dose grows (relative L2 error ~ 1/sqrt(dose))', () => {
    const first8 = patches.subarray(0, 2 * 8 * N * N)
    const clean = simulateDiffraction(first8, probe.data, 8, N, 1, 0, {poisson: false}).diffraction
    const errs = [1e3, 1e5, 1e7].map((dose) => {
      const x = simulateDiffraction(first8, probe.data, 8, N, dose, 3).diffraction
      let num = 0
      let den = 0
      for (let i = 0; i < x.length; i++) {
        num += (x[i] - clean[i]) ** 2
        den += clean[i] ** 2
      }
      return Math.sqrt(num / den)
    })
    expect(errs[1]).toBeLessThan(errs[0] / 3)
    expect(errs[2]).toBeLessThan(errs[1] / 3)
    expect(errs[2]).toBeLessThan(0.05)
  })

  it('is reproducible from its seed', () => {
    const first8 = patches.subarray(0, 2 * 8 * N * N)
    const a = simulateDiffraction(first8, probe.data, 8, N, 1e3, 9).diffraction
    const b = simulateDiffraction(first8, probe.data, 8, N, 1e3, 9).diffraction
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true)
  })

  it('each pattern has its own noise stream: simulating in slices gives the same bytes as one pass', () => {
    const first8 = patches.subarray(0, 2 * 8 * N * N)
    const whole = simulateDiffraction(first8, probe.data, 8, N, 1e3, 5)
    const job = prepareDiffraction(first8, probe.data, 8, N, 1e3, 5)
    simulatePatterns(job, 5, 8)
    simulatePatterns(job, 0, 5)
    expect(Buffer.from(job.diffraction.buffer).equals(Buffer.from(whole.diffraction.buffer))).toBe(true)
    expect(Array.from(job.photons)).toEqual(Array.from(whole.photonsPerPattern))
  })

  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
  const distPool = path.join(root, 'dist/src/physics/diffraction-pool.js')
  const hasDist = existsSync(distPool) && existsSync(path.join(root, 'dist/src/physics/diffraction-worker.js'))
  it.skipIf(!hasDist)('worker threads (compiled pool in dist/) give bit-identical results to one thread', async () => {
    const mod = (await import(pathToFileURL(distPool).href)) as typeof import('../../src/physics/diffraction-pool.js')
    const pool = mod.DiffractionPool.create(3)
    expect(pool).toBeDefined()
    try {
      const count = 21
      const sub = patches.subarray(0, 2 * count * N * N)
      const par = await pool!.simulate(sub, probe.data, count, N, 1e4, 77)
      const one = simulateDiffraction(sub, probe.data, count, N, 1e4, 77)
      expect(Buffer.from(par.diffraction.buffer).equals(Buffer.from(one.diffraction.buffer))).toBe(true)
      expect(par.intensityScale).toBe(one.intensityScale)
    } finally {
      await pool!.close()
    }
  })
  if (!hasDist) console.log('[skip] worker-thread equivalence: dist/ is not built (npx tsc -p tsconfig.json)')

  it('rejects a non-positive dose and a probe of the wrong size', () => {
    expect(() => simulateDiffraction(patches, probe.data, COUNT, N, 0, 1)).toThrow(/nphotons/)
    expect(() => simulateDiffraction(patches, probe.data.subarray(0, 10), COUNT, N, 1e3, 1)).toThrow(/probe/)
  })

  it.skipIf(!hasNumpy)('noiseless limit equals numpy: sqrt(fftshift(|fft2(s Y P)|^2 / N^2)) / s at N=64 (rel 1e-5)', () => {
    const count = 4
    const sub = patches.subarray(0, 2 * count * N * N)
    const r = simulateDiffraction(sub, probe.data, count, N, 1e4, 1, {poisson: false})
    const ref = runPython<{x: number[]; s: number}>(
      `n = ${N}; y = arr('y').reshape(${count}, n, n, 2); y = y[..., 0] + 1j * y[..., 1]
p = arr('p').reshape(n, n, 2); p = p[..., 0] + 1j * p[..., 1]
obj = y * p
s = np.sqrt(1e4 / np.mean(np.sum(np.abs(obj) ** 2, axis=(1, 2))))
A = np.sqrt(np.fft.fftshift(np.abs(np.fft.fft2(s * obj)) ** 2 / (n * n), axes=(1, 2)))
out({'x': (A / s).ravel().tolist(), 's': float(s)})`,
      {y: sub, p: probe.data},
    )
    expect(Math.abs(r.intensityScale - ref.s) / ref.s).toBeLessThan(1e-12)
    let maxRel = 0
    let peak = 0
    for (const v of ref.x) peak = Math.max(peak, v)
    for (let i = 0; i < ref.x.length; i++) maxRel = Math.max(maxRel, Math.abs(r.diffraction[i] - ref.x[i]) / peak)
    expect(maxRel).toBeLessThan(1e-5)
  })
  if (!hasNumpy) noteSkip('forward model vs numpy', 'numpy')
})
