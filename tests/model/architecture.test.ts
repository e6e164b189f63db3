import {describe, expect, it} from 'vitest'
import {decoderFilters, encoderFilters, modelSpecFrom, paddedSize, parameterCount, parameterDefs} from '../../src/model/architecture.js'

const model = (N: number, gridsize = 1, extra: Record<string, unknown> = {}) => ({
  N,
  gridsize,
  n_filters_scale: 2,
  amp_activation: 'sigmoid',
  object_big: true,
  probe_big: true,
  probe_mask: false,
  pad_object: true,
  probe_scale: 4,
  gaussian_smoothing_sigma: 0,
  ...extra,
})
const scaling = {nphotons: 1e9, intensity_scale_trainable: true, probe_trainable: false}

describe('PtychoPINN architecture (§13.2)', () => {
  it('filter ladders by N with n_filters_scale 2', () => {
    expect(encoderFilters(64, 2)).toEqual([64, 128, 256])
    expect(encoderFilters(128, 2)).toEqual([32, 64, 128, 256])
    expect(encoderFilters(256, 2)).toEqual([16, 32, 64, 128, 256])
    expect(decoderFilters(128, 2)).toEqual([256, 128, 64])
    expect(() => encoderFilters(96, 2)).toThrow(/64, 128 or 256/)
  })

  it('N=64 gs1 has 2.33 M parameters and N=128 4.66 M (TARGETS.md)', () => {
    // hand count for N=64: encoder 1,144,256 + two decoders 2·553,344 + two last layers 2·40,414 + log_scale
    expect(parameterCount(modelSpecFrom(model(64), scaling))).toBe(1_144_256 + 2 * 553_344 + 2 * 40_414 + 1)
    expect(parameterCount(modelSpecFrom(model(64), scaling)) / 1e6).toBeCloseTo(2.33, 2)
    expect(parameterCount(modelSpecFrom(model(128), scaling)) / 1e6).toBeCloseTo(4.66, 2)
  })

  it('gridsize 2 takes C=4 input channels and emits 4 object channels (object.big)', () => {
    const defs = parameterDefs(modelSpecFrom(model(64, 2), scaling))
    expect(defs.find((d) => d.name === 'encoder/block0/conv0/kernel')!.shape).toEqual([3, 3, 4, 64])
    expect(defs.find((d) => d.name === 'amp/last/conv1/kernel')!.shape).toEqual([3, 3, 60, 4])
    expect(defs.find((d) => d.name === 'phase/last/conv2/kernel')!.shape).toEqual([3, 3, 64, 4])
    expect(defs.find((d) => d.name === 'amp/last/border/conv0/kernel')!.shape).toEqual([3, 3, 4, 64])
  })

  it('padded size and intensity scale follow the legacy params and §13.4', () => {
    expect(paddedSize(128, 1)).toBe(138)
    expect(paddedSize(128, 2)).toBe(142)
    const spec = modelSpecFrom(model(64, 2), {...scaling, nphotons: 1e4})
    expect(spec.padded_size).toBe(78)
    expect(spec.intensity_scale).toBeCloseTo(Math.sqrt(1e4) / 32, 12)
  })

  it('rejects what the port does not implement with a clear message', () => {
    expect(() => modelSpecFrom(model(64, 1, {gaussian_smoothing_sigma: 1}), scaling)).toThrow(/gaussian_smoothing_sigma/)
    expect(() => modelSpecFrom(model(64, 1, {amp_activation: 'tanh'}), scaling)).toThrow(/amp_activation/)
  })
})
