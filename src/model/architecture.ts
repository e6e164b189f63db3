/**
 * The PtychoPINN architecture (spec §13.2) as plain data: sizes, filter ladders and the list of trainable
 * parameters with their shapes. No tfjs here, so it can be used (and tested) without loading TensorFlow.js.
 */

export const AMP_ACTIVATIONS = ['sigmoid', 'swish', 'softplus', 'relu'] as const
export type AmpActivation = (typeof AMP_ACTIVATIONS)[number]

/** Everything that fixes the network's shape and physics; stored in checkpoints and bundles. */
export interface ModelSpec {
  N: number
  gridsize: number
  /** channels per group: gridsize² */
  C: number
  n_filters_scale: number
  amp_activation: AmpActivation
  object_big: boolean
  probe_big: boolean
  probe_mask: boolean
  pad_object: boolean
  probe_scale: number
  gaussian_smoothing_sigma: number
  /** P = N + (gridsize-1)·offset + max_position_jitter (legacy get_padded_size) */
  padded_size: number
  /** sqrt(nphotons)/(N/2): initial value of exp(log_scale) */
  intensity_scale: number
  intensity_scale_trainable: boolean
  probe_trainable: boolean
}

export interface ParameterDef {
  name: string
  shape: number[]
  init: 'glorot_uniform' | 'zeros'
}

/** c_outer of create_decoder_last: channels that feed the border (probe.big) path */
export const C_OUTER = 4

export function encoderFilters(N: number, s: number): number[] {
  const base: Record<number, number[]> = {64: [32, 64, 128], 128: [16, 32, 64, 128], 256: [8, 16, 32, 64, 128]}
  const f = base[N]
  if (!f) throw new RangeError(`N must be 64, 128 or 256, got ${N}`)
  return f.map((x) => x * s)
}

export function decoderFilters(N: number, s: number): number[] {
  const base: Record<number, number[]> = {64: [64, 32], 128: [128, 64, 32], 256: [256, 128, 64, 32]}
  const f = base[N]
  if (!f) throw new RangeError(`N must be 64, 128 or 256, got ${N}`)
  return f.map((x) => x * s)
}

/** filters of the border (probe.big) path: s · 2048 / N */
export function borderFilters(N: number, s: number): number {
  return Math.round((s * 2048) / N)
}

/** legacy get_padded_size(): N + (gridsize-1)·offset + max_position_jitter */
export function paddedSize(N: number, gridsize: number, offset = 4, maxPositionJitter = 10): number {
  return N + (gridsize - 1) * offset + maxPositionJitter
}

function conv(name: string, cin: number, cout: number): ParameterDef[] {
  return [
    {name: `${name}/kernel`, shape: [3, 3, cin, cout], init: 'glorot_uniform'},
    {name: `${name}/bias`, shape: [cout], init: 'zeros'},
  ]
}

/** All trainable network weights, in a fixed order (the order of weights in checkpoints and bundles). */
export function parameterDefs(spec: ModelSpec): ParameterDef[] {
  const {N, C} = spec
  const s = spec.n_filters_scale
  const defs: ParameterDef[] = []
  let cin = C
  encoderFilters(N, s).forEach((f, i) => {
    defs.push(...conv(`encoder/block${i}/conv0`, cin, f), ...conv(`encoder/block${i}/conv1`, f, f))
    cin = f
  })
  const bottleneck = cin
  const cOut = spec.object_big ? C : 1
  const fb = borderFilters(N, s)
  for (const head of ['amp', 'phase']) {
    let c = bottleneck
    decoderFilters(N, s).forEach((f, i) => {
      defs.push(...conv(`${head}/block${i}/conv0`, c, f), ...conv(`${head}/block${i}/conv1`, f, f))
      c = f
    })
    if (spec.pad_object) {
      defs.push(...conv(`${head}/last/conv1`, c - C_OUTER, cOut))
      if (spec.probe_big) {
        defs.push(
          ...conv(`${head}/last/border/conv0`, C_OUTER, fb),
          ...conv(`${head}/last/border/conv1`, fb, fb),
          ...conv(`${head}/last/conv2`, fb, cOut),
        )
      }
    } else {
      defs.push(
        ...conv(`${head}/last/border/conv0`, c, fb),
        ...conv(`${head}/last/border/conv1`, fb, fb),
        ...conv(`${head}/last/conv2`, fb, cOut),
      )
    }
  }
  return defs
}

/** Number of trainable scalars: the network weights plus log_scale (when trainable). */
export function parameterCount(spec: ModelSpec): number {
  const n = parameterDefs(spec).reduce((a, d) => a + d.shape.reduce((x, y) => x * y, 1), 0)
  return n + (spec.intensity_scale_trainable ? 1 : 0) + (spec.probe_trainable ? 2 * spec.N * spec.N : 0)
}

export interface ModelConfigLike {
  N: number
  gridsize: number
  n_filters_scale: number
  amp_activation: string
  object_big: boolean
  probe_big: boolean
  probe_mask: boolean
  pad_object: boolean
  probe_scale: number
  gaussian_smoothing_sigma: number
}

/** Build the spec from a TrainingConfig's model section and the job's scaling (§13.4). */
export function modelSpecFrom(
  model: ModelConfigLike,
  opts: {nphotons: number; intensity_scale_trainable: boolean; probe_trainable: boolean; offset?: number; max_position_jitter?: number},
): ModelSpec {
  const {N, gridsize} = model
  encoderFilters(N, 1) // validates N
  if (!(AMP_ACTIVATIONS as readonly string[]).includes(model.amp_activation)) {
    throw new RangeError(`amp_activation must be one of ${AMP_ACTIVATIONS.join(', ')}, got '${model.amp_activation}'`)
  }
  if (model.gaussian_smoothing_sigma !== 0) {
    throw new RangeError(`gaussian_smoothing_sigma=${model.gaussian_smoothing_sigma} is not supported by the tfjs runner (only 0, as in the study)`)
  }
  return {
    N,
    gridsize,
    C: gridsize * gridsize,
    n_filters_scale: model.n_filters_scale,
    amp_activation: model.amp_activation as AmpActivation,
    object_big: model.object_big,
    probe_big: model.probe_big,
    probe_mask: model.probe_mask,
    pad_object: model.pad_object,
    probe_scale: model.probe_scale,
    gaussian_smoothing_sigma: model.gaussian_smoothing_sigma,
    padded_size: paddedSize(N, gridsize, opts.offset ?? 4, opts.max_position_jitter ?? 10),
    intensity_scale: Math.sqrt(opts.nphotons) / (N / 2),
    intensity_scale_trainable: opts.intensity_scale_trainable,
    probe_trainable: opts.probe_trainable,
  }
}
