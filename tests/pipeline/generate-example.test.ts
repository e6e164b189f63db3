/**
 * The example study (studies/fly64_dose_overlap/example.ts): a complete phase C/D tree that the training
 * job matrix accepts (9 jobs, strict), reused when complete and regenerated when a file is missing or changed.
 */
import {appendFileSync, existsSync, mkdtempSync, rmSync, statSync, unlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {readNpz} from '../../src/io/npz.js'
import {buildTrainingJobs} from '../../src/pipeline/training-jobs.js'
import {generateExampleStudy} from '../../studies/fly64_dose_overlap/example.js'
import {study} from '../../studies/fly64_dose_overlap/index.js'

describe('generateExampleStudy', () => {
  let dir: string
  let paths: Awaited<ReturnType<typeof generateExampleStudy>>
  const messages: string[] = []
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'study-example-'))
    paths = await generateExampleStudy(dir, {onProgress: (m) => messages.push(m)})
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  const mtime = (rel: string): number => statSync(path.join(dir, rel)).mtimeMs

  it('makes phase_c and phase_d that the training job matrix accepts: 9 jobs, nothing skipped', () => {
    expect(paths).toEqual({phaseCRoot: path.join(dir, 'phase_c'), phaseDRoot: path.join(dir, 'phase_d')})
    const built = buildTrainingJobs(study, {...paths, artifactRoot: path.join(dir, 'artifacts')}, {strict: true})
    expect(built.jobs).toHaveLength(9)
    expect(built.skipped).toEqual([])
    expect(built.jobs.filter((j) => j.view === 'dense').every((j) => j.trainDataPath.endsWith(path.join('dense', 'dense_train.npz')))).toBe(true)
  })

  it('has N=64 patterns and a few hundred positions per dose', async () => {
    const d = await readNpz(path.join(paths.phaseCRoot, 'dose_10000', 'patched_train.npz'), {members: ['diffraction', 'objectGuess']})
    expect(d.diffraction.shape.slice(1)).toEqual([64, 64])
    expect(d.diffraction.shape[0]).toBeGreaterThan(150)
    expect(d.objectGuess.shape).toEqual([256, 256])
  })

  it('reuses a complete tree without rewriting it', async () => {
    const before = [mtime('phase_c/dose_1000/patched_train.npz'), mtime('phase_d/dose_100000/sparse/sparse_test.npz')]
    messages.length = 0
    await generateExampleStudy(dir, {onProgress: (m) => messages.push(m)})
    expect(messages.join('\n')).toMatch(/reusing/)
    expect([mtime('phase_c/dose_1000/patched_train.npz'), mtime('phase_d/dose_100000/sparse/sparse_test.npz')]).toEqual(before)
  })

  it('regenerates phase D only when a phase D file is missing', async () => {
    const c = mtime('phase_c/dose_1000/patched_train.npz')
    unlinkSync(path.join(dir, 'phase_d/dose_10000/dense/dense_train.npz'))
    await generateExampleStudy(dir)
    expect(existsSync(path.join(dir, 'phase_d/dose_10000/dense/dense_train.npz'))).toBe(true)
    expect(mtime('phase_c/dose_1000/patched_train.npz')).toBe(c)
  })

  it('regenerates everything when a phase C file has changed (sha256 mismatch)', async () => {
    const file = path.join(dir, 'phase_c/dose_100000/patched_test.npz')
    const size = statSync(file).size
    appendFileSync(file, 'x')
    await generateExampleStudy(dir)
    expect(statSync(file).size).toBe(size)
    const built = buildTrainingJobs(study, {...paths, artifactRoot: path.join(dir, 'artifacts')}, {strict: true})
    expect(built.jobs).toHaveLength(9)
  })
})
