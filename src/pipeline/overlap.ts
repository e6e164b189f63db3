/**
 * Phase D: overlap views (spec 5.1, v2 metrics). For every dose and view: subsample each phase C split with
 * one seeded mask, filter the dataset by it, compute the overlap metrics on the kept positions, and write
 * `{output_root}/dose_{d}/{view}/{view}_{split}.npz` (the primary name phase E looks for), `{split}_metrics.json`
 * and `metrics_bundle.json`, plus `{output_root}/overlap_manifest.json` (zod-validated, atomic).
 * The NPZ is only subsampled; the groups are not stored (training regroups on its own, spec 15.4).
 */
import {randomBytes} from 'node:crypto'
import {existsSync, readdirSync} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import path from 'node:path'

import {z} from 'zod'

import {ContractError, MissingInputError, OutputError, UsageError, zodContractError} from '../errors.js'
import {readJsonFile} from '../io/json-file.js'
import {asOutputError, writeJsonAtomic} from '../io/atomic.js'
import {digestFile} from '../io/hash.js'
import {type NdArray, toFloat64} from '../io/ndarray.js'
import {metadataArray, readNpz, readNpzMetadata, writeNpz} from '../io/npz.js'
import {toPosixRelative} from '../io/paths.js'
import {validateNpzFile} from '../data/dataset-contract.js'
import {filterDatasetByMask} from '../overlap/filter-dataset.js'
import {computeOverlapMetrics, coordsFrom, METRICS_VERSION, subsampleImages} from '../overlap/metrics.js'
import {doseDirName, SPLITS, type Split} from '../overlap/layout.js'

export const OVERLAP_MANIFEST = 'overlap_manifest.json'
export const OVERLAP_MANIFEST_VERSION = '1.0'

export interface OverlapViewSpec {
  name: string
  gridsize: number
  s_img: number
  n_groups: number
  neighbor_count: number
  probe_diameter_px: number
  rng_seed_subsample: number
  rng_seed_grouping: number
}

export const overlapViewSpecSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a view name is a folder name: letters, digits, _ and -'),
  gridsize: z.union([z.literal(1), z.literal(2)]),
  s_img: z.number().gt(0).lte(1),
  n_groups: z.number().int().min(1),
  neighbor_count: z.number().int().min(1),
  probe_diameter_px: z.number().positive(),
  rng_seed_subsample: z.number().int(),
  rng_seed_grouping: z.number().int(),
})

const unit = z.number().min(0).max(1)
/** The per-split metrics JSON (OverlapMetrics.to_dict()): no Metric 1 for gs1. */
export const overlapMetricsSchema = z.object({
  metrics_version: z.literal(METRICS_VERSION),
  gridsize: z.number().int(),
  s_img: z.number(),
  n_groups: z.number().int(),
  neighbor_count: z.number().int(),
  probe_diameter_px: z.number(),
  rng_seed_subsample: z.number(),
  rng_seed_grouping: z.number(),
  metric_1_group_based_avg: unit.optional(),
  metric_2_image_based_avg: unit,
  metric_3_group_to_group_avg: unit,
  n_images_total: z.number().int(),
  n_images_subsampled: z.number().int(),
  n_unique_images: z.number().int(),
  n_groups_actual: z.number().int(),
  geometry_acceptance_bound: z.number().min(0).max(0.1),
  effective_min_acceptance: z.number().positive(),
})
export type OverlapMetricsDict = z.infer<typeof overlapMetricsSchema>

export const metricsBundleSchema = z.object({train: overlapMetricsSchema, test: overlapMetricsSchema})

const fileRecord = z.object({path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size_bytes: z.number().int().nonnegative()})

export const overlapViewEntrySchema = z.object({
  train: z.string(),
  test: z.string(),
  train_metrics: z.string(),
  test_metrics: z.string(),
  metrics_bundle: z.string(),
  preset: overlapViewSpecSchema,
  metrics: metricsBundleSchema,
  sources: z.object({train: fileRecord, test: fileRecord}),
  files: z.object({train: fileRecord, test: fileRecord}),
})

export const overlapManifestSchema = z.object({
  schema_version: z.literal(OVERLAP_MANIFEST_VERSION),
  tool: z.string(),
  tool_version: z.string(),
  created_utc: z.string(),
  command_line: z.array(z.string()).optional(),
  phase_c_root: z.string(),
  phase_d_root: z.string(),
  doses: z.record(z.string(), z.object({dose: z.number().positive(), views: z.record(z.string(), overlapViewEntrySchema)})),
})
export type OverlapManifest = z.infer<typeof overlapManifestSchema>
export type OverlapViewEntry = z.infer<typeof overlapViewEntrySchema>

export interface OverlapOptions {
  phaseCRoot: string
  outputRoot: string
  doses: number[]
  views: OverlapViewSpec[]
  /** deflate the NPZ members; default false */
  compress?: boolean
  commandLine?: string[]
  toolVersion?: string
  onProgress?: (message: string) => void
  /** the DATA-001 check of each written view file (default validateNpzFile, with the view's gridsize and K) */
  validate?: typeof validateNpzFile
}

export interface OverlapResult {
  manifestPath: string
  manifest: OverlapManifest
}

/** Read and validate a phase D manifest; undefined when there is none. */
export async function readOverlapManifest(root: string): Promise<OverlapManifest | undefined> {
  return readJsonFile(path.join(root, OVERLAP_MANIFEST), overlapManifestSchema)
}

/** The phase C split file of a dose: `patched_{split}.npz`, else the first `*{split}.npz` (the reference's glob). */
export function findPhaseCSplit(phaseCRoot: string, dose: number, split: Split): string {
  const dir = path.join(phaseCRoot, doseDirName(dose))
  const primary = path.join(dir, `patched_${split}.npz`)
  if (existsSync(primary)) return primary
  if (existsSync(dir)) {
    const match = readdirSync(dir)
      .filter((f) => f.endsWith(`${split}.npz`))
      .sort()[0]
    if (match) return path.join(dir, match)
  }
  throw new MissingInputError(primary, `phase C ${split} split for dose ${dose}`)
}

function coordinateArray(data: Record<string, NdArray>, key: string, file: string): Float64Array {
  const arr = data[key]
  if (!arr) throw new ContractError(file, key, 'missing: phase D needs xcoords and ycoords (DATA-001)')
  if (arr.shape.length !== 1) throw new ContractError(file, key, `must be 1-D, got shape (${arr.shape.join(', ')})`)
  let values: Float64Array
  try {
    values = toFloat64(arr)
  } catch {
    throw new ContractError(file, key, `must be numeric (float64), got dtype=${arr.dtype}`)
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new ContractError(file, key, `must be finite, found ${values[i]} at index ${i}`)
  }
  return values
}

/** Run phase D for every dose and view. */
export async function generateOverlapViews(opts: OverlapOptions): Promise<OverlapResult> {
  const log = opts.onProgress ?? (() => {})
  const compress = opts.compress ?? false
  if (opts.doses.length === 0) throw new UsageError('no doses selected')
  if (opts.views.length === 0) throw new UsageError('no views selected')
  for (const v of opts.views) {
    const parsed = overlapViewSpecSchema.safeParse(v)
    if (!parsed.success) throw new UsageError(`view '${v.name}': invalid values:\n${z.prettifyError(parsed.error)}`)
    // the files of such a view would fail their own DATA-001 check: refuse before anything is read or written
    const C = v.gridsize * v.gridsize
    if (v.gridsize > 1 && v.neighbor_count < C) {
      throw new UsageError(
        `view '${v.name}': neighbor_count=${v.neighbor_count} is less than C = gridsize² = ${C} (OVERSAMPLING-001): ` +
          `pass --neighbor-count ${C} or more (or --gridsize 1)`,
      )
    }
  }
  const root = opts.outputRoot
  const previous = await readOverlapManifest(root).catch(() => undefined)
  const doses: OverlapManifest['doses'] = {}
  if (previous && path.resolve(previous.phase_c_root) === path.resolve(opts.phaseCRoot)) {
    for (const [k, v] of Object.entries(previous.doses)) {
      const views: Record<string, OverlapViewEntry> = {}
      for (const [name, e] of Object.entries(v.views)) if (existsSync(path.join(root, e.train)) && existsSync(path.join(root, e.test))) views[name] = e
      if (Object.keys(views).length > 0) doses[k] = {dose: v.dose, views}
    }
  }

  const validate = opts.validate ?? validateNpzFile
  // temporary files of the view being written; removed if anything fails before they are renamed
  const pending: string[] = []
  try {
    await writeViews()
  } catch (error) {
    await Promise.all(pending.map((f) => rm(f, {force: true})))
    throw error
  }

  async function writeViews(): Promise<void> {
    for (const dose of opts.doses) {
      const dirName = doseDirName(dose)
      // read each split once for all views
      const inputs = {} as Record<Split, {file: string; data: Record<string, NdArray>; meta: unknown; x: Float64Array; y: Float64Array; digest: {sha256: string; size_bytes: number}}>
      for (const split of SPLITS) {
        const file = findPhaseCSplit(opts.phaseCRoot, dose, split)
        const data = await readNpz(file)
        const x = coordinateArray(data, 'xcoords', file)
        const y = coordinateArray(data, 'ycoords', file)
        if (x.length !== y.length) throw new ContractError(file, 'ycoords', `length ${y.length} != xcoords length ${x.length}`)
        if (x.length === 0) throw new ContractError(file, 'xcoords', 'no scan positions: cannot build overlap views of an empty split')
        const md = await readNpzMetadata(file)
        inputs[split] = {file, data, meta: md.kind === 'json' ? md.value : undefined, x, y, digest: await digestFile(file)}
      }
      const entry = doses[dirName] ?? {dose, views: {}}
      for (const view of opts.views) {
        const viewDir = path.join(root, dirName, view.name)
        const metrics = {} as Record<Split, OverlapMetricsDict>
        const written = {} as Record<Split, string>
        const staged = {} as Record<Split, string>
        for (const split of SPLITS) {
          const input = inputs[split]
          const n = input.x.length
          const mask = subsampleImages(n, view.s_img, view.rng_seed_subsample)
          const filtered = filterDatasetByMask(input.data, mask)
          const coords = coordsFrom(filtered.xcoords ? toFloat64(filtered.xcoords) : [], filtered.ycoords ? toFloat64(filtered.ycoords) : [])
          // never more groups than kept images: a seed drawn twice makes two identical groups, which Metric 3
          // would count as perfect overlap (only small data sets hit this cap; the fly64 scale does not)
          const nGroups = Math.min(view.n_groups, coords.x.length)
          let m: ReturnType<typeof computeOverlapMetrics>
          try {
            m = computeOverlapMetrics(coords, {
              gridsize: view.gridsize,
              sImg: view.s_img,
              nGroups,
              neighborCount: view.neighbor_count,
              probeDiameterPx: view.probe_diameter_px,
              rngSeedSubsample: view.rng_seed_subsample,
              rngSeedGrouping: view.rng_seed_grouping,
              coordsAreSubsampled: true,
              nImagesTotal: n,
            })
          } catch (error) {
            if (error instanceof UsageError) {
              throw new UsageError(`${dirName}/${view.name} ${split} (${path.basename(input.file)}, ${coords.x.length} of ${n} images kept): ${error.message}`)
            }
            throw error
          }
          const dict = overlapMetricsSchema.parse(m.toDict())
          const phaseCMeta = input.meta && typeof input.meta === 'object' && !Array.isArray(input.meta) ? (input.meta as Record<string, unknown>) : {}
          const priorTransformations = Array.isArray(phaseCMeta.data_transformations) ? phaseCMeta.data_transformations : []
          const v2 = {
            gridsize: view.gridsize,
            s_img: view.s_img,
            n_groups: nGroups,
            n_groups_requested: view.n_groups,
            neighbor_count: view.neighbor_count,
            probe_diameter_px: view.probe_diameter_px,
            rng_seed_subsample: view.rng_seed_subsample,
            rng_seed_grouping: view.rng_seed_grouping,
            metrics_version: METRICS_VERSION,
            geometry_acceptance_bound: dict.geometry_acceptance_bound,
            effective_min_acceptance: dict.effective_min_acceptance,
          }
          const metadata = {
            ...phaseCMeta,
            ...v2,
            overlap_view: view.name,
            dose,
            source_file: path.basename(input.file),
            source_sha256: input.digest.sha256,
            n_images_total: n,
            n_images_subsampled: dict.n_images_subsampled,
            data_transformations: [
              ...priorTransformations,
              {tool: 'overlap_views', operation: 'subsample', parameters: {...v2, overlap_view: view.name, source_file: path.basename(input.file)}},
            ],
          }
          // written under a temporary name and renamed only once both splits pass DATA-001: a failed view never
          // leaves a file that phase E would pick up (nor replaces a good one from an earlier run)
          const out = path.join(viewDir, `${view.name}_${split}.npz`)
          const tmp = path.join(viewDir, `.${view.name}_${split}.${process.pid}-${randomBytes(4).toString('hex')}.partial.npz`)
          pending.push(tmp)
          try {
            await writeNpz(tmp, {...filtered, _metadata: metadataArray(metadata)}, {compress})
          } catch (error) {
            // name the file the user knows (the view file), not the temporary one
            const cause = error instanceof OutputError ? (error.cause as NodeJS.ErrnoException | undefined) : undefined
            if (!cause) throw error
            const atTemp = cause.path !== undefined && path.dirname(path.resolve(cause.path)) === path.resolve(viewDir) && path.basename(cause.path).startsWith('.')
            throw asOutputError(out, atTemp ? Object.assign(new Error(cause.message), {code: cause.code}) : cause)
          }
          const report = await validate(tmp, {gridsize: view.gridsize, neighborCount: view.neighbor_count})
          const errors = report.findings.filter((f) => f.level === 'error').map((f) => `${f.field}: ${f.message}`)
          if (report.status !== 'ok' || errors.length > 0) {
            // a bad phase C file is named as the culprit; otherwise the view's settings are
            const source = await validate(input.file, {})
            const sourceErrors = source.findings.filter((f) => f.level === 'error').map((f) => `${f.field}: ${f.message}`)
            if (source.status !== 'ok' || sourceErrors.length > 0) {
              throw new ContractError(input.file, undefined, `phase C input failed DATA-001 validation (${source.status}):\n  ${sourceErrors.join('\n  ')}`)
            }
            throw new ContractError(
              out,
              undefined,
              `would fail DATA-001 validation (${report.status}), so it was not written (made from ${input.file}):\n  ${errors.join('\n  ')}`,
            )
          }
          metrics[split] = dict
          written[split] = out
          staged[split] = tmp
        }
        for (const split of SPLITS) {
          await rename(staged[split], written[split]).catch((error: unknown) => {
            throw asOutputError(written[split], error)
          })
        }
        pending.length = 0
        for (const split of SPLITS) await writeJsonAtomic(path.join(viewDir, `${split}_metrics.json`), metrics[split])
        const bundle = metricsBundleSchema.parse(metrics)
        await writeJsonAtomic(path.join(viewDir, 'metrics_bundle.json'), bundle)
        const rel = (p: string): string => toPosixRelative(root, p)
        entry.views[view.name] = {
          train: rel(written.train),
          test: rel(written.test),
          train_metrics: rel(path.join(viewDir, 'train_metrics.json')),
          test_metrics: rel(path.join(viewDir, 'test_metrics.json')),
          metrics_bundle: rel(path.join(viewDir, 'metrics_bundle.json')),
          preset: overlapViewSpecSchema.parse(view),
          metrics: bundle,
          sources: {
            train: {path: toPosixRelative(root, inputs.train.file), ...inputs.train.digest},
            test: {path: toPosixRelative(root, inputs.test.file), ...inputs.test.digest},
          },
          files: {
            train: {path: rel(written.train), ...(await digestFile(written.train))},
            test: {path: rel(written.test), ...(await digestFile(written.test))},
          },
        }
        const t = metrics.train
        log(
          `  ${dirName}/${view.name}: train ${t.n_images_subsampled}/${t.n_images_total} images, ` +
            `M1 ${fmt(t.metric_1_group_based_avg)} M2 ${fmt(t.metric_2_image_based_avg)} M3 ${fmt(t.metric_3_group_to_group_avg)}`,
        )
      }
      doses[dirName] = entry
    }
  }

  const manifest: OverlapManifest = {
    schema_version: OVERLAP_MANIFEST_VERSION,
    tool: 'study overlap',
    tool_version: opts.toolVersion ?? 'unknown',
    created_utc: new Date().toISOString(),
    ...(opts.commandLine ? {command_line: opts.commandLine} : {}),
    phase_c_root: opts.phaseCRoot,
    phase_d_root: root,
    doses,
  }
  const checked = overlapManifestSchema.safeParse(manifest)
  if (!checked.success) throw zodContractError(`${OVERLAP_MANIFEST} (internal)`, checked.error)
  const manifestPath = path.join(root, OVERLAP_MANIFEST)
  await writeJsonAtomic(manifestPath, checked.data)
  return {manifestPath, manifest: checked.data}
}

function fmt(v: number | undefined): string {
  return v === undefined ? '  -  ' : v.toFixed(3)
}

/** A table of the views' metrics per dose and split (dense vs sparse side by side). */
export function formatOverlapTable(manifest: OverlapManifest, doses?: string[], views?: string[]): string {
  const lines = ['dose        view      split  images  groups  metric_1  metric_2  metric_3  geom_bound']
  for (const [dk, d] of Object.entries(manifest.doses)) {
    if (doses && !doses.includes(dk)) continue
    for (const [vk, v] of Object.entries(d.views)) {
      if (views && !views.includes(vk)) continue
      for (const split of SPLITS) {
        const m = v.metrics[split]
        lines.push(
          `${dk.padEnd(11)} ${vk.padEnd(9)} ${split.padEnd(6)} ${String(m.n_images_subsampled).padStart(6)}  ${String(m.n_groups_actual).padStart(6)}  ` +
            `${fmt(m.metric_1_group_based_avg).padStart(8)}  ${fmt(m.metric_2_image_based_avg).padStart(8)}  ${fmt(m.metric_3_group_to_group_avg).padStart(8)}  ${m.geometry_acceptance_bound.toExponential(2).padStart(10)}`,
        )
      }
    }
  }
  return lines.join('\n')
}
