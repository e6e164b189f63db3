import {describe, expect, it} from 'vitest'

import {optionFields, overridesFromFlags, trainingOptionFlags} from '../../src/config/flags.js'
import {ModelConfigSchema, TrainingConfigFields, TrainingConfigSchema} from '../../src/config/schemas.js'

describe('training option flags derived from the config schemas', () => {
  const fields = optionFields()
  const byFlag = new Map(fields.map((f) => [f.flag, f]))

  it('every TrainingConfig / ModelConfig field has a flag except those the pipeline sets per job', () => {
    const trainingKeys = Object.keys(TrainingConfigFields.shape).filter(
      (k) => !['model', 'train_data_file', 'test_data_file', 'output_dir', 'nphotons', 'backend', 'n_images'].includes(k),
    )
    const modelKeys = Object.keys(ModelConfigSchema.parse({})).filter((k) => !['N', 'gridsize'].includes(k))
    expect(fields.filter((f) => f.scope === 'training').map((f) => f.field)).toEqual(trainingKeys)
    expect(fields.filter((f) => f.scope === 'model').map((f) => f.field)).toEqual(modelKeys)
    expect(Object.keys(trainingOptionFlags()).sort()).toEqual(fields.map((f) => f.flag).sort())
  })

  it('kinds, choices and defaults come from the schema', () => {
    expect(byFlag.get('batch-size')).toMatchObject({kind: 'integer', default: 16})
    expect(byFlag.get('nepochs')).toMatchObject({kind: 'integer', default: 50})
    expect(byFlag.get('n-groups')).toMatchObject({kind: 'integer', default: null})
    expect(byFlag.get('mae-weight')).toMatchObject({kind: 'number', default: 0})
    expect(byFlag.get('probe-trainable')).toMatchObject({kind: 'boolean', default: false})
    expect(byFlag.get('amp-activation')).toMatchObject({kind: 'enum', options: ['sigmoid', 'swish', 'softplus', 'relu'], scope: 'model'})
    expect(byFlag.get('n-filters-scale')).toMatchObject({kind: 'integer', scope: 'model', default: 2})
    expect(byFlag.has('nphotons')).toBe(false)
    expect(byFlag.has('gridsize')).toBe(false)
  })

  it('maps given flags back to config overrides (absent flags stay absent) that the schema validates', () => {
    const o = overridesFromFlags({nepochs: 3, 'mae-weight': '0.5', 'probe-trainable': false, 'n-filters-scale': 1, 'amp-activation': 'relu', json: true})
    expect(o).toEqual({nepochs: 3, mae_weight: 0.5, probe_trainable: false, model: {n_filters_scale: 1, amp_activation: 'relu'}})
    const c = TrainingConfigSchema.parse({...o, model: {...o.model}})
    expect(c).toMatchObject({nepochs: 3, mae_weight: 0.5, probe_trainable: false, batch_size: 16})
    expect(c.model).toMatchObject({n_filters_scale: 1, amp_activation: 'relu'})
    const bad = overridesFromFlags({'mae-weight': 'lots'})
    expect(Number.isNaN(bad.mae_weight)).toBe(true)
    expect(TrainingConfigSchema.safeParse({...bad, model: {}}).success).toBe(false)
  })
})
