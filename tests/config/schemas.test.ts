import {describe, expect, it} from 'vitest'

import {ContractError} from '../../src/errors.js'
import {
  InferenceConfigSchema,
  ModelConfigSchema,
  TrainingConfigSchema,
  isPowerOfTwo,
  legacyBackendFor,
  parseTrainingConfig,
} from '../../src/config/schemas.js'

describe('ModelConfig (spec §10.1)', () => {
  it('has the reference defaults', () => {
    expect(ModelConfigSchema.parse({})).toEqual({
      N: 64,
      gridsize: 1,
      n_filters_scale: 2,
      model_type: 'pinn',
      amp_activation: 'sigmoid',
      object_big: true,
      probe_big: true,
      probe_mask: false,
      pad_object: true,
      probe_scale: 4.0,
      gaussian_smoothing_sigma: 0.0,
    })
  })

  it('validates gridsize > 0, n_filters_scale > 0, probe_scale > 0, sigma >= 0, N in {64,128,256}', () => {
    for (const bad of [
      {gridsize: 0},
      {n_filters_scale: 0},
      {probe_scale: 0},
      {gaussian_smoothing_sigma: -0.1},
      {N: 32},
      {amp_activation: 'tanh'},
      {model_type: 'gan'},
      {gridsize: 1.5},
    ]) {
      expect(ModelConfigSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    }
    for (const N of [64, 128, 256]) expect(ModelConfigSchema.parse({N}).N).toBe(N)
    expect(ModelConfigSchema.parse({gaussian_smoothing_sigma: 0}).gaussian_smoothing_sigma).toBe(0)
  })

  it('rejects unknown fields (a typo must not pass silently)', () => {
    expect(ModelConfigSchema.safeParse({gridsze: 2}).success).toBe(false)
  })

  it('is frozen like the reference frozen dataclass', () => {
    const m = ModelConfigSchema.parse({})
    expect(Object.isFrozen(m)).toBe(true)
  })
})

describe('TrainingConfig (spec §10.1)', () => {
  it('has the reference defaults; model is required', () => {
    const c = TrainingConfigSchema.parse({model: {}})
    expect(c).toMatchObject({
      train_data_file: null,
      test_data_file: null,
      batch_size: 16,
      nepochs: 50,
      mae_weight: 0,
      nll_weight: 1,
      realspace_mae_weight: 0,
      realspace_weight: 0,
      nphotons: 1e9,
      n_groups: 512,
      n_images: null,
      n_subsample: null,
      subsample_seed: null,
      neighbor_count: 4,
      enable_oversampling: false,
      neighbor_pool_size: null,
      positions_provided: true,
      probe_trainable: false,
      intensity_scale_trainable: true,
      output_dir: 'training_outputs',
      sequential_sampling: false,
      backend: 'tensorflow',
      torch_loss_mode: 'poisson',
    })
    expect(c.model.N).toBe(64)
    expect(TrainingConfigSchema.safeParse({}).success).toBe(false)
  })

  it('batch_size must be a positive power of two', () => {
    for (const b of [1, 2, 4, 16, 1024]) expect(TrainingConfigSchema.parse({model: {}, batch_size: b}).batch_size).toBe(b)
    for (const b of [0, -2, 3, 12, 2.5]) {
      const r = TrainingConfigSchema.safeParse({model: {}, batch_size: b})
      expect(r.success, String(b)).toBe(false)
      if (!r.success) expect(r.error.issues[0].message).toMatch(/power of 2/)
    }
    expect(isPowerOfTwo(64)).toBe(true)
    expect(isPowerOfTwo(48)).toBe(false)
  })

  it('nepochs > 0, mae/nll weights in [0, 1], nphotons > 0', () => {
    for (const bad of [{nepochs: 0}, {mae_weight: 1.1}, {mae_weight: -0.1}, {nll_weight: 2}, {nphotons: 0}, {nphotons: -5}]) {
      expect(TrainingConfigSchema.safeParse({model: {}, ...bad}).success, JSON.stringify(bad)).toBe(false)
    }
    expect(TrainingConfigSchema.parse({model: {}, mae_weight: 1, nll_weight: 0}).mae_weight).toBe(1)
  })

  it('n_groups defaults to 512; n_images migrates into n_groups when n_groups is unset', () => {
    expect(TrainingConfigSchema.parse({model: {}, n_groups: 100}).n_groups).toBe(100)
    const migrated = TrainingConfigSchema.parse({model: {}, n_images: 77})
    expect(migrated.n_groups).toBe(77)
    expect(migrated.n_images).toBe(77)
    expect(TrainingConfigSchema.parse({model: {}, n_images: 77, n_groups: 5}).n_groups).toBe(5)
  })

  it('backend is the framework family tensorflow|pytorch; compute backends map onto it', () => {
    expect(TrainingConfigSchema.safeParse({model: {}, backend: 'wasm'}).success).toBe(false)
    expect(TrainingConfigSchema.parse({model: {}, backend: 'pytorch'}).backend).toBe('pytorch')
    expect(legacyBackendFor('wasm')).toBe('tensorflow')
    expect(legacyBackendFor('auto')).toBe('tensorflow')
    expect(legacyBackendFor('pytorch')).toBe('pytorch')
  })

  it('parseTrainingConfig throws a ContractError naming the source and the field', () => {
    let err: unknown
    try {
      parseTrainingConfig({model: {}, batch_size: 3}, 'flags')
    } catch (error) {
      err = error
    }
    expect(err).toBeInstanceOf(ContractError)
    expect((err as Error).message).toMatch(/^flags: invalid values/)
    expect((err as Error).message).toMatch(/batch_size/)
  })
})

describe('InferenceConfig (spec §10.1)', () => {
  it('requires model_path and test_data_file; same n_images migration but no 512 default', () => {
    expect(InferenceConfigSchema.safeParse({model: {}}).success).toBe(false)
    const c = InferenceConfigSchema.parse({model: {}, model_path: 'm', test_data_file: 't.npz'})
    expect(c.n_groups).toBeNull()
    expect(c).toMatchObject({neighbor_count: 4, enable_oversampling: false, debug: false, output_dir: 'inference_outputs', backend: 'tensorflow'})
    expect(InferenceConfigSchema.parse({model: {}, model_path: 'm', test_data_file: 't', n_images: 9}).n_groups).toBe(9)
  })
})
