import {mkdtempSync, readdirSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {percentile, readGreyPng, toGreyLevels, writeGreyPng, writeGreyPngRow} from '../../src/io/png.js'
import {hasNumpy, noteSkip, runPython} from '../metrics/python.js'
import {spawnSync} from 'node:child_process'

const hasPil = spawnSync('python3', ['-c', 'import PIL'], {stdio: 'ignore'}).status === 0

describe('grey PNG images', () => {
  const H = 37
  const W = 53
  const data = Float64Array.from({length: H * W}, (_, i) => Math.sin(i / 17) + (i % W) / W)

  it('writes a grey PNG that decodes back to the percentile-scaled levels', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-png-'))
    const file = path.join(dir, 'amp.png')
    const {low, high} = await writeGreyPng(file, {data, H, W})
    expect(readdirSync(dir)).toEqual(['amp.png'])
    const back = await readGreyPng(file)
    expect(back.H).toBe(H)
    expect(back.W).toBe(W)
    const want = toGreyLevels({data, H, W}).levels
    expect(Array.from(back.levels)).toEqual(Array.from(want))
    // 1st..99th percentile stretched over 0..255
    expect(Math.min(...back.levels)).toBe(0)
    expect(Math.max(...back.levels)).toBe(255)
    expect(low).toBeLessThan(high)
  })

  it.skipIf(!hasPil)('python PIL reads the file as an 8-bit grey image with the same pixels', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-png-'))
    const file = path.join(dir, 'phase.png')
    await writeGreyPng(file, {data, H, W}, {pLow: 10, pHigh: 90})
    const r = runPython<{mode: string; size: number[]; px: number[]}>(
      `from PIL import Image
im = Image.open(${JSON.stringify(file)})
out({'mode': im.mode, 'size': list(im.size), 'px': np.asarray(im).ravel().astype(int).tolist()})`,
    )
    expect(r.mode).toBe('L')
    expect(r.size).toEqual([W, H])
    expect(r.px).toEqual(Array.from(toGreyLevels({data, H, W}, {pLow: 10, pHigh: 90}).levels))
  })
  if (!hasPil) noteSkip('PNG read back with PIL', 'PIL')

  it.skipIf(!hasNumpy)('percentile matches numpy.percentile (linear) to 1e-12', () => {
    const ref = runPython<number[]>(`a = arr('a'); out([float(np.percentile(a, p)) for p in (1, 10, 50, 90, 99)])`, {a: data})
    const ours = [1, 10, 50, 90, 99].map((p) => percentile(data, p))
    for (let i = 0; i < 5; i++) expect(Math.abs(ours[i] - ref[i])).toBeLessThan(1e-12)
  })

  it('non-finite values become black and a constant image is mid grey; side-by-side rows have the summed width', async () => {
    const levels = toGreyLevels({data: [Number.NaN, 1, 1, 1], H: 2, W: 2}).levels
    expect(Array.from(levels)).toEqual([0, 128, 128, 128])
    // masked pixels are black and do not stretch the scale: 0..1 maps to 0..255 despite the masked -100
    const masked = toGreyLevels({data: [-100, 0, 0.5, 1], H: 2, W: 2, mask: [0, 1, 1, 1]}, {pLow: 0, pHigh: 100}).levels
    expect(Array.from(masked)).toEqual([0, 0, 128, 255])
    const dir = mkdtempSync(path.join(os.tmpdir(), 'study-png-'))
    const file = path.join(dir, 'row.png')
    await writeGreyPngRow(file, [{data, H, W}, {data: data.subarray(0, 20 * W), H: 20, W}], {}, 4)
    const back = await readGreyPng(file)
    expect(back.W).toBe(2 * W + 4)
    expect(back.H).toBe(H)
  })
})
