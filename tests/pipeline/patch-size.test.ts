import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {inferPatchSize, patchSizeFromHeaders} from '../../src/pipeline/patch-size.js'
import {hasNumpy, numpyNpzMany, studyArrays, tempDir, writeFixtureNpz} from './fixtures.js'

describe('inferPatchSize (spec §6.3 _infer_patch_size)', () => {
  const dir = tempDir()

  it.skipIf(!hasNumpy)('reads N from numpy-written files, compressed and stored, by the reference order', async () => {
    for (const compressed of [true, false]) {
      const f = (n: string) => path.join(dir, `${n}-${compressed}.npz`)
      numpyNpzMany(
        {
          [f('diff')]: {diffraction: 'np.random.rand(10,64,48).astype(np.float32)', probeGuess: 'np.zeros((128,128),np.complex128)'},
          [f('diff3d')]: {diff3d: 'np.zeros((5,32,32),np.float32)', probeGuess: 'np.zeros((128,128),np.complex64)'},
          [f('probe')]: {probeGuess: 'np.zeros((128,128),np.complex128)', xcoords: 'np.arange(3.0)'},
          [f('flat')]: {diffraction: 'np.zeros((64,64),np.float32)', probeGuess: 'np.zeros((256,256),np.complex64)'},
          [f('none')]: {xcoords: 'np.arange(3.0)'},
        },
        compressed,
      )
      expect(await inferPatchSize(f('diff'))).toBe(64) // shape[1], not shape[2]
      expect(await inferPatchSize(f('diff3d'))).toBe(32)
      expect(await inferPatchSize(f('probe'))).toBe(128)
      expect(await inferPatchSize(f('flat'))).toBe(256) // 2-D diffraction is not used
      expect(await inferPatchSize(f('none'))).toBe(64)
    }
  })

  it('works on NPZs written without numpy (stored and deflated)', async () => {
    for (const deflate of [false, true]) {
      const f = path.join(dir, `js-${deflate}.npz`)
      writeFixtureNpz(f, studyArrays(4, 128), {deflate})
      expect(await inferPatchSize(f)).toBe(128)
    }
  })

  it('prefers diffraction, then diff3d, then probeGuess (shape rules)', () => {
    expect(patchSizeFromHeaders([{name: 'probeGuess', shape: [128, 128]}, {name: 'diffraction', shape: [9, 64, 64]}])).toBe(64)
    expect(patchSizeFromHeaders([{name: 'probeGuess', shape: [128, 128]}, {name: 'diff3d', shape: [9, 32, 32]}])).toBe(32)
    expect(patchSizeFromHeaders([{name: 'diffraction', shape: [64, 64]}, {name: 'probeGuess', shape: [256, 256]}])).toBe(256)
    expect(patchSizeFromHeaders([{name: 'xcoords', shape: [3]}])).toBeUndefined()
  })

  it('falls back to 64 for an empty, missing or corrupt file (as the reference)', async () => {
    const empty = path.join(dir, 'empty.npz')
    writeFileSync(empty, '')
    const junk = path.join(dir, 'junk.npz')
    writeFileSync(junk, 'not a zip at all'.repeat(10))
    expect(await inferPatchSize(empty)).toBe(64)
    expect(await inferPatchSize(junk)).toBe(64)
    expect(await inferPatchSize(path.join(dir, 'absent.npz'))).toBe(64)
  })

  it('says why it fell back to 64 (file and reason), and says nothing when N was read', async () => {
    const junk = path.join(dir, 'junk2.npz')
    writeFileSync(junk, 'hello\n')
    const warnings: string[] = []
    expect(await inferPatchSize(junk, (m) => warnings.push(m))).toBe(64)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(new RegExp(`^could not read N from ${junk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+; using N=64$`))
    const noN = path.join(dir, 'no-n.npz')
    writeFixtureNpz(noN, {xcoords: studyArrays(3, 64).xcoords})
    const more: string[] = []
    expect(await inferPatchSize(noN, (m) => more.push(m))).toBe(64)
    expect(more[0]).toContain("no 3-D 'diffraction' or 'diff3d' and no 'probeGuess' among its members (xcoords)")
    const good = path.join(dir, 'good.npz')
    writeFixtureNpz(good, studyArrays(2, 128))
    const none: string[] = []
    expect(await inferPatchSize(good, (m) => none.push(m))).toBe(128)
    expect(none).toEqual([])
  })
})
