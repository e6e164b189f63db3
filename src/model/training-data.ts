/**
 * From a phase C/D NPZ to the grouped, normalised arrays the model trains and predicts on
 * (spec §13.1, §13.4, §13.6; DATA-001 keys; FORMAT-001 transpose).
 *
 * - diffraction: `diffraction`, else `diff3d`; float amplitudes (n, N, N), or (N, N, n) transposed (FORMAT-001).
 * - positions: `xcoords_start`/`ycoords_start` when present, else `xcoords`/`ycoords` (x = column, y = row).
 * - groups: src/model/grouping.ts (kNN, n_groups seeds, OVERSAMPLING-001), seeded.
 * - X (B,N,N,C) = diffraction of the group members, normalised by `normalize_data`:
 *   X · sqrt((N/2)² / mean over all B·C patterns of Σ X²), so the mean pattern energy is (N/2)².
 *   X is NOT multiplied by intensity_scale (the model input is X · intensityScale).
 * - intensityScale = sqrt(nphotons) / (N/2).
 */
import {ContractError} from '../errors.js'
import {isComplexDtype, isFloatDtype, isIntDtype, type NdArray, toFloat64} from '../io/ndarray.js'
import {listNpz, readNpz} from '../io/npz.js'
import {groupCoordinates, groupScanPositions} from './grouping.js'

export interface ComplexPlanes {
  re: Float32Array
  im: Float32Array
}

export interface GroupedData {
  N: number
  gridsize: number
  /** gridsize² */
  C: number
  /** number of groups */
  B: number
  /** number of scan positions (images) in the file */
  nImages: number
  /** (B,N,N,C) normalised diffraction amplitudes */
  X: Float32Array
  /** the factor X was multiplied by: sqrt((N/2)² / mean Σ X²) */
  normalization: number
  /** (B,1,2,C) = group centre − position (local_offset_sign −1), x then y */
  coordsRelative: Float32Array
  /** (B,1,2,1) group centre, x then y */
  coordsOffsets: Float64Array
  /** (B,C) indices into the file's images */
  nnIndices: Int32Array
  /** (N,N) complex probe, interleaved (re, im) float32, as in the file (not normalised) */
  probe: Float32Array
  /** sqrt(nphotons) / (N/2) */
  intensityScale: number
  /** the positions used (x = column, y = row), one per image */
  xcoords: Float64Array
  ycoords: Float64Array
  objectGuess?: ComplexPlanes & {H: number; W: number}
  /** (B,N,N,C) ground-truth object patches of the group members, when the file has per-image patches */
  groundTruthPatches?: ComplexPlanes
  /** the seed every random draw of the grouping came from */
  seed: number
}

export interface GroupedDataOptions {
  N: number
  gridsize: number
  nGroups: number
  neighborCount: number
  enableOversampling: boolean
  seed: number
  nphotons: number
}

/** The per-image arrays of a scan, as read from an NPZ. */
export interface ScanData {
  /** source file, for messages */
  file: string
  n: number
  N: number
  /** (n,N,N) amplitudes */
  diffraction: Float32Array
  xcoords: Float64Array
  ycoords: Float64Array
  /** (N,N) complex interleaved */
  probe: Float32Array
  objectGuess?: ComplexPlanes & {H: number; W: number}
  /** (n,N,N) complex interleaved */
  groundTruthPatches?: Float32Array
}

const WANTED = [
  'diffraction',
  'diff3d',
  'xcoords',
  'ycoords',
  'xcoords_start',
  'ycoords_start',
  'probeGuess',
  'objectGuess',
  'ground_truth_patches',
  'Y',
]

/** Read the scan arrays of a DATA-001 NPZ, checking what the model needs (errors name the file and key). */
export async function readScanData(npzFile: string): Promise<ScanData> {
  const present = new Set((await listNpz(npzFile)).filter((m) => !m.pickled).map((m) => m.name))
  const members = await readNpz(npzFile, {members: WANTED.filter((k) => present.has(k))})
  return scanDataFromArrays(npzFile, members)
}

/** Check and convert the arrays of a scan (the part of readScanData after reading). */
export function scanDataFromArrays(file: string, members: Record<string, NdArray | undefined>): ScanData {
  const diffKey = members.diffraction ? 'diffraction' : members.diff3d ? 'diff3d' : undefined
  if (!diffKey) throw new ContractError(file, 'diffraction', "missing: the file needs 'diffraction' (or legacy 'diff3d') amplitudes (n, N, N)")
  const diff = members[diffKey]!
  if (!isFloatDtype(diff.dtype) && !isIntDtype(diff.dtype)) {
    throw new ContractError(file, diffKey, `must be real amplitudes (float32), got dtype ${diff.dtype}`)
  }
  if (diff.shape.length !== 3) throw new ContractError(file, diffKey, `must be 3-D (n, N, N), got shape (${diff.shape.join(', ')})`)
  let [d0, d1, d2] = diff.shape
  let data = Float32Array.from(toFloat64(diff))
  // FORMAT-001: an (H, W, n) stack is transposed to (n, H, W). The reference tests shape[0] < shape[2], which
  // misreads small stacks (n < N); here the image count of the coordinates decides, then that rule.
  const nCoords = (members.xcoords_start ?? members.xcoords)?.shape[0]
  const isHWN = nCoords !== undefined && d0 !== nCoords && d2 === nCoords ? true : nCoords === undefined && d0 < d2 && d0 === d1
  if (isHWN) {
    const t = new Float32Array(data.length)
    for (let h = 0; h < d0; h++) for (let w = 0; w < d1; w++) for (let i = 0; i < d2; i++) t[(i * d0 + h) * d1 + w] = data[(h * d1 + w) * d2 + i]
    data = t
    ;[d0, d1, d2] = [d2, d0, d1]
  }
  if (d1 !== d2) throw new ContractError(file, diffKey, `patterns must be square N×N, got ${d1}×${d2}`)
  const n = d0
  const N = d1
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new ContractError(file, diffKey, `holds a non-finite value at flat index ${i}`)
  }

  const coord = (start: string, plain: string): {key: string; values: Float64Array} => {
    const key = members[start] ? start : plain
    const arr = members[key]
    if (!arr) throw new ContractError(file, plain, `missing: the file needs '${start}' or '${plain}' (one per image)`)
    if (isComplexDtype(arr.dtype) || Array.isArray(arr.data)) throw new ContractError(file, key, `must be real numbers, got dtype ${arr.dtype}`)
    const values = toFloat64(arr)
    if (values.length !== n) throw new ContractError(file, key, `must have one value per image (${n}), got ${values.length}`)
    for (const v of values) if (!Number.isFinite(v)) throw new ContractError(file, key, 'holds a non-finite coordinate')
    return {key, values}
  }
  const xc = coord('xcoords_start', 'xcoords')
  const yc = coord('ycoords_start', 'ycoords')

  const probeArr = members.probeGuess
  if (!probeArr) throw new ContractError(file, 'probeGuess', 'missing: the file needs the complex probe (N, N)')
  if (probeArr.shape.length !== 2 || probeArr.shape[0] !== N || probeArr.shape[1] !== N) {
    throw new ContractError(file, 'probeGuess', `must be ${N}×${N} like the diffraction patterns, got shape (${probeArr.shape.join(', ')})`)
  }
  const probe = complexInterleaved(file, 'probeGuess', probeArr)

  let objectGuess: ScanData['objectGuess']
  const obj = members.objectGuess
  if (obj) {
    if (obj.shape.length !== 2) throw new ContractError(file, 'objectGuess', `must be 2-D (H, W), got shape (${obj.shape.join(', ')})`)
    const z = complexInterleaved(file, 'objectGuess', obj)
    const [H, W] = obj.shape
    const re = new Float32Array(H * W)
    const im = new Float32Array(H * W)
    for (let i = 0; i < H * W; i++) {
      re[i] = z[2 * i]
      im[i] = z[2 * i + 1]
    }
    objectGuess = {re, im, H, W}
  }

  // per-image ground truth: ground_truth_patches (n,N,N[,1]); a per-image Y (first axis n) also qualifies
  let groundTruthPatches: Float32Array | undefined
  for (const key of ['ground_truth_patches', 'Y']) {
    const a = members[key]
    if (!a || !isComplexDtype(a.dtype)) continue
    const squeezed = a.shape.length === 4 && a.shape[3] === 1 ? a.shape.slice(0, 3) : a.shape
    if (squeezed.length === 3 && squeezed[0] === n && squeezed[1] === N && squeezed[2] === N) {
      groundTruthPatches = complexInterleaved(file, key, a)
      break
    }
  }

  return {file, n, N, diffraction: data, xcoords: xc.values, ycoords: yc.values, probe, objectGuess, groundTruthPatches}
}

function complexInterleaved(file: string, key: string, a: NdArray): Float32Array {
  if (isComplexDtype(a.dtype)) return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array)
  if (isFloatDtype(a.dtype)) {
    const v = toFloat64(a)
    const out = new Float32Array(2 * v.length)
    for (let i = 0; i < v.length; i++) out[2 * i] = v[i]
    return out
  }
  throw new ContractError(file, key, `must be complex (complex64), got dtype ${a.dtype}`)
}

/** Group and normalise in-memory scan arrays (the part of loadGroupedData after reading the file). */
export function groupScanData(scan: ScanData, opts: GroupedDataOptions): GroupedData {
  const {N, gridsize} = opts
  if (scan.N !== N) {
    throw new ContractError(scan.file, 'diffraction', `patterns are ${scan.N}×${scan.N} but the model's N is ${N}`)
  }
  if (!(opts.nphotons > 0)) throw new ContractError(undefined, 'nphotons', `must be > 0, got ${opts.nphotons}`)
  const groups = groupScanPositions(scan.xcoords, scan.ycoords, opts)
  const {B, C, nnIndices} = groups
  const {coordsOffsets, coordsRelative} = groupCoordinates(scan.xcoords, scan.ycoords, nnIndices, C)

  const NN = N * N
  const X = new Float32Array(B * NN * C)
  let energy = 0
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const src = nnIndices[b * C + c] * NN
      for (let p = 0; p < NN; p++) {
        const v = scan.diffraction[src + p]
        X[(b * NN + p) * C + c] = v
        energy += v * v
      }
    }
  }
  const meanEnergy = energy / (B * C)
  if (!(meanEnergy > 0)) throw new ContractError(scan.file, 'diffraction', 'the grouped patterns are all zero; cannot normalise')
  const normalization = Math.sqrt((N / 2) ** 2 / meanEnergy)
  for (let i = 0; i < X.length; i++) X[i] *= normalization

  let groundTruthPatches: ComplexPlanes | undefined
  if (scan.groundTruthPatches) {
    const re = new Float32Array(B * NN * C)
    const im = new Float32Array(B * NN * C)
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const src = nnIndices[b * C + c] * NN
        for (let p = 0; p < NN; p++) {
          re[(b * NN + p) * C + c] = scan.groundTruthPatches[2 * (src + p)]
          im[(b * NN + p) * C + c] = scan.groundTruthPatches[2 * (src + p) + 1]
        }
      }
    }
    groundTruthPatches = {re, im}
  }

  return {
    N,
    gridsize,
    C,
    B,
    nImages: scan.n,
    X,
    normalization,
    coordsRelative,
    coordsOffsets,
    nnIndices,
    probe: scan.probe,
    intensityScale: Math.sqrt(opts.nphotons) / (N / 2),
    xcoords: scan.xcoords,
    ycoords: scan.ycoords,
    objectGuess: scan.objectGuess,
    groundTruthPatches,
    seed: opts.seed,
  }
}

/** Read a DATA-001 NPZ and build the grouped, normalised training/inference arrays. */
export async function loadGroupedData(npzFile: string, opts: GroupedDataOptions): Promise<GroupedData> {
  return groupScanData(await readScanData(npzFile), opts)
}
