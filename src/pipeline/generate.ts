/**
 * Phase C: the dose sweep (spec 4). For every dose, from one object/probe and one seeded scan:
 * ground-truth patches, the far-field forward model with seeded Poisson noise, the y split at the
 * coordinate-range midpoint, `dose_{d}/patched_{train,test}.npz` with the keys of spec 4.7, each validated
 * against DATA-001, and one `run_manifest.json` (zod-validated, atomic) with seeds and file digests.
 *
 * The reference's five stages (simulate, canonicalize, patch, split, validate) run in memory; the
 * intermediate files (simulated_raw.npz, canonical.npz, patched.npz) are not written, but each stage is
 * recorded in `_metadata.data_transformations` under its reference tool name (transpose_rename_convert
 * included, PHASEC-METADATA-001).
 */
import {existsSync} from 'node:fs'
import {mkdir, readdir, rename, rm} from 'node:fs/promises'
import path from 'node:path'

import {z} from 'zod'

import {ContractError, MissingInputError, UsageError, zodContractError} from '../errors.js'
import {readJsonFile} from '../io/json-file.js'
import {writeJsonAtomic} from '../io/atomic.js'
import {digestFile} from '../io/hash.js'
import {complex64, float32, float64, isComplexDtype, type NdArray} from '../io/ndarray.js'
import {listNpz, metadataArray, readNpz, writeNpz} from '../io/npz.js'
import {toPosixRelative} from '../io/paths.js'
import {validateNpzFile} from '../data/dataset-contract.js'
import {type ComplexImage, complexImage} from '../physics/complex-image.js'
import {DiffractionPool, defaultWorkerCount, simulateDiffractionWith} from '../physics/diffraction-pool.js'
import {meanIlluminatedEnergy} from '../physics/forward-model.js'
import {extractPatches} from '../physics/patches.js'
import {randomScanPositions} from '../physics/scan.js'
import {syntheticObject} from '../physics/synthetic-object.js'
import {processAlive} from '../util/process.js'
import {PROBE_SIZES, syntheticProbe} from '../physics/synthetic-probe.js'
import {doseDirName, SPLITS, type Split} from '../overlap/layout.js'

export const PHASE_C_MANIFEST = 'run_manifest.json'
export const PHASE_C_MANIFEST_VERSION = '1.0'
export const METADATA_SCHEMA_VERSION = '1.0.0'
export {doseDirName, SPLITS, type Split} from '../overlap/layout.js'

/** The Poisson-noise seed of one dose: distinct per dose, fixed by the simulation seed. */
export function noiseSeed(seed: number, dose: number): number {
  return seed * 1_000_003 + Math.round(dose)
}

export interface GenerateOptions {
  /** phase C root (absolute or relative to the caller's cwd, resolved by the caller) */
  outputRoot: string
  doses: number[]
  /** number of scan positions; default: len(xcoords) of the base NPZ, else required */
  nImages?: number
  /** simulation seed: scan positions, synthetic object; the Poisson seeds derive from it per dose */
  seed: number
  /** a base NPZ with objectGuess and probeGuess; otherwise the built-in synthetic object and probe */
  baseNpz?: string
  /** synthetic object side (pixels) */
  objectSize: number
  /** synthetic probe size N */
  probeSize: number
  /** the design's nominal patch size (spec 15.1: N comes from the probe and is checked against it) */
  designPatchSize?: number
  /** for the DATA-001 check of each split */
  gridsize: number
  neighborCount: number
  splitFraction?: number
  splitAxis?: 'x' | 'y'
  /** deflate the NPZ members (numpy's savez_compressed); default false (faster, larger) */
  compress?: boolean
  /** recorded in the manifest */
  commandLine?: string[]
  toolVersion?: string
  onProgress?: (message: string) => void
  /** worker threads for the simulation (default: one per core); the output does not depend on it */
  workers?: number
  /** the DATA-001 check of each split (injectable like the reference's validate_fn); default validateNpzFile */
  validate?: typeof validateNpzFile
  /**
   * remove dose folders under the root that this run would leave beside its own although they come from another
   * simulation (or from no recorded run); without it such folders are a UsageError, as a mixed root would be
   * trained as one study
   */
  force?: boolean
}

/** where a run writes its files until every dose has passed DATA-001; moved into place only then */
export const STAGING_PREFIX = '.staging-'

/** staging folders left by runs that were killed (their process is gone) */
async function removeDeadStaging(root: string, log: (m: string) => void): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const m = new RegExp(`^${STAGING_PREFIX.replace('.', '\\.')}(\\d+)$`).exec(name)
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) {
      await rm(path.join(root, name), {recursive: true, force: true})
      log(`  removed ${name}: the unfinished files of an interrupted run`)
    }
  }
}

/** "seed 42 → 7, n_images 512 → 2000": the simulation fields that differ */
function simulationDifference(a: Record<string, unknown>, b: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v))
  return keys
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k} ${show(a[k])} → ${show(b[k])}`)
    .join(', ')
}

const fileEntry = z.object({path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size_bytes: z.number().int().nonnegative(), n_images: z.number().int().nonnegative()})

export const phaseCDoseSchema = z.object({
  dose: z.number().positive(),
  /** reference keys: paths relative to the manifest's folder */
  train: z.string(),
  test: z.string(),
  intermediate_dir: z.string(),
  files: z.object({train: fileEntry, test: fileEntry}),
  poisson_seed: z.number(),
  intensity_scale: z.number().positive(),
  mean_photons_per_pattern: z.number().nonnegative(),
  split_point: z.number(),
  validation: z.object({train: z.array(z.string()), test: z.array(z.string())}),
})

export const phaseCSimulationSchema = z.object({
  source: z.enum(['synthetic', 'base_npz']),
  base_npz: z.object({path: z.string(), sha256: z.string(), size_bytes: z.number()}).optional(),
  object_shape: z.tuple([z.number().int(), z.number().int()]),
  probe_shape: z.tuple([z.number().int(), z.number().int()]),
  N: z.number().int(),
  n_images: z.number().int().positive(),
  buffer: z.number(),
  seed: z.number(),
  split_axis: z.enum(['x', 'y']),
  split_fraction: z.number(),
  compress: z.boolean(),
})

export const phaseCManifestSchema = z.object({
  schema_version: z.literal(PHASE_C_MANIFEST_VERSION),
  tool: z.string(),
  tool_version: z.string(),
  created_utc: z.string(),
  command_line: z.array(z.string()).optional(),
  phase_c_root: z.string(),
  design_patch_size_pixels: z.number().int().optional(),
  n_matches_design: z.boolean().optional(),
  warnings: z.array(z.string()),
  simulation: phaseCSimulationSchema,
  doses: z.record(z.string(), phaseCDoseSchema),
})

export type PhaseCManifest = z.infer<typeof phaseCManifestSchema>
export type PhaseCDoseEntry = z.infer<typeof phaseCDoseSchema>

export interface GenerateResult {
  manifestPath: string
  manifest: PhaseCManifest
}

/** Read and validate a phase C run manifest; undefined when there is none. */
export async function readPhaseCManifest(root: string): Promise<PhaseCManifest | undefined> {
  return readJsonFile(path.join(root, PHASE_C_MANIFEST), phaseCManifestSchema)
}

interface Source {
  object: ComplexImage
  probe: ComplexImage
  kind: 'synthetic' | 'base_npz'
  nImagesFromBase?: number
  inputFile: string
}

function toComplexImage(arr: NdArray, file: string, field: string, square: boolean): ComplexImage {
  if (!isComplexDtype(arr.dtype)) throw new ContractError(file, field, `must be complex (complex64/complex128), got dtype=${arr.dtype}`)
  if (arr.shape.length !== 2) throw new ContractError(file, field, `must be 2-D, got shape (${arr.shape.join(', ')})`)
  const [h, w] = arr.shape
  if (square && h !== w) throw new ContractError(file, field, `must be square N x N, got ${h} x ${w}`)
  const data = Float64Array.from(arr.data as Float32Array | Float64Array)
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new ContractError(file, field, `must be finite, found ${data[i]} at element ${i >> 1}`)
  }
  return complexImage(h, w, data)
}

async function loadSource(opts: GenerateOptions): Promise<Source> {
  if (!opts.baseNpz) {
    if (!PROBE_SIZES.includes(opts.probeSize as (typeof PROBE_SIZES)[number])) {
      throw new UsageError(`--probe-size must be one of ${PROBE_SIZES.join(', ')}, got ${opts.probeSize}`)
    }
    if (!Number.isInteger(opts.objectSize) || opts.objectSize < opts.probeSize + 4) {
      throw new UsageError(`--object-size must be an integer of at least N + 4 = ${opts.probeSize + 4} pixels, got ${opts.objectSize}`)
    }
    return {
      object: syntheticObject(opts.objectSize, opts.objectSize, opts.seed),
      probe: syntheticProbe(opts.probeSize),
      kind: 'synthetic',
      inputFile: 'synthetic',
    }
  }
  const file = opts.baseNpz
  if (!existsSync(file)) throw new MissingInputError(file, 'base NPZ')
  const members = new Set((await listNpz(file)).map((m) => m.name))
  for (const key of ['objectGuess', 'probeGuess']) {
    if (!members.has(key)) throw new ContractError(file, key, `missing: a base NPZ needs objectGuess (complex H x W) and probeGuess (complex N x N)`)
  }
  const wanted = ['objectGuess', 'probeGuess', ...(members.has('xcoords') ? ['xcoords'] : [])]
  const arrays = await readNpz(file, {members: wanted})
  const object = toComplexImage(arrays.objectGuess, file, 'objectGuess', false)
  const probe = toComplexImage(arrays.probeGuess, file, 'probeGuess', true)
  return {object, probe, kind: 'base_npz', nImagesFromBase: arrays.xcoords?.shape[0], inputFile: file}
}

function transformation(tool: string, operation: string, parameters: Record<string, unknown>): Record<string, unknown> {
  return {tool, operation, parameters}
}

/** Run phase C for every requested dose. */
export async function generateDoseSweep(opts: GenerateOptions): Promise<GenerateResult> {
  const log = opts.onProgress ?? (() => {})
  const root = opts.outputRoot
  const splitFraction = opts.splitFraction ?? 0.5
  const splitAxis = opts.splitAxis ?? 'y'
  const compress = opts.compress ?? false
  if (opts.doses.length === 0) throw new UsageError('no doses to generate')
  const names = new Set<string>()
  for (const d of opts.doses) {
    if (!(d > 0) || !Number.isFinite(d)) throw new UsageError(`doses must be positive numbers, got ${d}`)
    if (d < 1) throw new UsageError(`dose ${d} would be written to ${doseDirName(d)}: doses must be >= 1 photon`)
    if (names.has(doseDirName(d))) throw new UsageError(`two doses map to the same folder ${doseDirName(d)}`)
    names.add(doseDirName(d))
  }
  if (!(splitFraction > 0 && splitFraction < 1)) throw new UsageError(`split fraction must be in (0, 1), got ${splitFraction}`)

  const source = await loadSource(opts)
  const N = source.probe.height
  if (!PROBE_SIZES.includes(N as (typeof PROBE_SIZES)[number])) {
    throw new ContractError(opts.baseNpz, 'probeGuess', `N x N with N in {${PROBE_SIZES.join(', ')}}, got ${N} x ${N}`)
  }
  const warnings: string[] = []
  if (opts.designPatchSize !== undefined && opts.designPatchSize !== N) {
    warnings.push(
      `N=${N} (from the probe) differs from the design's nominal patch_size_pixels=${opts.designPatchSize}; ` +
        `the data use N=${N} throughout and training infers N from the data (spec 15.1)`,
    )
  }
  const nImages = opts.nImages ?? source.nImagesFromBase
  if (nImages === undefined) throw new UsageError('--n-images is required (the base NPZ has no xcoords to count)')
  if (!Number.isInteger(nImages) || nImages < 2) throw new UsageError(`--n-images must be an integer >= 2, got ${nImages}`)
  const {height: H, width: W} = source.object
  if (Math.min(H, W) / 2 - 1 <= 0 || Math.min(H, W) < N / 2) {
    throw new ContractError(opts.baseNpz, 'objectGuess', `an object of at least ${N / 2} x ${N / 2} pixels for N=${N}, got ${H} x ${W}`)
  }
  // nothing to simulate: every pattern would be zero photons (and the intensity scale infinite)
  if (source.kind === 'base_npz') {
    if (source.probe.data.every((v) => v === 0)) {
      throw new ContractError(opts.baseNpz, 'probeGuess', 'is all zeros: a probe must illuminate something to simulate diffraction')
    }
    if (source.object.data.every((v) => v === 0)) {
      throw new ContractError(opts.baseNpz, 'objectGuess', 'is all zeros: an object must transmit something to simulate diffraction')
    }
  }

  log(`phase C: object ${H}x${W} (${source.kind}), probe ${N}x${N}, ${nImages} positions, seed ${opts.seed}`)
  const scan = randomScanPositions(nImages, H, W, N, opts.seed)
  // on a SharedArrayBuffer so that simulation worker threads read the patches without copies
  const patches = extractPatches(source.object, scan.xcoords, scan.ycoords, N, new Float32Array(new SharedArrayBuffer(8 * nImages * N * N))) as Float32Array

  // split on the coordinate-range midpoint (spec 4.6); the same for every dose (same scan)
  const c = splitAxis === 'y' ? scan.ycoords : scan.xcoords
  let cMin = Infinity
  let cMax = -Infinity
  for (const v of c) {
    cMin = Math.min(cMin, v)
    cMax = Math.max(cMax, v)
  }
  const splitPoint = cMin + (cMax - cMin) * splitFraction
  const trainIdx: number[] = []
  const testIdx: number[] = []
  for (let i = 0; i < nImages; i++) (c[i] < splitPoint ? trainIdx : testIdx).push(i)
  if (trainIdx.length === 0 || testIdx.length === 0) throw new UsageError(`the ${splitAxis} split left an empty side: use more positions`)

  const probe64 = Float32Array.from(source.probe.data)
  const object64 = Float32Array.from(source.object.data)
  if (source.kind === 'base_npz' && !(meanIlluminatedEnergy(patches, probe64, nImages, N) > 0)) {
    throw new ContractError(
      opts.baseNpz,
      'objectGuess',
      `is zero wherever the probe illuminates it at the ${nImages} scan positions (or the probe is too faint for float32): there is no diffraction to simulate`,
    )
  }
  const previous = await readPhaseCManifest(root).catch(() => undefined)
  const simulation: PhaseCManifest['simulation'] = {
    source: source.kind,
    ...(opts.baseNpz ? {base_npz: {path: opts.baseNpz, ...(await digestFile(opts.baseNpz))}} : {}),
    object_shape: [H, W],
    probe_shape: [N, N],
    N,
    n_images: nImages,
    buffer: scan.buffer,
    seed: opts.seed,
    split_axis: splitAxis,
    split_fraction: splitFraction,
    compress,
  }
  // keep other doses of an earlier run of the same simulation (e.g. one --dose at a time)
  const doses: Record<string, PhaseCDoseEntry> = {}
  const sameSimulation = previous !== undefined && JSON.stringify(previous.simulation) === JSON.stringify(simulation)
  if (sameSimulation) {
    for (const [k, v] of Object.entries(previous.doses)) if (existsSync(path.join(root, v.train)) && existsSync(path.join(root, v.test))) doses[k] = v
  }
  // dose folders this run would leave beside its own although they are not of this simulation: refused (a mixed
  // root would be trained as one study), or removed with force
  const ours = new Set(opts.doses.map(doseDirName))
  const stale = (await readdir(root, {withFileTypes: true}).catch(() => []))
    .filter((d) => d.isDirectory() && /^dose_/.test(d.name) && !ours.has(d.name) && !(d.name in doses))
    .map((d) => d.name)
    .sort()
  if (stale.length > 0) {
    const origin = previous
      ? `an earlier run with a different simulation (${PHASE_C_MANIFEST}: ${simulationDifference(previous.simulation, simulation)})`
      : `no recorded run (no ${PHASE_C_MANIFEST})`
    if (!opts.force) {
      throw new UsageError(
        `${root} already holds ${stale.join(', ')} from ${origin}; this run would leave them beside its own, and \`study train\` ` +
          `would train them as one study. Use another --output-root, generate those doses with the same settings, or pass --force to remove them`,
      )
    }
    for (const name of stale) {
      await rm(path.join(root, name), {recursive: true, force: true})
      log(`  removed ${name} (--force): from ${origin}`)
    }
  }
  // files are written under a staging folder and moved into place only when every dose has passed DATA-001, so an
  // interrupted or failed run leaves the earlier files and their manifest as they were
  await removeDeadStaging(root, log)
  const staging = path.join(root, `${STAGING_PREFIX}${process.pid}`)
  await rm(staging, {recursive: true, force: true})
  const moves: {from: string; to: string}[] = []

  const pool = nImages * N * N >= 64 * 64 * 64 ? DiffractionPool.create(opts.workers ?? defaultWorkerCount()) : undefined
  try {
    for (const dose of opts.doses) {
      const t0 = Date.now()
      const dirName = doseDirName(dose)
      const doseDir = path.join(root, dirName)
      const pSeed = noiseSeed(opts.seed, dose)
      const sim = await simulateDiffractionWith(pool, patches, probe64, nImages, N, dose, pSeed)
      let meanPhotons = 0
      for (const p of sim.photonsPerPattern) meanPhotons += p / nImages
      const baseMeta = {
        schema_version: METADATA_SCHEMA_VERSION,
        creation_info: {script: 'study generate', tool_version: opts.toolVersion ?? 'unknown', ptychopinn_spec: 'STUDY-SYNTH-FLY64-DOSE-OVERLAP-001'},
        physics_parameters: {
          nphotons: dose,
          gridsize: 1,
          N,
          probe_trainable: false,
          intensity_scale_trainable: true,
          nll_weight: 1.0,
          model_type: 'pinn',
        },
        training_parameters: {n_images: nImages, batch_size: 16, nepochs: 50},
        additional_parameters: {
          input_file: source.kind === 'synthetic' ? 'synthetic' : path.basename(source.inputFile),
          object_source: source.kind,
          buffer: scan.buffer,
          seed: opts.seed,
          poisson_seed: pSeed,
          simulation_type: 'coordinate_based',
          intensity_scale: sim.intensityScale,
          mean_photons_per_pattern: meanPhotons,
          poisson_sampler: 'inversion (lambda < 10) / PTRS (Hoermann 1993)',
          noise_streams: 'one generator per pattern b, seeded deriveSeed(poisson_seed, "pattern_<b>")',
          prng: 'xoshiro128** (src/util/random.ts)',
        },
      }
      const entries = {} as Record<Split, {file: string; staged: string; n: number}>
      const validation = {} as Record<Split, string[]>
      for (const split of SPLITS) {
        const idx = split === 'train' ? trainIdx : testIdx
        const n = idx.length
        const xs = new Float64Array(n)
        const ys = new Float64Array(n)
        const diff = new Float32Array(n * N * N)
        const gt = new Float32Array(2 * n * N * N)
        for (let j = 0; j < n; j++) {
          const i = idx[j]
          xs[j] = scan.xcoords[i]
          ys[j] = scan.ycoords[i]
          diff.set(sim.diffraction.subarray(i * N * N, (i + 1) * N * N), j * N * N)
          gt.set(patches.subarray(2 * i * N * N, 2 * (i + 1) * N * N), 2 * j * N * N)
        }
        const metadata = {
          ...baseMeta,
          data_transformations: [
            transformation('simulate_and_save', 'simulate', {nphotons: dose, n_images: nImages, seed: opts.seed, poisson_seed: pSeed, N}),
            transformation('transpose_rename_convert', 'canonicalize', {flipx: false, flipy: false}),
            transformation('generate_patches', 'ground_truth_patches', {patch_size: N, k_neighbors: opts.neighborCount, nsamples: 1, singleton_Y_written: false}),
            transformation('split_dataset', 'split', {
              split_fraction: splitFraction,
              split_axis: splitAxis,
              parent_file: 'patched.npz',
              split_point: splitPoint,
              train_count: trainIdx.length,
              test_count: testIdx.length,
            }),
          ],
        }
        const arrays: Record<string, NdArray> = {
          xcoords: float64([n], xs),
          ycoords: float64([n], ys),
          xcoords_start: float64([n], Float64Array.from(xs)),
          ycoords_start: float64([n], Float64Array.from(ys)),
          diffraction: float32([n, N, N], diff),
          probeGuess: complex64([N, N], probe64),
          objectGuess: complex64([H, W], object64),
          scan_index: {dtype: '<i8', shape: [n], data: new BigInt64Array(n)},
          ground_truth_patches: complex64([n, N, N, 1], gt),
          _metadata: metadataArray(metadata),
        }
        const file = path.join(doseDir, `patched_${split}.npz`)
        const staged = path.join(staging, dirName, `patched_${split}.npz`)
        await writeNpz(staged, arrays, {compress})
        moves.push({from: staged, to: file})
        const report = await (opts.validate ?? validateNpzFile)(staged, {gridsize: opts.gridsize, neighborCount: opts.neighborCount})
        const errors = report.findings.filter((f) => f.level === 'error').map((f) => `${f.field}: ${f.message}`.replaceAll(staged, file))
        if (report.status !== 'ok' || errors.length > 0) {
          throw new ContractError(file, undefined, `failed DATA-001 validation (${report.status}):\n  ${errors.join('\n  ')}`)
        }
        validation[split] = report.findings.map((f) => `${f.level} ${f.check} ${f.field}: ${f.message}`.replaceAll(staged, file))
        entries[split] = {file, staged, n}
      }
      const files = {} as PhaseCDoseEntry['files']
      for (const split of SPLITS) {
        files[split] = {path: toPosixRelative(root, entries[split].file), ...(await digestFile(entries[split].staged)), n_images: entries[split].n}
      }
      doses[dirName] = {
        dose,
        train: files.train.path,
        test: files.test.path,
        intermediate_dir: dirName,
        files,
        poisson_seed: pSeed,
        intensity_scale: sim.intensityScale,
        mean_photons_per_pattern: meanPhotons,
        split_point: splitPoint,
        validation,
      }
      log(
        `  ${dirName}: ${trainIdx.length} train / ${testIdx.length} test, mean ${meanPhotons.toFixed(1)} photons/pattern, ` +
          `s=${sim.intensityScale.toPrecision(5)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      )
    }
    // every dose passed: move the files into place, then (below) write the manifest that describes them
    for (const {from, to} of moves) {
      await mkdir(path.dirname(to), {recursive: true})
      await rename(from, to)
    }
  } finally {
    await pool?.close()
    await rm(staging, {recursive: true, force: true})
  }

  const manifest: PhaseCManifest = {
    schema_version: PHASE_C_MANIFEST_VERSION,
    tool: 'study generate',
    tool_version: opts.toolVersion ?? 'unknown',
    created_utc: new Date().toISOString(),
    ...(opts.commandLine ? {command_line: opts.commandLine} : {}),
    phase_c_root: root,
    ...(opts.designPatchSize !== undefined ? {design_patch_size_pixels: opts.designPatchSize, n_matches_design: opts.designPatchSize === N} : {}),
    warnings,
    simulation,
    doses,
  }
  const checked = phaseCManifestSchema.safeParse(manifest)
  if (!checked.success) throw zodContractError(`${PHASE_C_MANIFEST} (internal)`, checked.error)
  const manifestPath = path.join(root, PHASE_C_MANIFEST)
  await writeJsonAtomic(manifestPath, checked.data)
  return {manifestPath, manifest: checked.data}
}
