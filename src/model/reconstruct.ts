/**
 * Reconstruction (`study reconstruct`, and the end of each tfjs training job): load a model bundle, group
 * the test NPZ, predict object patches, stitch them (§13.8, M = 20) into one complex object, save it as NPZ
 * and grey PNGs, and, when the file has the ground-truth object, score it (§8.2 step 6, §8.3).
 *
 * Outputs in outDir:
 *   reconstruction.npz            object (complex64 H×W), amplitude, phase (float32), offsets (B,1,2,1 float64),
 *                                 coverage (float32 H×W), origin_xy (float64 [x, y]: object coordinates of
 *                                 pixel (0,0)), _metadata (JSON text)
 *   reconstruction_amplitude.png  reconstruction_phase.png (1st-99th percentile grey)
 *   with ground truth: reconstruction_metrics.json, ground_truth_amplitude.png, ground_truth_phase.png,
 *                      comparison_amplitude.png / comparison_phase.png (ground truth | reconstruction)
 */
import {stat} from 'node:fs/promises'
import path from 'node:path'

import {z} from 'zod'

import {ContractError, MissingInputError, PredictionInterrupted, StudyError, UsageError} from '../errors.js'
import {writeJsonAtomic} from '../io/atomic.js'
import {complex64, float32, float64} from '../io/ndarray.js'
import {listNpz, metadataArray, writeNpz} from '../io/npz.js'
import {writeGreyPng, writeGreyPngRow} from '../io/png.js'
import {
  alignByCoordinates,
  alignForEvaluation,
  amplitudeOf,
  type ComplexImage,
  evaluateReconstruction,
  phaseOf,
  type ReconstructionMetrics,
} from '../metrics/evaluate.js'
import {removePlane} from '../metrics/image.js'
import {stitchPatches, type StitchedObject} from './stitch.js'
import {type GroupedData, loadGroupedData} from './training-data.js'

export type {ReconstructionMetrics} from '../metrics/evaluate.js'

/** What reconstruct needs of a loaded bundle (H4a's `loadBundle` in src/model/bundle.ts returns more). */
export interface LoadedBundle {
  N: number
  gridsize: number
  intensityScale: number
  formatVersion?: string | number
  params?: Record<string, unknown>
  dispose(): void
}

export interface PredictedPatches {
  re: Float32Array
  im: Float32Array
  B: number
  N: number
}

/** The model side, injectable for tests; defaults to src/model/bundle.ts and src/model/predict.ts. */
export interface ReconstructDeps {
  loadBundle(file: string): Promise<LoadedBundle>
  predictObjectPatches(
    bundle: LoadedBundle,
    X: Float32Array,
    coordsRelative: Float32Array,
    opts: {batchSize?: number; signal?: AbortSignal},
  ): Promise<PredictedPatches>
  /** make sure a tfjs backend is ready; returns its name */
  ensureBackend?(requested?: string): Promise<string>
}

export interface ReconstructOptions {
  /** tfjs backend: auto | tensorflow | wasm | cpu */
  backend?: string
  /** stitch crop size M (default 20) */
  M?: number
  /** number of groups to reconstruct (default: every image) */
  nGroups?: number
  /** grouping seed (default 42) */
  seed?: number
  /** neighbour count for gridsize > 1 (default 7, as compare_models) */
  neighborCount?: number
  /** prediction batch size (default 32, as compare_models) */
  batchSize?: number
  /** progress messages */
  onProgress?: (message: string) => void
  /** stops the prediction between batches (PredictionInterrupted); nothing is written then */
  signal?: AbortSignal
}

export interface AlignedEvaluation {
  alignment: 'coordinates' | 'reference'
  metrics: ReconstructionMetrics
}

export interface ReconstructionResult {
  npzPath: string
  amplitudePng: string
  phasePng: string
  metricsPath?: string
  metrics?: ReconstructionMetrics
  /** the same metrics with the reference's centre-crop alignment (align_for_evaluation), for parity */
  referenceAlignmentMetrics?: ReconstructionMetrics
  backend?: string
  nGroups: number
  height: number
  width: number
}

export const RECONSTRUCTION_METRICS_SCHEMA_VERSION = 1

/** non-finite values (NaN SSIM of a flat image, infinite PSNR of identical images) are written as null */
const num = z.number().nullable()
const ampPhase = z.object({amplitude: num, phase: num})
const metricsSchema = z.object({
  mae: ampPhase,
  mse: ampPhase,
  psnr: ampPhase,
  ssim: ampPhase,
  correlation: ampPhase,
  amplitude_scale: num,
  covered_fraction: z.number(),
  height: z.number().int(),
  width: z.number().int(),
  phase_align_method: z.enum(['plane', 'mean']),
})
export const ReconstructionMetricsFileSchema = z.object({
  schema_version: z.literal(RECONSTRUCTION_METRICS_SCHEMA_VERSION),
  bundle: z.string(),
  test_data: z.string(),
  stitch_crop_size: z.number().int(),
  n_groups: z.number().int(),
  gridsize: z.number().int(),
  seed: z.number(),
  alignment: z.literal('coordinates'),
  metrics: metricsSchema,
  reference_alignment_metrics: metricsSchema.optional(),
})
export type ReconstructionMetricsFile = z.infer<typeof ReconstructionMetricsFileSchema>

async function defaultDeps(): Promise<ReconstructDeps> {
  // loaded lazily: importing tfjs costs most of a second and only reconstruction needs it
  const [bundleModule, predictModule, backendModule] = await Promise.all([
    import('./bundle.js'),
    import('./predict.js'),
    import('./backend.js'),
  ])
  type RealBundle = Awaited<ReturnType<typeof bundleModule.loadBundle>>
  return {
    loadBundle: (file) => bundleModule.loadBundle(file),
    predictObjectPatches: (bundle, X, coordsRelative, opts) =>
      predictModule.predictObjectPatches(bundle as RealBundle, X, coordsRelative, opts),
    ensureBackend: (requested) => backendModule.ensureBackend(requested),
  }
}

/**
 * Reconstruct the object of a test NPZ with a trained bundle (see the file comment for the outputs).
 */
export async function reconstructFromBundle(
  bundlePath: string,
  testNpz: string,
  outDir: string,
  opts: ReconstructOptions = {},
  deps?: ReconstructDeps,
): Promise<ReconstructionResult> {
  const M = opts.M ?? 20
  if (!Number.isInteger(M) || M < 2 || M % 2 !== 0) throw new UsageError(`stitch crop size must be an even integer ≥ 2, got ${M}`)
  await mustExist(bundlePath, 'model bundle')
  await mustExist(testNpz, 'test data NPZ')
  const d = deps ?? (await defaultDeps())
  const say = opts.onProgress ?? (() => {})
  const backend = d.ensureBackend ? await d.ensureBackend(opts.backend ?? 'auto') : opts.backend
  let bundle: LoadedBundle
  try {
    bundle = await d.loadBundle(bundlePath)
  } catch (error) {
    if (error instanceof StudyError) throw error
    throw new ContractError(bundlePath, undefined, `not a readable model bundle: ${(error as Error).message}`, {cause: error})
  }
  try {
    const N = bundle.N
    const gridsize = bundle.gridsize
    if (M > N) throw new UsageError(`stitch crop size ${M} exceeds the patch size N=${N} of the model`)
    const seed = opts.seed ?? 42
    // nphotons only sets intensityScale here; the bundle's own (trained) scale is what prediction uses
    const nphotons = (bundle.intensityScale * (N / 2)) ** 2
    const data = await loadGroupedData(testNpz, {
      N,
      gridsize,
      // default: one group per scan position (for gridsize 2 too, which then needs no oversampling)
      nGroups: opts.nGroups ?? (await scanPositionCount(testNpz)),
      neighborCount: opts.neighborCount ?? 7,
      enableOversampling: false,
      seed,
      nphotons: nphotons > 0 ? nphotons : 1,
    })
    say(`predicting ${data.B} groups (N=${N}, gridsize ${gridsize}${backend ? `, backend ${backend}` : ''})`)
    const pred = await d.predictObjectPatches(bundle, data.X, data.coordsRelative, {batchSize: opts.batchSize ?? 32, signal: opts.signal})
    if (pred.B !== data.B || pred.N !== N || pred.re.length !== data.B * N * N) {
      throw new StudyError(`prediction returned ${pred.B} patches of ${pred.N}×${pred.N}, expected ${data.B} of ${N}×${N}`)
    }
    if (opts.signal?.aborted) throw new PredictionInterrupted(pred.B, pred.B)
    const result = await writeReconstruction(pred, data, outDir, {
      M,
      seed,
      bundlePath,
      testNpz,
      backend,
      onProgress: say,
    })
    return {...result, backend}
  } finally {
    bundle.dispose()
  }
}

async function mustExist(file: string, what: string): Promise<void> {
  try {
    const s = await stat(file)
    if (!s.isFile()) throw new ContractError(file, undefined, `${what} must be a file`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new MissingInputError(file, what)
    }
    throw error
  }
}

/**
 * Stitch predicted patches of grouped data and write every output (the model-free part of reconstruction;
 * tests call it with ground-truth patches as the "prediction").
 */
export async function writeReconstruction(
  pred: PredictedPatches,
  data: GroupedData,
  outDir: string,
  opts: {M: number; seed: number; bundlePath?: string; testNpz?: string; backend?: string; onProgress?: (m: string) => void},
): Promise<Omit<ReconstructionResult, 'backend'>> {
  const {M} = opts
  const stitched = stitchPatches(pred, data.B, data.N, data.coordsOffsets, M)
  const npzPath = path.join(outDir, 'reconstruction.npz')
  const amplitudePng = path.join(outDir, 'reconstruction_amplitude.png')
  const phasePng = path.join(outDir, 'reconstruction_phase.png')
  const {H, W} = stitched
  const obj = new Float32Array(2 * H * W)
  const amp = new Float32Array(H * W)
  const ph = new Float32Array(H * W)
  for (let i = 0; i < H * W; i++) {
    obj[2 * i] = stitched.re[i]
    obj[2 * i + 1] = stitched.im[i]
    amp[i] = Math.hypot(stitched.re[i], stitched.im[i])
    ph[i] = Math.atan2(stitched.im[i], stitched.re[i])
  }
  const rel = (p: string | undefined): string | undefined => (p ? path.relative(outDir, p).split(path.sep).join('/') : undefined)
  await writeNpz(npzPath, {
    object: complex64([H, W], obj),
    amplitude: float32([H, W], amp),
    phase: float32([H, W], ph),
    offsets: float64([data.B, 1, 2, 1], Float64Array.from(data.coordsOffsets)),
    coverage: float32([H, W], stitched.coverage),
    origin_xy: float64([2], Float64Array.of(stitched.originX, stitched.originY)),
    _metadata: metadataArray({
      tool: 'study reconstruct',
      bundle: rel(opts.bundlePath),
      test_data: rel(opts.testNpz),
      stitch_crop_size: M,
      n_groups: data.B,
      gridsize: data.gridsize,
      N: data.N,
      seed: opts.seed,
      backend: opts.backend,
      pad: stitched.pad,
      center_xy: [stitched.centerX, stitched.centerY],
      origin_xy: [stitched.originX, stitched.originY],
    }),
  })
  // pixels no patch reached are black and do not stretch the grey scale
  const mask = stitched.coverage.map((c) => (c > 1e-6 ? 1 : 0))
  await writeGreyPng(amplitudePng, {data: amp, H, W, mask})
  await writeGreyPng(phasePng, {data: ph, H, W, mask})
  opts.onProgress?.(`stitched ${data.B} patches into a ${H}×${W} object: ${npzPath}`)

  const out: Omit<ReconstructionResult, 'backend'> = {npzPath, amplitudePng, phasePng, nGroups: data.B, height: H, width: W}
  if (!data.objectGuess) return out

  const {metrics, reference, aligned, rowStart, colStart} = evaluateAgainstGroundTruth(stitched, data.objectGuess, data, M)
  const metricsPath = path.join(outDir, 'reconstruction_metrics.json')
  const file: ReconstructionMetricsFile = ReconstructionMetricsFileSchema.parse({
    schema_version: RECONSTRUCTION_METRICS_SCHEMA_VERSION,
    bundle: rel(opts.bundlePath) ?? '',
    test_data: rel(opts.testNpz) ?? '',
    stitch_crop_size: M,
    n_groups: data.B,
    gridsize: data.gridsize,
    seed: opts.seed,
    alignment: 'coordinates',
    metrics: finiteOrNull(metrics),
    reference_alignment_metrics: reference ? finiteOrNull(reference) : undefined,
  })
  await writeJsonAtomic(metricsPath, file)
  const gtAmp = amplitudeOf(aligned.gt)
  const gtPh = removePlane(phaseOf(aligned.gt))
  const recMask = new Float32Array(aligned.recon.H * aligned.recon.W)
  for (let r = 0; r < aligned.recon.H; r++) {
    for (let c = 0; c < aligned.recon.W; c++) recMask[r * aligned.recon.W + c] = mask[(r + rowStart) * W + c + colStart]
  }
  const recAmp = {...amplitudeOf(aligned.recon), mask: recMask}
  const recPh = {...removePlane(phaseOf(aligned.recon)), mask: recMask}
  await writeGreyPng(path.join(outDir, 'ground_truth_amplitude.png'), gtAmp)
  await writeGreyPng(path.join(outDir, 'ground_truth_phase.png'), gtPh)
  await writeGreyPngRow(path.join(outDir, 'comparison_amplitude.png'), [gtAmp, recAmp])
  await writeGreyPngRow(path.join(outDir, 'comparison_phase.png'), [gtPh, recPh])
  opts.onProgress?.(
    `vs ground truth: phase correlation ${metrics.correlation.phase.toFixed(3)}, SSIM amplitude ${metrics.ssim.amplitude.toFixed(3)} / phase ${metrics.ssim.phase.toFixed(3)}`,
  )
  return {...out, metricsPath, metrics, referenceAlignmentMetrics: reference}
}

/**
 * Score a stitched object against the ground truth: aligned by coordinates (primary), and with the
 * reference's align_for_evaluation (recorded for parity; see alignForEvaluation's caveat).
 */
export function evaluateAgainstGroundTruth(
  stitched: StitchedObject,
  objectGuess: ComplexImage,
  data: Pick<GroupedData, 'coordsOffsets' | 'B'>,
  M: number,
): {
  metrics: ReconstructionMetrics
  reference?: ReconstructionMetrics
  aligned: {recon: ComplexImage; gt: ComplexImage}
  /** where the compared region starts on the stitched canvas */
  rowStart: number
  colStart: number
} {
  const xs = new Float64Array(data.B)
  const ys = new Float64Array(data.B)
  for (let b = 0; b < data.B; b++) {
    xs[b] = data.coordsOffsets[2 * b]
    ys[b] = data.coordsOffsets[2 * b + 1]
  }
  const coveredIn = (a: {recon: ComplexImage; rowStart: number; colStart: number}): Float64Array => {
    const m = new Float64Array(a.recon.H * a.recon.W)
    for (let r = 0; r < a.recon.H; r++) {
      for (let c = 0; c < a.recon.W; c++) {
        m[r * a.recon.W + c] = stitched.coverage[(r + a.rowStart) * stitched.W + c + a.colStart] > 1e-6 ? 1 : 0
      }
    }
    return m
  }
  const aligned = alignByCoordinates(stitched, objectGuess, xs, ys, M)
  const metrics = evaluateReconstruction(aligned.recon, aligned.gt, {mask: coveredIn(aligned)})
  let reference: ReconstructionMetrics | undefined
  try {
    const r = alignForEvaluation(stitched, objectGuess, xs, ys, M)
    reference = evaluateReconstruction(r.recon, r.gt, {mask: coveredIn(r)})
  } catch {
    reference = undefined // too small to score after the reference crop
  }
  return {metrics, reference, aligned: {recon: aligned.recon, gt: aligned.gt}, rowStart: aligned.rowStart, colStart: aligned.colStart}
}

/** a deep copy with every non-finite number replaced by null (JSON cannot hold NaN or Infinity) */
function finiteOrNull<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as T
}

/** Number of scan positions of a dataset, from the NPZ headers only (xcoords, else the diffraction stack). */
async function scanPositionCount(file: string): Promise<number> {
  const members = await listNpz(file)
  const byName = new Map(members.map((m) => [m.name, m]))
  const source = byName.get('xcoords') ?? byName.get('diffraction') ?? byName.get('diff3d')
  if (!source || source.shape.length === 0 || source.shape[0] < 1) {
    throw new ContractError(file, 'xcoords', 'expected a 1-D array of scan positions (or a diffraction stack) to count the groups')
  }
  return source.shape[0]
}
