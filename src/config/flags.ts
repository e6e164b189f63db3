/**
 * CLI flags for training options, derived from the TrainingConfig / ModelConfig zod schemas so flags and
 * config cannot drift: every overridable field becomes a kebab-case flag (batch_size -> --batch-size),
 * its kind, choices, help text and default come from the schema, and values are validated by the schema.
 */
import {Flags} from '@oclif/core'
import type {Interfaces} from '@oclif/core'
import type {z} from 'zod'

import {ModelConfigSchema, TrainingConfigFields} from './schemas.js'

/** Fields the pipeline sets per job (or that are deprecated): never flags. */
export const PIPELINE_OWNED_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'train_data_file',
  'test_data_file',
  'output_dir',
  'nphotons',
  'backend',
  'n_images',
])
export const PIPELINE_OWNED_MODEL_FIELDS: ReadonlySet<string> = new Set(['N', 'gridsize'])

export type FieldKind = 'integer' | 'number' | 'boolean' | 'enum' | 'string'

export interface OptionField {
  /** 'training' for TrainingConfig fields, 'model' for ModelConfig fields */
  scope: 'training' | 'model'
  field: string
  flag: string
  kind: FieldKind
  options?: string[]
  description: string
  default: unknown
}

interface ZodLike {
  type: string
  description?: string
  def: {innerType?: ZodLike; defaultValue?: unknown; entries?: Record<string, string>; format?: string | null}
  isInt?: boolean
  format?: string | null
}

function describeField(schema: ZodLike): {kind: FieldKind; options?: string[]; description: string; default: unknown} {
  let s: ZodLike | undefined = schema
  let description = schema.description ?? ''
  let def: unknown
  while (s && (s.type === 'default' || s.type === 'nullable' || s.type === 'optional' || s.type === 'readonly')) {
    if (s.type === 'default') def = s.def.defaultValue
    s = s.def.innerType
    description ||= s?.description ?? ''
  }
  if (!s) return {kind: 'string', description, default: def}
  switch (s.type) {
    case 'boolean':
      return {kind: 'boolean', description, default: def}
    case 'number':
      return {kind: s.isInt || s.format === 'safeint' ? 'integer' : 'number', description, default: def}
    case 'enum':
      return {kind: 'enum', options: Object.values(s.def.entries ?? {}), description, default: def}
    default:
      return {kind: 'string', description, default: def}
  }
}

export function kebab(field: string): string {
  return field.replaceAll('_', '-').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

/** The overridable option fields, training first then model, in schema order. */
export function optionFields(): OptionField[] {
  const out: OptionField[] = []
  for (const [field, schema] of Object.entries(TrainingConfigFields.shape)) {
    if (PIPELINE_OWNED_FIELDS.has(field)) continue
    out.push({scope: 'training', field, flag: kebab(field), ...describeField(schema as unknown as ZodLike)})
  }
  const modelShape = (ModelConfigSchema as unknown as {def: {innerType: {shape: Record<string, unknown>}}}).def.innerType.shape
  for (const [field, schema] of Object.entries(modelShape)) {
    if (PIPELINE_OWNED_MODEL_FIELDS.has(field)) continue
    out.push({scope: 'model', field, flag: kebab(field), ...describeField(schema as ZodLike)})
  }
  return out
}

const HELP_GROUP = 'TRAINING OPTIONS'

/** oclif flag definitions for the option fields (no defaults set: an absent flag keeps the config default). */
export function trainingOptionFlags(): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {}
  for (const f of optionFields()) {
    // a null default means "not set" (the description says what then happens): no "[default: null]" noise
    const shown = f.default === undefined || f.default === null ? '' : ` [default: ${typeof f.default === 'string' ? f.default : JSON.stringify(f.default)}]`
    const description = `${f.description || f.field}${shown} (${f.scope === 'model' ? 'ModelConfig' : 'TrainingConfig'}.${f.field})`
    const common = {description, helpGroup: HELP_GROUP}
    switch (f.kind) {
      case 'boolean':
        flags[f.flag] = Flags.boolean({...common, allowNo: true})
        break
      case 'integer':
        flags[f.flag] = Flags.integer({...common, helpValue: '<int>'})
        break
      case 'enum':
        flags[f.flag] = Flags.string({...common, options: f.options})
        break
      case 'number':
        flags[f.flag] = Flags.string({...common, helpValue: '<number>'})
        break
      default:
        flags[f.flag] = Flags.string(common)
    }
  }
  return flags
}

export interface OptionOverrides {
  [field: string]: unknown
  model?: Record<string, unknown>
}

/** The overrides a set of parsed flags asks for (only flags that were given). */
export function overridesFromFlags(flags: Record<string, unknown>): OptionOverrides {
  const out: OptionOverrides = {}
  const model: Record<string, unknown> = {}
  for (const f of optionFields()) {
    const raw = flags[f.flag]
    if (raw === undefined) continue
    const value = f.kind === 'number' && typeof raw === 'string' ? (raw.trim() === '' ? Number.NaN : Number(raw)) : raw
    if (f.scope === 'model') model[f.field] = value
    else out[f.field] = value
  }
  if (Object.keys(model).length > 0) out.model = model
  return out
}

export type SchemaShape = z.ZodRawShape
