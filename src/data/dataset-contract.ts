/**
 * The DATA-001 dataset contract (spec §3, §11): checks that an NPZ dataset has the keys, dtypes and shapes the
 * study needs, returning every finding instead of stopping at the first.
 *
 * The spec's checks come first, in the spec's order and with its messages (studies/fly64_dose_overlap/
 * validation.py::validate_dataset_contract):
 *   1. required keys, 2. diffraction float (amplitude), 3. objectGuess/probeGuess complex,
 *   4. xcoords/ycoords float, 5. coordinate lengths == diffraction first axis,
 *   6. `view` is deprecated and ignored, 7. the y-split check only informs (nothing reported),
 *   8. gridsize > 1 needs neighbor_count >= gridsize² (OVERSAMPLING-001).
 * Then the port's additional checks: diffraction 3-D, probe N x N, N of the diffraction equal to the probe's,
 * objectGuess 2-D, 1-D coordinates, NaN/Inf and negative amplitudes, non-finite coordinates; and warnings for
 * the §11 normalisation heuristics (max >= 10, max/mean >= 100) which never fail a dataset.
 *
 * The checks are pure: the structural checks need only {dtype, shape} per member (so a file can be checked
 * from its NPZ headers), and the value checks take statistics that can be accumulated chunk by chunk.
 *
 * validateNpzFile applies them to a file on disk with bounded memory (`study validate`): the member list and
 * .npy headers, the diffraction values streamed chunk by chunk into statistics, the coordinates read (small),
 * and every other member streamed once to check its CRC and sizes. A file that cannot be read is a failed file
 * with the reader's message, never a crash of the whole run.
 */
import {ContractError, MissingInputError} from '../errors.js'
import {isComplexDtype, isFloatDtype, type NdArray, type NdData} from '../io/ndarray.js'
import {dtypeName} from '../io/npy.js'
import {listNpz, type NpzMemberInfo, readNpz, scanNpzMember, verifyNpz} from '../io/npz.js'

export const REQUIRED_NPZ_KEYS = ['diffraction', 'objectGuess', 'probeGuess', 'xcoords', 'ycoords'] as const

export type FindingLevel = 'error' | 'warning'

export interface Finding {
  level: FindingLevel
  /** the NPZ key concerned (or 'file', 'gridsize', 'neighbor_count') */
  field: string
  /** a stable identifier of the check, e.g. 'DATA-001/keys' */
  check: string
  message: string
}

export interface ContractOptions {
  /** grouping gridsize (default 1); > 1 turns on the OVERSAMPLING-001 check */
  gridsize?: number
  /** K for K-NN grouping */
  neighborCount?: number | null
  /** deprecated, ignored (the spacing gates were removed; phase D measures overlap via metrics) */
  view?: string | null
}

/** What the structural checks need from a member. */
export interface ArrayHeader {
  dtype: string
  shape: number[]
}

/** Statistics of the diffraction values, accumulated chunk by chunk. */
export interface DiffractionStats {
  count: number
  nan: number
  inf: number
  negative: number
  /** over finite values; null when there are none */
  min: number | null
  max: number | null
  mean: number | null
  /** flat index (storage order) of the first NaN/Inf, and of the first negative value */
  firstNonFinite: number | null
  firstNegative: number | null
}

/** The normalisation heuristics of spec §11 (docs/data_contracts.md): warnings only. */
export const NORMALISATION_MAX = 10
export const INTENSITY_MAX_OVER_MEAN = 100

const pyList = (xs: readonly string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`
const shapeText = (shape: number[]) => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`)

function error(field: string, check: string, message: string): Finding {
  return {level: 'error', field, check, message}
}
function warning(field: string, check: string, message: string): Finding {
  return {level: 'warning', field, check, message}
}

/** The structural checks (spec order first), from dtype and shape only. */
export function checkDatasetStructure(members: Record<string, ArrayHeader>, opts: ContractOptions = {}): Finding[] {
  const out: Finding[] = []
  const has = (k: string) => Object.prototype.hasOwnProperty.call(members, k)
  // 1. required keys
  const missing = REQUIRED_NPZ_KEYS.filter((k) => !has(k))
  if (missing.length > 0)
    out.push(
      error(
        missing.join(','),
        'DATA-001/keys',
        `Missing required NPZ keys (DATA-001): ${pyList(missing)}. Expected keys: ${pyList(REQUIRED_NPZ_KEYS)}`,
      ),
    )
  const diff = has('diffraction') ? members.diffraction! : undefined
  // 2. diffraction must be float amplitude (float64 passes silently)
  if (diff && !isFloatDtype(diff.dtype))
    out.push(
      error(
        'diffraction',
        'DATA-001/diffraction-dtype',
        `diffraction must be float (amplitude), got dtype=${dtypeName(diff.dtype)}. DATA-001 requires amplitude (sqrt of intensity).`,
      ),
    )
  // 3. object and probe complex
  for (const key of ['objectGuess', 'probeGuess']) {
    const a = has(key) ? members[key]! : undefined
    if (a && !isComplexDtype(a.dtype))
      out.push(error(key, 'DATA-001/complex-dtype', `${key} must be complex dtype (complex64/complex128), got dtype=${dtypeName(a.dtype)}`))
  }
  // 4. coordinates float
  for (const key of ['xcoords', 'ycoords']) {
    const a = has(key) ? members[key]! : undefined
    if (a && !isFloatDtype(a.dtype)) out.push(error(key, 'DATA-001/coords-dtype', `${key} must be float dtype, got dtype=${dtypeName(a.dtype)}`))
  }
  // 5. lengths
  if (diff && diff.shape.length >= 1) {
    const n = diff.shape[0]!
    for (const key of ['xcoords', 'ycoords']) {
      const a = has(key) ? members[key]! : undefined
      if (a && a.shape.length >= 1 && a.shape[0] !== n)
        out.push(error(key, 'DATA-001/coords-length', `${key} length ${a.shape[0]} != diffraction first axis ${n}`))
    }
  }
  // 6. view: deprecated and ignored. 7. y-split: informational only, nothing to report.
  // 8. OVERSAMPLING-001
  const gridsize = opts.gridsize ?? 1
  if (gridsize > 1) {
    const C = gridsize ** 2
    const K = opts.neighborCount
    if (K === undefined || K === null)
      out.push(
        error(
          'neighbor_count',
          'OVERSAMPLING-001/required',
          `neighbor_count required when gridsize=${gridsize} > 1 for oversampling validation (OVERSAMPLING-001)`,
        ),
      )
    else if (K < C)
      out.push(
        error(
          'neighbor_count',
          'OVERSAMPLING-001/k-ge-c',
          `neighbor_count=${K} < C=${C} (gridsize²=${gridsize}²). OVERSAMPLING-001 requires K ≥ C for K-choose-C to work. ` +
            `Increase neighbor_count to at least ${C}.`,
        ),
      )
  }
  // ---- the port's additional structural checks
  if (diff && diff.shape.length !== 3)
    out.push(
      error(
        'diffraction',
        'DATA-001/diffraction-3d',
        `diffraction must be 3-D (n_images, N, N), got shape ${shapeText(diff.shape)}` +
          (diff.shape.length === 4 && diff.shape[3] === 1 ? '; squeeze the channel axis' : ''),
      ),
    )
  const probe = has('probeGuess') ? members.probeGuess! : undefined
  const probeSquare = probe !== undefined && probe.shape.length === 2 && probe.shape[0] === probe.shape[1]
  if (probe && !probeSquare)
    out.push(error('probeGuess', 'DATA-001/probe-square', `probeGuess must be a square 2-D array (N, N), got shape ${shapeText(probe.shape)}`))
  if (diff && diff.shape.length === 3) {
    const [, h, w] = diff.shape as [number, number, number]
    if (h !== w)
      out.push(error('diffraction', 'DATA-001/diffraction-square', `diffraction patterns must be square (N, N), got ${h} x ${w}`))
    else if (probeSquare && probe.shape[0] !== h)
      out.push(
        error(
          'diffraction',
          'DATA-001/n-match',
          `diffraction patterns are ${h} x ${w} but probeGuess is ${probe.shape[0]} x ${probe.shape[1]}: N must be the same ` +
            `(the simulation takes N from the probe)`,
        ),
      )
    if (diff.shape[0] === 0) out.push(warning('diffraction', 'DATA-001/empty', 'diffraction holds no patterns (n_images = 0)'))
  }
  const obj = has('objectGuess') ? members.objectGuess! : undefined
  if (obj && obj.shape.length !== 2) out.push(error('objectGuess', 'DATA-001/object-2d', `objectGuess must be 2-D (M, M), got shape ${shapeText(obj.shape)}`))
  for (const key of ['xcoords', 'ycoords']) {
    const a = has(key) ? members[key]! : undefined
    if (a && a.shape.length !== 1) out.push(error(key, 'DATA-001/coords-1d', `${key} must be 1-D (n_images,), got shape ${shapeText(a.shape)}`))
  }
  return out
}

/** Accumulates DiffractionStats over chunks of float values (storage order). */
export class DiffractionStatsAccumulator {
  private count = 0
  private nan = 0
  private inf = 0
  private negative = 0
  private min = Number.POSITIVE_INFINITY
  private max = Number.NEGATIVE_INFINITY
  private sum = 0
  private finite = 0
  private firstNonFinite: number | null = null
  private firstNegative: number | null = null

  add(values: Float32Array | Float64Array, start = this.count): void {
    let min = this.min
    let max = this.max
    let sum = 0
    let finite = 0
    let neg = 0
    for (let k = 0; k < values.length; k++) {
      const v = values[k]!
      if (v - v !== 0) {
        // NaN or ±Inf (the only values for which v - v is not 0)
        if (Number.isNaN(v)) this.nan++
        else this.inf++
        if (this.firstNonFinite === null) this.firstNonFinite = start + k
        continue
      }
      if (v < min) min = v
      if (v > max) max = v
      sum += v
      finite++
      if (v < 0) {
        neg++
        if (this.firstNegative === null) this.firstNegative = start + k
      }
    }
    this.min = min
    this.max = max
    this.sum += sum
    this.finite += finite
    this.negative += neg
    this.count += values.length
  }

  result(): DiffractionStats {
    const any = this.finite > 0
    return {
      count: this.count,
      nan: this.nan,
      inf: this.inf,
      negative: this.negative,
      min: any ? this.min : null,
      max: any ? this.max : null,
      mean: any ? this.sum / this.finite : null,
      firstNonFinite: this.firstNonFinite,
      firstNegative: this.firstNegative,
    }
  }
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(Number(v.toPrecision(4))))

/** Value checks on the diffraction statistics: NaN/Inf and negatives fail; normalisation heuristics warn. */
export function checkDiffractionValues(stats: DiffractionStats): Finding[] {
  const out: Finding[] = []
  if (stats.nan + stats.inf > 0)
    out.push(
      error(
        'diffraction',
        'DATA-001/finite',
        `diffraction contains non-finite values: ${stats.nan} NaN and ${stats.inf} Inf of ${stats.count} ` +
          `(first at flat index ${stats.firstNonFinite})`,
      ),
    )
  if (stats.negative > 0)
    out.push(
      error(
        'diffraction',
        'DATA-001/non-negative',
        `diffraction has ${stats.negative} negative values (min ${fmt(stats.min!)}, first at flat index ${stats.firstNegative}); ` +
          'amplitudes (sqrt of intensity) must be ≥ 0',
      ),
    )
  if (stats.max !== null && stats.max >= NORMALISATION_MAX)
    out.push(
      warning(
        'diffraction',
        'DATA-001/normalised',
        `diffraction max ${fmt(stats.max)} ≥ ${NORMALISATION_MAX}: the data look unnormalised (DATA-001: diffraction MUST be ` +
          'normalised, typically max < 1; nphotons sets the physics scale, not the data values)',
      ),
    )
  if (stats.max !== null && stats.mean !== null && stats.mean > 0 && stats.max / stats.mean >= INTENSITY_MAX_OVER_MEAN)
    out.push(
      warning(
        'diffraction',
        'DATA-001/amplitude',
        `diffraction max/mean = ${fmt(stats.max / stats.mean)} ≥ ${INTENSITY_MAX_OVER_MEAN}: this looks like intensity, ` +
          'not amplitude (DATA-001: store sqrt(intensity))',
      ),
    )
  return out
}

/** Non-finite coordinates fail (they would place patches nowhere). */
export function checkCoordinateValues(key: string, values: ArrayLike<number>): Finding[] {
  let bad = 0
  let first = -1
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!
    if (v - v !== 0) {
      bad++
      if (first < 0) first = k
    }
  }
  return bad > 0 ? [error(key, 'DATA-001/coords-finite', `${key} has ${bad} non-finite values (first at index ${first})`)] : []
}

function floatData(data: NdData): Float32Array | Float64Array | undefined {
  return data instanceof Float32Array || data instanceof Float64Array ? data : undefined
}

/** Statistics of an in-memory diffraction array (float dtypes only). */
export function diffractionStats(arr: NdArray): DiffractionStats | undefined {
  const d = isFloatDtype(arr.dtype) ? floatData(arr.data) : undefined
  if (!d) return undefined
  const acc = new DiffractionStatsAccumulator()
  acc.add(d, 0)
  return acc.result()
}

/**
 * Validate a dataset held in memory (e.g. np.load output, or arrays about to be written): every finding,
 * errors and warnings, in check order. Pure.
 */
export function validateDataset(data: Record<string, NdArray>, opts: ContractOptions = {}): Finding[] {
  const headers = Object.fromEntries(Object.entries(data).map(([k, a]) => [k, {dtype: a.dtype, shape: a.shape}]))
  const out = checkDatasetStructure(headers, opts)
  const diff = data.diffraction
  if (diff && diff.shape.length >= 1) {
    const stats = diffractionStats(diff)
    if (stats) out.push(...checkDiffractionValues(stats))
  }
  for (const key of ['xcoords', 'ycoords']) {
    const a = data[key]
    const d = a && isFloatDtype(a.dtype) ? floatData(a.data) : undefined
    if (d) out.push(...checkCoordinateValues(key, d))
  }
  return out
}

/**
 * Throwing form (like the Python validator): the first error as a ContractError naming the file and field.
 * Warnings are ignored. Use before writing or training on a dataset.
 */
export function assertDatasetContract(data: Record<string, NdArray>, opts: ContractOptions & {file?: string} = {}): void {
  const first = validateDataset(data, opts).find((f) => f.level === 'error')
  if (first) throw new ContractError(opts.file, first.field, first.message)
}

// ------------------------------------------------------------------------------ files on disk

export type FileStatus = 'ok' | 'failed' | 'missing'

export interface MemberSummary {
  name: string
  /** numpy's dtype name (float32, complex64, <U12, object) */
  dtype: string
  shape: number[]
  compressed: boolean
  pickled: boolean
}

export interface FileReport {
  file: string
  status: FileStatus
  errors: number
  warnings: number
  findings: Finding[]
  /** diffraction first axis, when known */
  n_images: number | null
  /** pattern size N (from the probe, else the diffraction), when known */
  N: number | null
  members: MemberSummary[]
  diffraction_stats: DiffractionStats | null
}

export interface ValidationResult {
  ok: boolean
  gridsize: number
  neighbor_count: number | null
  files: FileReport[]
  counts: {ok: number; failed: number; missing: number}
}

export interface ValidateFileOptions extends ContractOptions {
  /** chunk size for streaming the diffraction values (default 4 MiB) */
  chunkBytes?: number
}

function problem(field: string, check: string, error: unknown): Finding {
  if (error instanceof ContractError) return {level: 'error', field: error.field ?? field, check, message: error.expected}
  throw error
}

/** Validate one NPZ file against DATA-001. Never throws for bad or missing files: they are findings. */
export async function validateNpzFile(file: string, opts: ValidateFileOptions = {}): Promise<FileReport> {
  const report: FileReport = {
    file,
    status: 'ok',
    errors: 0,
    warnings: 0,
    findings: [],
    n_images: null,
    N: null,
    members: [],
    diffraction_stats: null,
  }
  const finish = (): FileReport => {
    report.errors = report.findings.filter((f) => f.level === 'error').length
    report.warnings = report.findings.length - report.errors
    if (report.status !== 'missing') report.status = report.errors > 0 ? 'failed' : 'ok'
    return report
  }
  let members: NpzMemberInfo[]
  try {
    members = await listNpz(file)
  } catch (error) {
    if (error instanceof MissingInputError) {
      report.status = 'missing'
      report.findings.push({level: 'error', field: 'file', check: 'file/exists', message: 'file not found'})
      return finish()
    }
    report.findings.push(problem('file', 'npz/readable', error))
    return finish()
  }
  report.members = members.map((m) => ({name: m.name, dtype: dtypeName(m.dtype), shape: m.shape, compressed: m.compressed, pickled: m.pickled}))
  const headers = Object.fromEntries(members.filter((m) => !m.pickled).map((m) => [m.name, {dtype: m.dtype, shape: m.shape}]))
  for (const m of members.filter((x) => x.pickled))
    report.findings.push({
      level: 'warning',
      field: m.name,
      check: 'npz/pickled',
      message: `${m.name} is a pickled Python object array that JS cannot read; ignored (the study writes its metadata as JSON text)`,
    })
  report.findings.push(...checkDatasetStructure(headers, opts))

  const diff = headers.diffraction
  const probe = headers.probeGuess
  report.n_images = diff && diff.shape.length >= 1 ? diff.shape[0]! : null
  report.N = probe && probe.shape.length === 2 && probe.shape[0] === probe.shape[1] ? probe.shape[0]! : diff && diff.shape.length === 3 ? diff.shape[1]! : null

  const checked = new Set<string>()
  for (const m of members.filter((x) => x.unsupported !== undefined))
    report.findings.push({
      level: 'warning',
      field: m.name,
      check: 'npz/unsupported-dtype',
      message: `${m.name} has dtype ${dtypeName(m.dtype)} which JS cannot read; its values are not checked`,
    })
  if (diff && /^<f[48]$/.test(diff.dtype)) {
    const acc = new DiffractionStatsAccumulator()
    try {
      await scanNpzMember(file, 'diffraction', ({data, start}) => acc.add(data as Float32Array | Float64Array, start), {
        chunkBytes: opts.chunkBytes,
      })
      report.diffraction_stats = acc.result()
      report.findings.push(...checkDiffractionValues(report.diffraction_stats))
    } catch (error) {
      report.findings.push(problem('diffraction', 'npz/readable', error))
    }
    checked.add('diffraction')
  }
  const coordKeys = ['xcoords', 'ycoords'].filter((k) => headers[k] && /^<f[48]$/.test(headers[k].dtype))
  for (const key of coordKeys) {
    try {
      const arr = (await readNpz(file, {members: [key]}))[key]!
      report.findings.push(...checkCoordinateValues(key, arr.data as Float64Array))
    } catch (error) {
      report.findings.push(problem(key, 'npz/readable', error))
    }
    checked.add(key)
  }
  try {
    await verifyNpz(file, {skip: [...checked]})
  } catch (error) {
    report.findings.push(problem('file', 'npz/integrity', error))
  }
  return finish()
}

/** Validate several files (one after the other, so memory stays bounded by one file's largest chunk). */
export async function validateNpzFiles(files: string[], opts: ValidateFileOptions = {}): Promise<ValidationResult> {
  const reports: FileReport[] = []
  for (const file of files) reports.push(await validateNpzFile(file, opts))
  const counts = {
    ok: reports.filter((r) => r.status === 'ok').length,
    failed: reports.filter((r) => r.status === 'failed').length,
    missing: reports.filter((r) => r.status === 'missing').length,
  }
  return {
    ok: counts.failed === 0 && counts.missing === 0,
    gridsize: opts.gridsize ?? 1,
    neighbor_count: opts.neighborCount ?? null,
    files: reports,
    counts,
  }
}

const numText = (v: number | null) => (v === null ? '?' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(Number(v.toPrecision(4))))

/** The human report: one block per file (✓ / ✗), findings indented, a summary line. */
export function formatValidationReport(result: ValidationResult): string {
  const lines: string[] = []
  for (const r of result.files) {
    if (r.status === 'missing') {
      lines.push(`✗ ${r.file}: not found`)
      continue
    }
    const diff = r.members.find((m) => m.name === 'diffraction')
    const s = r.diffraction_stats
    const facts = [
      r.n_images === null ? undefined : `${r.n_images} images`,
      r.N === null ? undefined : `N=${r.N}`,
      diff && s
        ? s.count === 0
          ? `diffraction ${diff.dtype}, empty`
          : `diffraction ${diff.dtype} in [${numText(s.min)}, ${numText(s.max)}], mean ${numText(s.mean)}`
        : undefined,
    ].filter(Boolean)
    if (r.status === 'ok') lines.push(`✓ ${r.file}: DATA-001 ok${facts.length ? ` (${facts.join(', ')})` : ''}`)
    else
      lines.push(
        `✗ ${r.file}: ${r.errors} error${r.errors === 1 ? '' : 's'}` +
          (r.warnings ? `, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}` : '') +
          (facts.length ? ` (${facts.join(', ')})` : ''),
      )
    for (const f of r.findings) lines.push(`    ${f.level === 'error' ? '✗' : '!'} ${f.field}: ${f.message}`)
  }
  const {ok, failed, missing} = result.counts
  const n = result.files.length
  lines.push(
    `${n} file${n === 1 ? '' : 's'}: ${ok} ok, ${failed} failed` + (missing ? `, ${missing} missing` : '') +
      (result.gridsize > 1 ? ` (gridsize ${result.gridsize}, neighbor_count ${result.neighbor_count ?? 'unset'})` : ''),
  )
  return lines.join('\n')
}
