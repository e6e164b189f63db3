/**
 * The legacy flat parameter dict (PtychoPINN's `params.cfg`) and the bridge that fills it from a config
 * (spec §10.2-10.3, CONFIG-001). Unlike the reference, there is no module-level singleton: the pipeline
 * starts every job from a fresh copy of LEGACY_DEFAULTS, so no state leaks between jobs.
 */
import {toPosix} from '../io/paths.js'
import type {InferenceConfig, ModelConfig, TrainingConfig} from './schemas.js'

export type LegacyValue = string | number | boolean | null | LegacyValue[] | {[key: string]: LegacyValue}
export type LegacyDict = Record<string, LegacyValue>

/** Config field -> legacy key (spec §10.2). */
export const KEY_MAPPINGS: Readonly<Record<string, string>> = Object.freeze({
  object_big: 'object.big',
  probe_big: 'probe.big',
  probe_mask: 'probe.mask',
  probe_trainable: 'probe.trainable',
  intensity_scale_trainable: 'intensity_scale.trainable',
  positions_provided: 'positions.provided',
  output_dir: 'output_prefix',
  train_data_file: 'train_data_file_path',
  test_data_file: 'test_data_file_path',
})

/** Config fields holding paths: written into the legacy dict as POSIX strings. */
const PATH_FIELDS = new Set(['train_data_file', 'test_data_file', 'output_dir', 'model_path'])

/** `params.cfg` defaults of the reference (spec §10.3). */
export const LEGACY_DEFAULTS = Object.freeze({
  N: 128,
  offset: 4,
  gridsize: 2,
  outer_offset_train: null,
  outer_offset_test: null,
  batch_size: 16,
  nepochs: 60,
  n_filters_scale: 2,
  output_prefix: 'outputs',
  big_gridsize: 10,
  max_position_jitter: 10,
  sim_jitter_scale: 0.0,
  default_probe_scale: 0.7,
  mae_weight: 0.0,
  nll_weight: 1.0,
  tv_weight: 0.0,
  realspace_mae_weight: 0.0,
  realspace_weight: 0.0,
  nphotons: 1e9,
  nimgs_train: 9,
  nimgs_test: 3,
  data_source: 'generic',
  'probe.trainable': false,
  'intensity_scale.trainable': false,
  'positions.provided': false,
  'object.big': true,
  'probe.big': false,
  probe_scale: 10.0,
  set_phi: false,
  'probe.mask': true,
  pad_object: true,
  model_type: 'pinn',
  label: '',
  size: 392,
  amp_activation: 'sigmoid',
  h5_path: 'wts.h5',
  npseed: 42,
  debug: true,
  gaussian_smoothing_sigma: 0.0,
  use_xla_translate: true,
} as const satisfies LegacyDict)

export type LegacyDefaults = typeof LEGACY_DEFAULTS

/** A fresh, mutable copy of the legacy defaults: the starting dict of one job. */
export function freshLegacyDict(): LegacyDict {
  return {...LEGACY_DEFAULTS}
}

type AnyConfig = TrainingConfig | InferenceConfig | ModelConfig

function plain(value: unknown): LegacyValue {
  if (value === undefined) return null
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  if (Array.isArray(value)) return value.map(plain)
  if (typeof value === 'object') {
    const out: {[key: string]: LegacyValue} = {}
    for (const [k, v] of Object.entries(value as object)) out[k] = plain(v)
    return out
  }
  return String(value)
}

/**
 * `dataclass_to_legacy_dict`: the config as a flat legacy dict. The nested model is flattened to the top
 * level, KEY_MAPPINGS renames are applied, paths become POSIX strings. null values are kept here
 * (updateLegacyDict skips them).
 */
export function toLegacyDict(config: AnyConfig): LegacyDict {
  const d: Record<string, LegacyValue> = {}
  for (const [k, v] of Object.entries(config)) d[k] = plain(v)
  if ('model' in d) {
    const model = d.model as {[key: string]: LegacyValue}
    delete d.model
    Object.assign(d, model)
  }
  for (const key of Object.keys(d)) {
    const value = d[key]
    const converted = PATH_FIELDS.has(key) && typeof value === 'string' ? toPosix(value) : value
    if (key in KEY_MAPPINGS) {
      delete d[key]
      d[KEY_MAPPINGS[key]] = converted
    } else {
      d[key] = converted
    }
  }
  // fallback of the reference: any output_dir left becomes output_prefix
  if ('output_dir' in d) {
    d.output_prefix = d.output_dir
    delete d.output_dir
  }
  return d
}

/**
 * `update_legacy_dict`: write the config's values into `dict` (mutated and returned). null/undefined values
 * are skipped, so existing keys keep their values; nothing is deleted.
 */
export function updateLegacyDict(dict: LegacyDict, config: AnyConfig): LegacyDict {
  for (const [k, v] of Object.entries(toLegacyDict(config))) {
    if (v === null || v === undefined) continue
    dict[k] = v
  }
  return dict
}

/** The bridge signature the pipeline calls exactly once per job, before the runner (CONFIG-001). */
export type LegacyBridge = (dict: LegacyDict, config: TrainingConfig) => LegacyDict

function num(dict: LegacyDict, key: string): number {
  const v = dict[key]
  if (typeof v !== 'number') throw new TypeError(`legacy key '${key}' must be a number, got ${JSON.stringify(v)}`)
  return v
}

/** get_bigN() = N + (gridsize - 1) * offset */
export function getBigN(dict: LegacyDict): number {
  return num(dict, 'N') + (num(dict, 'gridsize') - 1) * num(dict, 'offset')
}

/** get_padding_size() = (gridsize - 1) * offset + max_position_jitter */
export function getPaddingSize(dict: LegacyDict): number {
  return (num(dict, 'gridsize') - 1) * num(dict, 'offset') + num(dict, 'max_position_jitter')
}

/** get_padded_size() = bigN + max_position_jitter */
export function getPaddedSize(dict: LegacyDict): number {
  return getBigN(dict) + num(dict, 'max_position_jitter')
}

export const LEGACY_DATA_SOURCES = [
  'lines',
  'grf',
  'experimental',
  'points',
  'testimg',
  'diagonals',
  'xpp',
  'V',
  'generic',
] as const

/** params.validate(): the problems found (empty when valid). */
export function validateLegacyDict(dict: LegacyDict): string[] {
  const problems: string[] = []
  const ds = dict.data_source
  if (typeof ds !== 'string' || !(LEGACY_DATA_SOURCES as readonly string[]).includes(ds)) {
    problems.push(`data_source must be one of ${LEGACY_DATA_SOURCES.join(', ')}, got ${JSON.stringify(ds)}`)
  }
  const rsm = dict.realspace_mae_weight
  const rs = dict.realspace_weight
  if (typeof rsm === 'number' && rsm > 0 && !(typeof rs === 'number' && rs > 0)) {
    problems.push('realspace_mae_weight > 0 requires realspace_weight > 0')
  }
  return problems
}
