import {describe, expect, it} from 'vitest'

import {
  KEY_MAPPINGS,
  LEGACY_DEFAULTS,
  freshLegacyDict,
  getBigN,
  getPaddedSize,
  getPaddingSize,
  toLegacyDict,
  updateLegacyDict,
  validateLegacyDict,
} from '../../src/config/legacy.js'
import {InferenceConfigSchema, TrainingConfigSchema} from '../../src/config/schemas.js'

const studyConfig = (gridsize: number) =>
  TrainingConfigSchema.parse({
    model: {N: 128, gridsize},
    train_data_file: '/data/dose_1000/patched_train.npz',
    test_data_file: '/data/dose_1000/patched_test.npz',
    output_dir: '/out/dose_1000/baseline/gs1',
    nphotons: 1000,
  })

describe('toLegacyDict (spec §10.2)', () => {
  it('flattens the model to the top level and has no model key', () => {
    const d = toLegacyDict(studyConfig(2))
    expect(d.model).toBeUndefined()
    expect(d.N).toBe(128)
    expect(d.gridsize).toBe(2)
    expect(d.n_filters_scale).toBe(2)
    expect(d.amp_activation).toBe('sigmoid')
  })

  it('applies every KEY_MAPPINGS rename and removes the original names', () => {
    const d = toLegacyDict(studyConfig(1))
    for (const [from, to] of Object.entries(KEY_MAPPINGS)) {
      expect(d, from).not.toHaveProperty(from)
      expect(d, to).toHaveProperty([to])
    }
    expect(d['object.big']).toBe(true)
    expect(d['probe.big']).toBe(true)
    expect(d['probe.mask']).toBe(false)
    expect(d['probe.trainable']).toBe(false)
    expect(d['intensity_scale.trainable']).toBe(true)
    expect(d['positions.provided']).toBe(true)
    expect(d.output_prefix).toBe('/out/dose_1000/baseline/gs1')
    expect(d.train_data_file_path).toBe('/data/dose_1000/patched_train.npz')
    expect(d.test_data_file_path).toBe('/data/dose_1000/patched_test.npz')
  })

  it('passes the other names through unchanged and keeps nulls', () => {
    const d = toLegacyDict(studyConfig(1))
    for (const k of [
      'N', 'gridsize', 'n_filters_scale', 'model_type', 'amp_activation', 'pad_object', 'probe_scale',
      'gaussian_smoothing_sigma', 'batch_size', 'nepochs', 'mae_weight', 'nll_weight', 'realspace_mae_weight',
      'realspace_weight', 'nphotons', 'n_groups', 'n_images', 'n_subsample', 'subsample_seed', 'neighbor_count',
      'enable_oversampling', 'neighbor_pool_size', 'sequential_sampling', 'backend', 'torch_loss_mode',
    ]) {
      expect(d, k).toHaveProperty([k])
    }
    expect(d.n_images).toBeNull()
    expect(d.nphotons).toBe(1000)
  })

  it('inference configs keep model_path and debug', () => {
    const d = toLegacyDict(InferenceConfigSchema.parse({model: {}, model_path: 'runs/m', test_data_file: 't.npz'}))
    expect(d.model_path).toBe('runs/m')
    expect(d.debug).toBe(false)
    expect(d.output_prefix).toBe('inference_outputs')
    expect(d.test_data_file_path).toBe('t.npz')
  })

  it('the dict is JSON-serialisable plain data', () => {
    const d = toLegacyDict(studyConfig(1))
    expect(JSON.parse(JSON.stringify(d))).toEqual(d)
  })
})

describe('updateLegacyDict (spec §10.2)', () => {
  it('skips null values so existing keys stay, and deletes nothing', () => {
    const cfg = freshLegacyDict()
    cfg.n_subsample = 999
    cfg.custom_key = 'kept'
    const before = Object.keys(cfg)
    updateLegacyDict(cfg, studyConfig(1))
    expect(cfg.n_subsample).toBe(999) // config value is null -> skipped
    expect(cfg.custom_key).toBe('kept')
    for (const k of before) expect(cfg, k).toHaveProperty([k])
    expect(cfg).not.toHaveProperty('n_images') // null in the config, absent before: stays absent
  })

  it('gives the effective study values of §10.3 (padded size 138 for gs1, 142 for gs2)', () => {
    for (const [g, padded] of [
      [1, 138],
      [2, 142],
    ] as const) {
      const cfg = updateLegacyDict(freshLegacyDict(), studyConfig(g))
      expect(cfg).toMatchObject({
        N: 128,
        gridsize: g,
        nepochs: 50,
        batch_size: 16,
        nll_weight: 1,
        mae_weight: 0,
        'probe.big': true,
        'probe.mask': false,
        probe_scale: 4.0,
        'intensity_scale.trainable': true,
        offset: 4,
        max_position_jitter: 10,
      })
      expect(getPaddedSize(cfg)).toBe(padded)
      expect(getBigN(cfg)).toBe(128 + (g - 1) * 4)
      expect(getPaddingSize(cfg)).toBe((g - 1) * 4 + 10)
    }
  })

  it('does not mutate LEGACY_DEFAULTS (each job starts from a fresh copy)', () => {
    const cfg = freshLegacyDict()
    updateLegacyDict(cfg, studyConfig(1))
    expect(LEGACY_DEFAULTS.N).toBe(128)
    expect(LEGACY_DEFAULTS.gridsize).toBe(2)
    expect(LEGACY_DEFAULTS.nepochs).toBe(60)
    expect(Object.isFrozen(LEGACY_DEFAULTS)).toBe(true)
  })
})

describe('LEGACY_DEFAULTS (spec §10.3)', () => {
  it('holds the reference defaults', () => {
    expect(LEGACY_DEFAULTS).toMatchObject({
      N: 128, offset: 4, gridsize: 2, outer_offset_train: null, outer_offset_test: null, batch_size: 16,
      nepochs: 60, n_filters_scale: 2, output_prefix: 'outputs', big_gridsize: 10, max_position_jitter: 10,
      sim_jitter_scale: 0, default_probe_scale: 0.7, mae_weight: 0, nll_weight: 1, tv_weight: 0,
      realspace_mae_weight: 0, realspace_weight: 0, nphotons: 1e9, nimgs_train: 9, nimgs_test: 3,
      data_source: 'generic', 'probe.trainable': false, 'intensity_scale.trainable': false,
      'positions.provided': false, 'object.big': true, 'probe.big': false, probe_scale: 10, set_phi: false,
      'probe.mask': true, pad_object: true, model_type: 'pinn', label: '', size: 392, amp_activation: 'sigmoid',
      h5_path: 'wts.h5', npseed: 42, debug: true, gaussian_smoothing_sigma: 0, use_xla_translate: true,
    })
    expect(Object.keys(LEGACY_DEFAULTS)).toHaveLength(40)
  })

  it('validateLegacyDict applies the reference validate() rules', () => {
    expect(validateLegacyDict(freshLegacyDict())).toEqual([])
    expect(validateLegacyDict({...freshLegacyDict(), data_source: 'nope'})[0]).toMatch(/data_source/)
    expect(validateLegacyDict({...freshLegacyDict(), realspace_mae_weight: 0.5})[0]).toMatch(/realspace_weight/)
    expect(validateLegacyDict({...freshLegacyDict(), realspace_mae_weight: 0.5, realspace_weight: 1})).toEqual([])
  })
})
