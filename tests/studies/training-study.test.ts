import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {buildTrainingJobs} from '../../src/pipeline/training-jobs.js'
import {createTrainingStudy, doseDirName, fly64Layout, study} from '../../studies/fly64_dose_overlap/index.js'
import {makeStudyTree, tempDir} from '../pipeline/fixtures.js'

describe('fly64 study as data for the training engine', () => {
  it('views: baseline (phase C, gs1) then the overlap views (phase D, gs2); default seed = grouping seed', () => {
    expect(study.views).toEqual([
      {name: 'baseline', gridsize: 1, source: 'phase_c'},
      {name: 'dense', gridsize: 2, source: 'phase_d'},
      {name: 'sparse', gridsize: 2, source: 'phase_d'},
    ])
    expect(study.defaultSeed).toBe(123)
    expect(study.name).toBe('fly64_dose_overlap')
    expect(study.designDict()).toMatchObject({dose_list: [1e3, 1e4, 1e5], neighbor_count: 7})
  })

  it('layout: dose_{int(d)}, phase D primary then fallback names, artifact dose/view/gsN', () => {
    expect(doseDirName(1e3)).toBe('dose_1000')
    expect(doseDirName(2500.7)).toBe('dose_2500')
    expect(fly64Layout.splitFileCandidates(study.views[1], 'test')).toEqual(['dense_test.npz', 'test.npz'])
    expect(fly64Layout.splitFileCandidates(study.views[0], 'train')).toEqual(['patched_train.npz'])
    expect(fly64Layout.artifactDir(study.views[2], 1e4)).toEqual(['dose_10000', 'sparse', 'gs2'])
  })

  it('the engine follows the design: another view and dose list change the matrix, not the code', () => {
    const custom = createTrainingStudy({dose_list: [500, 2000], overlap_views: {dense: 0.7, medium: 0.45, sparse: 0.2}})
    const tree = makeStudyTree(tempDir(), {doses: [500, 2000], views: ['dense', 'medium', 'sparse']})
    const {jobs} = buildTrainingJobs(custom, {phaseCRoot: tree.phaseC, phaseDRoot: tree.phaseD, artifactRoot: tree.artifacts})
    expect(jobs.map((j) => `${j.dose}/${j.view}/gs${j.gridsize}`)).toEqual([
      '500/baseline/gs1', '500/dense/gs2', '500/medium/gs2', '500/sparse/gs2',
      '2000/baseline/gs1', '2000/dense/gs2', '2000/medium/gs2', '2000/sparse/gs2',
    ])
    expect(path.basename(jobs[2].trainDataPath)).toBe('medium_train.npz')
  })

  it('an invalid design is refused when the study is created', () => {
    expect(() => createTrainingStudy({neighbor_count: 2})).toThrow(/neighbor_count=2 must be ≥ C=4/)
  })
})
