/**
 * The PtychoPINN configuration (spec §10.1) as zod schemas; the TypeScript types come from them.
 * Field names are the reference's snake_case names. Paths are strings (POSIX or native; the legacy bridge
 * turns them into POSIX strings).
 *
 * Backends, decided here once:
 * - `TrainingConfig.backend` / `InferenceConfig.backend` keep the reference meaning: the model *framework*
 *   family, 'tensorflow' | 'pytorch'. It is what the legacy dict and a Python trainer see. The TF.js runner is
 *   a TensorFlow-family trainer, so its jobs carry 'tensorflow' here.
 * - The *compute* backend a runner should use ('auto' | 'tensorflow' | 'wasm' | 'cpu', plus 'pytorch' for a
 *   command runner driving the Python PyTorch trainer) is NOT a config field: it travels in
 *   RunnerContext.backend and is recorded per job in the manifest (`backend`, and `result.backend_used`).
 *   `legacyBackendFor()` maps a compute backend to the framework value stored in the config.
 */
import {z} from 'zod'

import {zodContractError} from '../errors.js'

const positiveInt = () => z.number().int().positive()
const weight01 = (name: string) =>
  z
    .number()
    .min(0, {message: `${name} must be in [0, 1]`})
    .max(1, {message: `${name} must be in [0, 1]`})

/** true when n is a positive integer power of two (1, 2, 4, ...) */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30
}

export const PATCH_SIZES = [64, 128, 256] as const
export const FRAMEWORK_BACKENDS = ['tensorflow', 'pytorch'] as const
export const COMPUTE_BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu', 'pytorch'] as const
export type FrameworkBackend = (typeof FRAMEWORK_BACKENDS)[number]
export type ComputeBackend = (typeof COMPUTE_BACKENDS)[number]
export const ComputeBackendSchema = z.enum(COMPUTE_BACKENDS)

/** The framework family recorded in TrainingConfig.backend for a runner's compute backend. */
export function legacyBackendFor(compute: string): FrameworkBackend {
  return compute === 'pytorch' ? 'pytorch' : 'tensorflow'
}

export const ModelConfigSchema = z
  .object({
    N: z
      .union([z.literal(64), z.literal(128), z.literal(256)], {message: 'N must be one of 64, 128, 256'})
      .default(64)
      .describe('patch size in pixels (64, 128 or 256)'),
    gridsize: z.number().int().positive({message: 'gridsize must be > 0'}).default(1).describe('patches per group side'),
    n_filters_scale: z
      .number()
      .int()
      .positive({message: 'n_filters_scale must be > 0'})
      .default(2)
      .describe('width multiplier of the encoder/decoder filters'),
    model_type: z.enum(['pinn', 'supervised']).default('pinn').describe('physics-informed or supervised model'),
    amp_activation: z
      .enum(['sigmoid', 'swish', 'softplus', 'relu'])
      .default('sigmoid')
      .describe('activation of the amplitude head'),
    object_big: z.boolean().default(true).describe('reassemble a shared object across the group (object.big)'),
    probe_big: z.boolean().default(true).describe('large probe support (probe.big)'),
    probe_mask: z.boolean().default(false).describe('apply a circular probe mask (probe.mask)'),
    pad_object: z.boolean().default(true).describe('pad the object before illumination'),
    probe_scale: z.number().positive({message: 'probe_scale must be > 0'}).default(4.0).describe('probe normalisation scale'),
    gaussian_smoothing_sigma: z
      .number()
      .min(0, {message: 'gaussian_smoothing_sigma must be >= 0'})
      .default(0.0)
      .describe('Gaussian smoothing of the object (0 = off)'),
  })
  .strict()
  .readonly()

export type ModelConfig = z.infer<typeof ModelConfigSchema>
export type ModelConfigInput = z.input<typeof ModelConfigSchema>

let warnedNImages = false
function warnNImages(): void {
  if (warnedNImages) return
  warnedNImages = true
  process.emitWarning('n_images is deprecated; use n_groups (n_groups was set from n_images)', 'DeprecationWarning')
}

const pathString = () => z.string().min(1, {message: 'path must not be empty'})

/** TrainingConfig fields before the n_images -> n_groups migration (used to derive CLI flags). */
export const TrainingConfigFields = z
  .object({
    model: ModelConfigSchema,
    train_data_file: pathString().nullable().default(null).describe('training NPZ'),
    test_data_file: pathString().nullable().default(null).describe('test NPZ'),
    batch_size: z
      .number()
      .int({message: 'batch_size must be a positive power of 2'})
      .refine(isPowerOfTwo, {message: 'batch_size must be a positive power of 2'})
      .default(16)
      .describe('training batch size (a power of two)'),
    nepochs: z.number().int().positive({message: 'nepochs must be > 0'}).default(50).describe('training epochs'),
    mae_weight: weight01('mae_weight').default(0.0).describe('weight of the MAE loss on amplitudes, in [0, 1]'),
    nll_weight: weight01('nll_weight').default(1.0).describe('weight of the Poisson NLL loss, in [0, 1]'),
    realspace_mae_weight: z.number().min(0).default(0.0).describe('weight of the real-space MAE loss'),
    realspace_weight: z.number().min(0).default(0.0).describe('weight of the real-space loss'),
    nphotons: z.number().positive({message: 'nphotons must be > 0'}).default(1e9).describe('photons per exposure (the dose)'),
    n_groups: positiveInt().nullable().default(null).describe('number of groups to train on (default 512)'),
    n_images: positiveInt().nullable().default(null).describe('deprecated alias of n_groups'),
    n_subsample: positiveInt().nullable().default(null).describe('images to subsample before grouping'),
    subsample_seed: z.number().int().nullable().default(null).describe('seed of the subsampling'),
    neighbor_count: positiveInt().default(4).describe('K of the K-nearest-neighbour grouping'),
    enable_oversampling: z.boolean().default(false).describe('K-choose-C oversampling of groups'),
    neighbor_pool_size: positiveInt().nullable().default(null).describe('neighbour pool size for oversampling'),
    positions_provided: z.boolean().default(true).describe('scan positions are given (positions.provided)'),
    probe_trainable: z.boolean().default(false).describe('train the probe (probe.trainable)'),
    intensity_scale_trainable: z
      .boolean()
      .default(true)
      .describe('train the log intensity scale (intensity_scale.trainable)'),
    output_dir: pathString().default('training_outputs').describe('output folder (output_prefix)'),
    sequential_sampling: z.boolean().default(false).describe('take groups in order instead of randomly'),
    backend: z.enum(FRAMEWORK_BACKENDS).default('tensorflow').describe('model framework family'),
    torch_loss_mode: z.enum(['poisson', 'mae']).default('poisson').describe('loss of the PyTorch trainer'),
  })
  .strict()

/** TrainingConfig with the reference's __post_init__: n_groups <- n_images (deprecated) <- 512. */
export const TrainingConfigSchema = TrainingConfigFields.transform((c) => {
  let n_groups = c.n_groups
  if (n_groups === null && c.n_images !== null) {
    warnNImages()
    n_groups = c.n_images
  }
  return Object.freeze({...c, n_groups: n_groups ?? 512})
})

export type TrainingConfig = z.infer<typeof TrainingConfigSchema>
export type TrainingConfigInput = z.input<typeof TrainingConfigSchema>

export const InferenceConfigFields = z
  .object({
    model: ModelConfigSchema,
    model_path: pathString().describe('model bundle folder or file'),
    test_data_file: pathString().describe('test NPZ'),
    n_groups: positiveInt().nullable().default(null),
    n_images: positiveInt().nullable().default(null),
    n_subsample: positiveInt().nullable().default(null),
    subsample_seed: z.number().int().nullable().default(null),
    neighbor_count: positiveInt().default(4),
    enable_oversampling: z.boolean().default(false),
    neighbor_pool_size: positiveInt().nullable().default(null),
    debug: z.boolean().default(false),
    output_dir: pathString().default('inference_outputs'),
    backend: z.enum(FRAMEWORK_BACKENDS).default('tensorflow'),
  })
  .strict()

/** InferenceConfig: the same n_images migration, but no 512 default (n_groups may stay null). */
export const InferenceConfigSchema = InferenceConfigFields.transform((c) => {
  let n_groups = c.n_groups
  if (n_groups === null && c.n_images !== null) {
    warnNImages()
    n_groups = c.n_images
  }
  return Object.freeze({...c, n_groups})
})

export type InferenceConfig = z.infer<typeof InferenceConfigSchema>
export type InferenceConfigInput = z.input<typeof InferenceConfigSchema>

/** Parse with a clear ContractError naming the source (a file or 'flags') on failure. */
export function parseModelConfig(input: unknown, source = 'ModelConfig'): ModelConfig {
  const r = ModelConfigSchema.safeParse(input)
  if (!r.success) throw zodContractError(source, r.error)
  return r.data
}

export function parseTrainingConfig(input: unknown, source = 'TrainingConfig'): TrainingConfig {
  const r = TrainingConfigSchema.safeParse(input)
  if (!r.success) throw zodContractError(source, r.error)
  return r.data
}

export function parseInferenceConfig(input: unknown, source = 'InferenceConfig'): InferenceConfig {
  const r = InferenceConfigSchema.safeParse(input)
  if (!r.success) throw zodContractError(source, r.error)
  return r.data
}
