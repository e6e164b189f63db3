/**
 * The final model bundle: ONE zip file, `model_bundle.zip`, in the job folder.
 *
 * The reference saves `wts.h5.zip` (Keras .keras models + dill-pickled params); that format cannot be produced
 * or read without Python, so the port writes its own documented format instead (same role, different name):
 *   bundle.json   {format: 'ptychopinn-tfjs-bundle', format_version: '1.0', spec (architecture: every ModelSpec
 *                 field), weights layout [{name, shape, offset}], intensity_scale (closed form), trained_log_scale,
 *                 tfjs_version, backend, created, training summary}
 *   weights.bin   float32 little-endian, every variable in bundle.json's order (network weights, log_scale,
 *                 the normalised probe re/im)
 *   params.json   the legacy params dict of the job plus intensity_scale and _version '1.0' (params.dill's role)
 */
import {readFile} from 'node:fs/promises'
import {strFromU8, strToU8, unzipSync, zipSync} from 'fflate'
import {z} from 'zod'
import {ContractError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import {AMP_ACTIVATIONS, type ModelSpec} from './architecture.js'
import {currentBackend, ensureBackend} from './backend.js'

export const BUNDLE_FILE_NAME = 'model_bundle.zip'
export const BUNDLE_FORMAT = 'ptychopinn-tfjs-bundle'
export const BUNDLE_FORMAT_VERSION = '1.0'

export const ModelSpecSchema = z.object({
  N: z.union([z.literal(64), z.literal(128), z.literal(256)]),
  gridsize: z.number().int().positive(),
  C: z.number().int().positive(),
  n_filters_scale: z.number().int().positive(),
  amp_activation: z.enum(AMP_ACTIVATIONS),
  object_big: z.boolean(),
  probe_big: z.boolean(),
  probe_mask: z.boolean(),
  pad_object: z.boolean(),
  probe_scale: z.number().positive(),
  gaussian_smoothing_sigma: z.number().min(0),
  padded_size: z.number().int().positive(),
  intensity_scale: z.number().positive(),
  intensity_scale_trainable: z.boolean(),
  probe_trainable: z.boolean(),
})

export const BundleManifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  format_version: z.string(),
  created: z.string(),
  spec: ModelSpecSchema,
  weights: z.array(z.object({name: z.string(), shape: z.array(z.number().int().nonnegative()), offset: z.number().int().nonnegative()})),
  intensity_scale: z.number().positive(),
  trained_log_scale: z.number(),
  tfjs_version: z.string(),
  backend: z.string(),
  training: z.record(z.string(), z.unknown()).optional(),
})
export type BundleManifest = z.infer<typeof BundleManifestSchema>

export interface LoadedBundle {
  model: import('./ptychopinn.js').PtychoPinn
  /** the legacy params dict saved with the model (plus intensity_scale and _version) */
  params: Record<string, unknown>
  intensityScale: number
  formatVersion: string
  N: number
  gridsize: number
  spec: ModelSpec
  manifest: BundleManifest
  dispose(): void
}

/** Write the bundle of a trained model atomically. */
export async function saveBundle(
  file: string,
  model: import('./ptychopinn.js').PtychoPinn,
  opts: {legacyParams: Record<string, unknown>; backend: string; training?: Record<string, unknown>},
): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core')
  const vars = await model.readVariables()
  const total = vars.reduce((a, v) => a + v.data.length, 0)
  const buf = new Float32Array(total)
  const layout: BundleManifest['weights'] = []
  let off = 0
  for (const v of vars) {
    buf.set(v.data, off)
    layout.push({name: v.name, shape: v.shape, offset: off})
    off += v.data.length
  }
  const logScale = vars.find((v) => v.name === 'log_scale')!.data[0]
  const manifest: BundleManifest = BundleManifestSchema.parse({
    format: BUNDLE_FORMAT,
    format_version: BUNDLE_FORMAT_VERSION,
    created: new Date().toISOString(),
    spec: model.spec,
    weights: layout,
    intensity_scale: model.spec.intensity_scale,
    trained_log_scale: logScale,
    tfjs_version: tf.version_core,
    backend: opts.backend,
    training: opts.training,
  })
  const params = {...opts.legacyParams, intensity_scale: model.spec.intensity_scale, _version: '1.0'}
  const zip = zipSync(
    {
      'bundle.json': strToU8(JSON.stringify(manifest, null, 2)),
      'weights.bin': new Uint8Array(buf.buffer),
      'params.json': strToU8(JSON.stringify(params, null, 2)),
    },
    {level: 6, mtime: new Date('2000-01-01T00:00:00Z')},
  )
  await writeFileAtomic(file, zip)
}

/** Read a bundle and rebuild its model on the active tfjs backend (auto-selected if none is active yet). */
export async function loadBundle(file: string): Promise<LoadedBundle> {
  const raw = new Uint8Array(await readFile(file))
  let members: Record<string, Uint8Array>
  try {
    members = unzipSync(raw)
  } catch (error) {
    throw new ContractError(file, undefined, `not a zip file (${(error as Error).message})`)
  }
  for (const m of ['bundle.json', 'weights.bin', 'params.json']) {
    if (!members[m]) throw new ContractError(file, m, `a ${BUNDLE_FORMAT} bundle must contain ${m}`)
  }
  let manifestRaw: unknown
  try {
    manifestRaw = JSON.parse(strFromU8(members['bundle.json']))
  } catch {
    throw new ContractError(file, 'bundle.json', 'valid JSON')
  }
  const parsed = BundleManifestSchema.safeParse(manifestRaw)
  if (!parsed.success) throw new ContractError(file, 'bundle.json', `a ${BUNDLE_FORMAT} manifest:\n${z.prettifyError(parsed.error)}`)
  const manifest = parsed.data
  if (manifest.format_version.split('.')[0] !== BUNDLE_FORMAT_VERSION.split('.')[0]) {
    throw new ContractError(file, 'bundle.json', `format_version ${BUNDLE_FORMAT_VERSION.split('.')[0]}.x, got ${manifest.format_version}`)
  }
  const params = JSON.parse(strFromU8(members['params.json'])) as Record<string, unknown>
  const bin = members['weights.bin']
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength))
  const arrays = manifest.weights.map((w) => {
    const n = w.shape.reduce((a, b) => a * b, 1)
    if (w.offset + n > floats.length) throw new ContractError(file, 'weights.bin', `${w.name} to lie within the file`)
    return {name: w.name, shape: w.shape, data: floats.subarray(w.offset, w.offset + n)}
  })
  if (!currentBackend()) await ensureBackend('auto')
  const {PtychoPinn} = await import('./ptychopinn.js')
  const spec = manifest.spec as ModelSpec
  const probeRe = arrays.find((a) => a.name === 'probe/re')
  const probeIm = arrays.find((a) => a.name === 'probe/im')
  if (!probeRe || !probeIm) throw new ContractError(file, 'weights.bin', 'probe/re and probe/im arrays')
  // the saved probe is already normalised (and masked); build with it, then assign every weight
  const model = new PtychoPinn({...spec, probe_mask: false}, {re: new Float32Array(probeRe.data), im: new Float32Array(probeIm.data)})
  try {
    model.assignVariables(arrays)
  } catch (error) {
    model.dispose()
    throw new ContractError(file, 'weights.bin', (error as Error).message)
  }
  return {
    model,
    params,
    intensityScale: manifest.intensity_scale,
    formatVersion: manifest.format_version,
    N: spec.N,
    gridsize: spec.gridsize,
    spec,
    manifest,
    dispose: () => model.dispose(),
  }
}
