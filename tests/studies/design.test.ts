import {describe, expect, it} from 'vitest'

import {ContractError, EXIT} from '../../src/errors.js'
import {StudyDesign, StudyDesignError, getStudyDesign} from '../../studies/fly64_dose_overlap/design.js'

describe('StudyDesign constants (spec §2, test_dose_overlap_design.py)', () => {
  const design = getStudyDesign()

  it('dose list, gridsizes, K, N, split axis', () => {
    expect(design.dose_list).toEqual([1e3, 1e4, 1e5])
    expect(design.gridsizes).toEqual([1, 2])
    expect(design.neighbor_count).toBe(7)
    expect(design.patch_size_pixels).toBe(128)
    expect(design.train_test_split_axis).toBe('y')
  })

  it('overlap views and derived spacing thresholds (dense 38.4 px, sparse 102.4 px)', () => {
    expect(design.overlap_views).toEqual({dense: 0.7, sparse: 0.2})
    expect(design.spacing_thresholds.dense).toBeCloseTo(38.4, 10)
    expect(design.spacing_thresholds.sparse).toBeCloseTo(102.4, 10)
    // the exact float of the reference: (1.0 - 0.7) * 128
    expect(design.spacing_thresholds.dense).toBe(38.400000000000006)
  })

  it('rng seeds and metrics config', () => {
    expect(design.rng_seeds).toEqual({simulation: 42, grouping: 123, subsampling: 456})
    expect(design.metrics_config).toEqual({ms_ssim_sigma: 1.0, emphasize_phase: true, report_amplitude: true, frc_threshold: 0.5})
  })

  it('toDict has exactly the reference keys', () => {
    expect(Object.keys(design.toDict()).sort()).toEqual(
      [
        'dose_list', 'gridsizes', 'neighbor_count', 'patch_size_pixels', 'overlap_views', 'spacing_thresholds',
        'train_test_split_axis', 'rng_seeds', 'metrics_config',
      ].sort(),
    )
    expect(design.toDict().spacing_thresholds).toEqual(design.spacing_thresholds)
  })

  it('toDict is a copy: editing it does not change the design', () => {
    const d = design.toDict()
    d.dose_list.push(5)
    d.overlap_views.dense = 0.1
    expect(design.dose_list).toEqual([1e3, 1e4, 1e5])
    expect(design.overlap_views.dense).toBe(0.7)
  })
})

describe('StudyDesign.validate (spec §2)', () => {
  const fails = (init: ConstructorParameters<typeof StudyDesign>[0], pattern: RegExp) => {
    const d = new StudyDesign(init)
    expect(() => d.validate()).toThrow(pattern)
    expect(() => d.validate()).toThrow(StudyDesignError)
  }

  it('neighbor_count must be >= C = max(gridsize)^2', () => {
    fails({neighbor_count: 3}, /neighbor_count.*must be ≥ C/)
    fails({neighbor_count: 3}, /^neighbor_count=3 must be ≥ C=4 \(gridsize²=2²\) for K-choose-C oversampling$/)
    expect(() => new StudyDesign({neighbor_count: 4}).validate()).not.toThrow()
    fails({gridsizes: [1, 3], neighbor_count: 8}, /C=9/)
  })

  it('overlap fractions must be in [0, 1)', () => {
    fails({overlap_views: {dense: 1.0, sparse: 0.2}}, /overlap_views.*must be in/)
    fails({overlap_views: {dense: -0.1}}, /^overlap_views\['dense'\]=-0.1 must be in \[0, 1\)$/)
    expect(() => new StudyDesign({overlap_views: {dense: 0}}).validate()).not.toThrow()
  })

  it('spacing thresholds must be > 0 (patch size)', () => {
    fails({patch_size_pixels: 0}, /spacing_thresholds.*must be > 0/)
  })

  it('dose list must be non-empty and positive', () => {
    fails({dose_list: []}, /dose_list must not be empty/)
    fails({dose_list: [1e3, 0]}, /All doses must be positive/)
    fails({dose_list: [-1]}, /All doses must be positive/)
  })

  it('design errors are contract errors (exit code 4)', () => {
    const err = new StudyDesignError('x')
    expect(err).toBeInstanceOf(ContractError)
    expect(err.exitCode).toBe(EXIT.contract)
    expect(err.message).toBe('x')
  })

  it('getStudyDesign validates', () => {
    expect(() => getStudyDesign({dose_list: []})).toThrow(/dose_list must not be empty/)
  })
})
