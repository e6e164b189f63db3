import {rmSync, writeFileSync, mkdirSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {MissingInputError} from '../../src/errors.js'
import {TrainingJobError, buildTrainingJobs, validateTrainingJob} from '../../src/pipeline/training-jobs.js'
import {createTrainingStudy, study} from '../../studies/fly64_dose_overlap/index.js'
import {makeStudyTree, tempDir} from './fixtures.js'

const rootsOf = (t: ReturnType<typeof makeStudyTree>) => ({phaseCRoot: t.phaseC, phaseDRoot: t.phaseD, artifactRoot: t.artifacts})

describe('buildTrainingJobs (spec §6.2, test_build_training_jobs_matrix)', () => {
  const tree = makeStudyTree(tempDir())
  const {jobs, skipped} = buildTrainingJobs(study, rootsOf(tree))

  it('gives 9 jobs, 3 per dose, in dose order then baseline, dense, sparse', () => {
    expect(jobs).toHaveLength(9)
    expect(skipped).toEqual([])
    expect(jobs.map((j) => `${j.dose}/${j.view}`)).toEqual([
      '1000/baseline', '1000/dense', '1000/sparse',
      '10000/baseline', '10000/dense', '10000/sparse',
      '100000/baseline', '100000/dense', '100000/sparse',
    ])
    for (const d of [1000, 10000, 100000]) expect(jobs.filter((j) => j.dose === d)).toHaveLength(3)
    expect(new Set(jobs.map((j) => j.view))).toEqual(new Set(['baseline', 'dense', 'sparse']))
  })

  it('baseline at gridsize 1, overlap views at gridsize 2', () => {
    for (const j of jobs) expect(j.gridsize).toBe(j.view === 'baseline' ? 1 : 2)
  })

  it('paths: inputs exist, artifact_dir under the artifact root, log in artifact_dir, dose_{int} in the path', () => {
    for (const j of jobs) {
      expect(path.isAbsolute(j.trainDataPath)).toBe(true)
      expect(path.relative(tree.artifacts, j.artifactDir).startsWith('..')).toBe(false)
      expect(path.dirname(j.logPath)).toBe(j.artifactDir)
      expect(path.basename(j.logPath)).toBe('train.log')
      expect(j.trainDataPath).toContain(`dose_${j.dose}`)
      expect(j.artifactDir).toBe(path.join(tree.artifacts, `dose_${j.dose}`, j.view, `gs${j.gridsize}`))
      if (j.view === 'baseline') {
        expect(path.basename(j.trainDataPath)).toBe('patched_train.npz')
        expect(path.basename(j.testDataPath)).toBe('patched_test.npz')
      } else {
        expect(path.basename(j.trainDataPath)).toBe(`${j.view}_train.npz`)
        expect(path.basename(j.testDataPath)).toBe(`${j.view}_test.npz`)
      }
    }
  })

  it('falls back to the v2 phase D names {split}.npz, choosing each split separately', () => {
    const t = makeStudyTree(tempDir(), {naming: 'v2', doses: [1000]})
    // one split under the v1 name: that one is preferred, the other falls back
    writeFileSync(path.join(t.phaseD, 'dose_1000', 'dense', 'dense_train.npz'), '')
    const built = buildTrainingJobs(createTrainingStudy({dose_list: [1000]}), rootsOf(t))
    const dense = built.jobs.find((j) => j.view === 'dense')!
    expect(path.basename(dense.trainDataPath)).toBe('dense_train.npz')
    expect(path.basename(dense.testDataPath)).toBe('test.npz')
    const sparse = built.jobs.find((j) => j.view === 'sparse')!
    expect(path.basename(sparse.trainDataPath)).toBe('train.npz')
  })

  it('skips a missing phase D view with the reference reason when non-strict, and logs it', () => {
    const t = makeStudyTree(tempDir(), {missing: ['dose_1000/sparse']})
    const lines: string[] = []
    const built = buildTrainingJobs(study, rootsOf(t), {strict: false, log: (l) => lines.push(l)})
    expect(built.jobs).toHaveLength(8)
    expect(built.skipped).toEqual([
      {
        dose: 1000,
        view: 'sparse',
        reason:
          'NPZ files not found (train=False, test=False). Checked primary (sparse_train.npz/sparse_test.npz) and fallback (train.npz/test.npz).',
      },
    ])
    expect(lines).toEqual([`Skipping sparse view for dose=1e+03: ${built.skipped[0].reason}`])
  })

  it('strict mode (the API default) throws for a missing phase D file', () => {
    const t = makeStudyTree(tempDir(), {missing: ['dose_10000/dense/dense_test']})
    expect(() => buildTrainingJobs(study, rootsOf(t))).toThrow(MissingInputError)
    // as the reference: the primary name is missing, so the fallback path is the one reported
    // and (unlike the reference) the primary name it looked for first
    expect(() => buildTrainingJobs(study, rootsOf(t))).toThrow(/^Test dataset not found: .*dose_10000\/dense\/test\.npz \(also looked for .*dose_10000\/dense\/dense_test\.npz\)$/)
  })

  it('a missing phase C file always throws, even non-strict', () => {
    const t = makeStudyTree(tempDir())
    rmSync(path.join(t.phaseC, 'dose_10000', 'patched_train.npz'))
    expect(() => buildTrainingJobs(study, rootsOf(t), {strict: false})).toThrow(/^Training dataset not found: .*patched_train\.npz$/)
  })
})

describe('validateTrainingJob (spec §6.1 TrainingJob.__post_init__)', () => {
  const dir = tempDir()
  const train = path.join(dir, 'train.npz')
  const test = path.join(dir, 'test.npz')
  mkdirSync(dir, {recursive: true})
  writeFileSync(train, '') // an empty file is enough (the reference uses touch())
  writeFileSync(test, '')
  const job = (view: string, gridsize: number, t = train, s = test) => ({
    dose: 1000, view, gridsize, trainDataPath: t, testDataPath: s, artifactDir: dir, logPath: path.join(dir, 'train.log'),
  })

  it('checks view, then gridsize, then files, with the reference messages', () => {
    expect(() => validateTrainingJob(job('bogus', 1), study.views)).toThrow("Invalid view 'bogus'. Expected one of: baseline, dense, sparse")
    expect(() => validateTrainingJob(job('bogus', 1), study.views)).toThrow(TrainingJobError)
    expect(() => validateTrainingJob(job('baseline', 2), study.views)).toThrow('Baseline jobs must use gridsize=1, got 2')
    expect(() => validateTrainingJob(job('dense', 1), study.views)).toThrow('Overlap jobs (dense) must use gridsize=2, got 1')
    expect(() => validateTrainingJob(job('sparse', 3), study.views)).toThrow('Overlap jobs (sparse) must use gridsize=2, got 3')
    const missing = path.join(dir, 'nope.npz')
    expect(() => validateTrainingJob(job('baseline', 1, missing), study.views)).toThrow(`Training dataset not found: ${missing}`)
    expect(() => validateTrainingJob(job('baseline', 1, train, missing), study.views)).toThrow(`Test dataset not found: ${missing}`)
    // the view check comes before the file check
    expect(() => validateTrainingJob(job('bogus', 1, missing), study.views)).toThrow(/Invalid view/)
    expect(() => validateTrainingJob(job('baseline', 1), study.views)).not.toThrow()
  })
})
