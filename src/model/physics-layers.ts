/**
 * The differentiable physics of PtychoPINN (spec §13.1-13.3) on (re, im) float32 tensor pairs, so that it runs
 * and differentiates on every tfjs backend (wasm has no Complex/FFT kernels and no backend has complex gradients).
 *
 * - Far field: a 2-D DFT as one matMul per axis with the real block matrix [[Wr, Wi], [-Wi, Wr]] (fftshift and the
 *   1/N normalisation folded into W). The result comes out TRANSPOSED, (M, kx, ky): callers arrange targets to match.
 * - Translation: bilinear with zero fill is separable, so translating (and padding, and trimming) an image is
 *   Ty · img · Txᵀ with two taps per matrix row. Matrices are built in plain JS per batch; positions are data,
 *   not trained, so no gradient flows into them.
 *
 * Sign convention (spec §13.1): translate(img, [dx, dy]) moves content by +t: out[y, x] = in[y - dy, x - dx].
 */
import * as tf from '@tensorflow/tfjs-core'

/** Ones over the central N/2 x N/2 square of an N x N image (ZeroPadding2D(N//4) of ones((N/2, N/2))). */
export function centerMask(N: number): Float32Array {
  const m = new Float32Array(N * N)
  const a = Math.floor(N / 4)
  const half = Math.floor(N / 2)
  for (let y = a; y < a + half; y++) for (let x = a; x < a + half; x++) m[y * N + x] = 1
  return m
}

/** probe.get_probe_mask_real(N): dist < N//4 with centred = arange(N) - N//2 + 0.5. */
export function probeMaskReal(N: number): Float32Array {
  const m = new Float32Array(N * N)
  const r = Math.floor(N / 4)
  for (let y = 0; y < N; y++) {
    const cy = y - Math.floor(N / 2) + 0.5
    for (let x = 0; x < N; x++) {
      const cx = x - Math.floor(N / 2) + 0.5
      if (Math.sqrt(cx * cx + cy * cy) < r) m[y * N + x] = 1
    }
  }
  return m
}

export interface NormalizedProbe {
  re: Float32Array
  im: Float32Array
  /** the divisor applied: probe_scale · mean(|mask · probe|) */
  norm: number
}

/** §13.3 set_probe_guess: probe / (probe_scale · mean(|mask · probe|)); `probe` is interleaved complex (N, N). */
export function normalizeProbe(probe: ArrayLike<number>, N: number, probeScale: number): NormalizedProbe {
  if (probe.length !== 2 * N * N) throw new RangeError(`probe must hold ${N}x${N} complex values, got ${probe.length / 2}`)
  const mask = probeMaskReal(N)
  let sum = 0
  for (let i = 0; i < N * N; i++) sum += mask[i] * Math.hypot(probe[2 * i], probe[2 * i + 1])
  const norm = probeScale * (sum / (N * N))
  if (!(norm > 0) || !Number.isFinite(norm)) throw new RangeError(`probe normalisation is ${norm}: the probe is zero inside the mask`)
  const re = new Float32Array(N * N)
  const im = new Float32Array(N * N)
  for (let i = 0; i < N * N; i++) {
    re[i] = probe[2 * i] / norm
    im[i] = probe[2 * i + 1] / norm
  }
  return {re, im, norm}
}

/**
 * The 2N x 2N real block matrix of the 1-D DFT with fftshift applied to the output and a 1/sqrt(N) scale:
 * [xre | xim] · B = [Yre | Yim] with Y[k'] = (1/sqrt N) Σ_n x[n] exp(-2πi n k / N), k = (k' + N/2) mod N.
 */
export function shiftedDftBlock(N: number): Float32Array {
  const b = new Float32Array(4 * N * N)
  const s = 1 / Math.sqrt(N)
  const two = 2 * N
  for (let n = 0; n < N; n++) {
    for (let kp = 0; kp < N; kp++) {
      const k = (kp + N / 2) % N
      const ang = (-2 * Math.PI * ((n * k) % N)) / N
      const wr = Math.cos(ang) * s
      const wi = Math.sin(ang) * s
      b[n * two + kp] = wr // re -> re
      b[n * two + N + kp] = wi // re -> im
      b[(N + n) * two + kp] = -wi // im -> re
      b[(N + n) * two + N + kp] = wr // im -> im
    }
  }
  return b
}

/**
 * |fftshift(FFT2(ψ))|² / N² for a stack of M images ψ = re + i·im, each (M, N, N) in [y, x] order.
 * Returns (M, kx, ky): the TRANSPOSE of numpy's fftshift(fft2) layout.
 */
export function farFieldIntensity(re: tf.Tensor3D, im: tf.Tensor3D, block: tf.Tensor2D): tf.Tensor3D {
  const [M, N] = re.shape
  const mul = constantMatMul(block)
  const a = mul(tf.reshape(tf.concat([re, im], 2), [M * N, 2 * N])) // rows (m, y), cols [re kx | im kx]
  const at = tf.transpose(tf.reshape(a, [M, N, 2, N]), [0, 3, 2, 1]) // (m, kx, 2, y)
  const f = mul(tf.reshape(at, [M * N, 2 * N])) // rows (m, kx), cols [re ky | im ky]
  return tf.sum(tf.square(tf.reshape(f, [M, N, 2, N])), 2) as tf.Tensor3D
}

/**
 * x ↦ x · W for a constant W, with the gradient dx = dy · Wᵀ computed from an explicitly transposed copy:
 * the wasm backend's matMul with transposeB (tfjs's own gradient) is ~8x slower than a plain one.
 */
export function constantMatMul(w: tf.Tensor2D): (x: tf.Tensor2D) => tf.Tensor2D {
  return tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc]
    save([w]) // keeps w alive for the backward pass even when it was made inside the forward scope
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.matMul(dy, tf.transpose(saved[0] as tf.Tensor2D)),
    }
  }) as Parameters<typeof tf.customGrad<tf.Tensor2D>>[0]) as (x: tf.Tensor2D) => tf.Tensor2D
}

/** ψ = probe · object for (M, N, N) object parts and (N, N) probe parts (broadcast over M). */
export function illuminate(
  objRe: tf.Tensor3D,
  objIm: tf.Tensor3D,
  probeRe: tf.Tensor,
  probeIm: tf.Tensor,
): [tf.Tensor3D, tf.Tensor3D] {
  const re = tf.sub(tf.mul(objRe, probeRe), tf.mul(objIm, probeIm)) as tf.Tensor3D
  const im = tf.add(tf.mul(objRe, probeIm), tf.mul(objIm, probeRe)) as tf.Tensor3D
  return [re, im]
}

/**
 * Fill `out` (rows x cols, row-major, at `offset`) with a 1-D linear-interpolation matrix: row i samples the input
 * at position i + shift (bilinear taps floor/floor+1), dropping taps outside [0, cols) (zero fill).
 */
export function fillInterpolationMatrix(out: Float32Array, offset: number, rows: number, cols: number, shift: number): void {
  for (let i = 0; i < rows; i++) {
    const s = i + shift
    const f = Math.floor(s)
    const a = s - f
    const base = offset + i * cols
    if (f >= 0 && f < cols && a < 1) out[base + f] += 1 - a
    if (a > 0 && f + 1 >= 0 && f + 1 < cols) out[base + f + 1] += a
  }
}

/** Taps of one interpolation row (for plain-JS evaluation of products). */
function taps(i: number, shift: number, cols: number): Array<[number, number]> {
  const s = i + shift
  const f = Math.floor(s)
  const a = s - f
  const r: Array<[number, number]> = []
  if (f >= 0 && f < cols && a < 1) r.push([f, 1 - a])
  if (a > 0 && f + 1 >= 0 && f + 1 < cols) r.push([f + 1, a])
  return r
}

/** coords_relative (B,1,2,C): x of (b, c) and y of (b, c) */
export function relX(coords: ArrayLike<number>, C: number, b: number, c: number): number {
  return coords[b * 2 * C + c]
}
export function relY(coords: ArrayLike<number>, C: number, b: number, c: number): number {
  return coords[b * 2 * C + C + c]
}

/**
 * A sparse 2-tap linear operator on the rows of a stack of K matrices (n rows in, m rows out): row i of item k is
 * w0·row idx0 + w1·row idx1 (indices into the flattened K·n rows; a missing tap has weight 0). It is applied with
 * gather (forward) and scatterND (its adjoint): the wasm backend's batched matMul of small matrices runs at ~1 GFLOP/s
 * and tfjs's gather gradient needs UnsortedSegmentSum, which wasm lacks.
 */
export interface RowTaps {
  K: number
  m: number
  n: number
  idx0: Int32Array
  idx1: Int32Array
  w0: Float32Array
  w1: Float32Array
}

function emptyTaps(K: number, m: number, n: number): RowTaps {
  return {K, m, n, idx0: new Int32Array(K * m), idx1: new Int32Array(K * m), w0: new Float32Array(K * m), w1: new Float32Array(K * m)}
}

/** Item k's rows: output row i samples input position i + shift (bilinear, zero outside [0, n)). */
function setTaps(t: RowTaps, k: number, shift: number): void {
  for (let i = 0; i < t.m; i++) {
    const s = i + shift
    const f = Math.floor(s)
    const a = s - f
    const o = k * t.m + i
    if (f >= 0 && f < t.n && a < 1) {
      t.idx0[o] = k * t.n + f
      t.w0[o] = 1 - a
    }
    if (a > 0 && f + 1 >= 0 && f + 1 < t.n) {
      t.idx1[o] = k * t.n + f + 1
      t.w1[o] = a
    }
  }
}

export interface PatchGeometry {
  B: number
  C: number
  N: number
  /** padded size P */
  P: number
  /** reassembly: pad N -> P and translate by -coords_relative, along y (B·C items) and along x (2·B·C items: re, im) */
  reassembleRows: RowTaps
  reassembleCols: RowTaps
  /** (B, 1, P, P): 1 / (reassembled centre mask + 0.001); ones when objectBig is false */
  invNorm: Float32Array
  /** extraction: translate by +coords_relative and trim P -> N, along y and x */
  extractRows: RowTaps
  extractCols: RowTaps
}

/**
 * The per-batch operators of object.big reassembly (§13.2 step 6) and patch extraction (step 8).
 * reassembly of channel c: pad N -> P by (P-N)//2, translate by -coords_relative_c: source = i + rel - p0.
 * extraction of channel c: translate the P x P object by +coords_relative_c, trim by (P-N)//2: source = j + p0 - rel.
 */
export function patchGeometry(coordsRelative: ArrayLike<number>, B: number, C: number, N: number, P: number, objectBig: boolean): PatchGeometry {
  const p0 = Math.floor((P - N) / 2)
  const BC = B * C
  const reassembleRows = emptyTaps(BC, P, N)
  const reassembleCols = emptyTaps(2 * BC, P, N)
  const extractRows = emptyTaps(BC, N, P)
  const extractCols = emptyTaps(2 * BC, N, P)
  const invNorm = new Float32Array(B * P * P)
  const mask = centerMask(N)
  const norm = new Float64Array(P * P)
  for (let b = 0; b < B; b++) {
    norm.fill(0)
    for (let c = 0; c < C; c++) {
      const rx = relX(coordsRelative, C, b, c)
      const ry = relY(coordsRelative, C, b, c)
      const k = b * C + c
      setTaps(reassembleRows, k, ry - p0)
      setTaps(extractRows, k, p0 - ry)
      for (const part of [0, 1]) {
        setTaps(reassembleCols, 2 * k + part, rx - p0)
        setTaps(extractCols, 2 * k + part, p0 - rx)
      }
      if (objectBig) {
        const txs = Array.from({length: P}, (_, j) => taps(j, rx - p0, N))
        for (let i = 0; i < P; i++) {
          const ty = taps(i, ry - p0, N)
          if (ty.length === 0) continue
          for (let j = 0; j < P; j++) {
            const tx = txs[j]
            let v = 0
            for (const [yy, wy] of ty) for (const [xx, wx] of tx) v += wy * wx * mask[yy * N + xx]
            norm[i * P + j] += v
          }
        }
      }
    }
    for (let i = 0; i < P * P; i++) invNorm[b * P * P + i] = objectBig ? 1 / (norm[i] + 0.001) : 1
  }
  return {B, C, N, P, reassembleRows, reassembleCols, invNorm, extractRows, extractCols}
}

export interface RowTapTensors {
  K: number
  m: number
  n: number
  /** (2·K·m, 1) int32: idx0 then idx1 */
  indices: tf.Tensor2D
  /** (K·m, 1) */
  w0: tf.Tensor2D
  w1: tf.Tensor2D
}

export interface PatchMatrices {
  reassembleRows: RowTapTensors
  reassembleCols: RowTapTensors
  invNorm: tf.Tensor4D
  extractRows: RowTapTensors
  extractCols: RowTapTensors
}

function tapTensors(t: RowTaps): RowTapTensors {
  const ind = new Int32Array(2 * t.K * t.m)
  ind.set(t.idx0, 0)
  ind.set(t.idx1, t.K * t.m)
  return {
    K: t.K,
    m: t.m,
    n: t.n,
    indices: tf.tensor2d(ind, [2 * t.K * t.m, 1], 'int32'),
    w0: tf.tensor2d(t.w0, [t.K * t.m, 1]),
    w1: tf.tensor2d(t.w1, [t.K * t.m, 1]),
  }
}

/** The geometry's operators as tensors (the caller disposes them, e.g. with tf.tidy). */
export function patchMatrices(g: PatchGeometry): PatchMatrices {
  const {B, P} = g
  return {
    reassembleRows: tapTensors(g.reassembleRows),
    reassembleCols: tapTensors(g.reassembleCols),
    invNorm: tf.tensor4d(g.invNorm, [B, 1, P, P]),
    extractRows: tapTensors(g.extractRows),
    extractCols: tapTensors(g.extractCols),
  }
}

export function disposePatchMatrices(m: PatchMatrices): void {
  for (const t of [m.reassembleRows, m.reassembleCols, m.extractRows, m.extractCols]) tf.dispose([t.indices, t.w0, t.w1])
  m.invNorm.dispose()
}

/** Apply a row operator to x (K, n, q) -> (K, m, q); differentiable in x. */
export function applyRowTaps(x: tf.Tensor3D, t: RowTapTensors): tf.Tensor3D {
  const {K, m, n} = t
  const q = x.shape[2]
  const f = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xx, save] = args as [tf.Tensor3D, tf.GradSaveFunc]
    save([t.indices, t.w0, t.w1])
    const rows = tf.reshape(xx, [K * n, q])
    const both = tf.gather(rows, tf.reshape(t.indices, [2 * K * m])) // (2Km, q)
    const [g0, g1] = tf.split(both, 2, 0)
    const y = tf.add(tf.mul(g0, t.w0), tf.mul(g1, t.w1))
    return {
      value: tf.reshape(y, [K, m, q]) as tf.Tensor3D,
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [ind, w0, w1] = saved as tf.Tensor2D[]
        const d = tf.reshape(dy, [K * m, q])
        const upd = tf.concat([tf.mul(d, w0), tf.mul(d, w1)], 0)
        return tf.reshape(tf.scatterND(ind, upd, [K * n, q]), [K, n, q])
      },
    }
  }) as Parameters<typeof tf.customGrad<tf.Tensor3D>>[0])
  return f(x) as tf.Tensor3D
}

/** rows ∘ cols for a stack of (re, im) image pairs (K, 2, r, c) -> (K, 2, m_rows, m_cols). */
function sandwich(pairs: tf.Tensor4D, rowsOp: RowTapTensors, colsOp: RowTapTensors): tf.Tensor4D {
  const [K, , r, c] = pairs.shape
  const out1 = rowsOp.m
  const out2 = colsOp.m
  // rows y, columns [re x | im x]: one row operation for both parts
  const wide = tf.reshape(tf.transpose(pairs, [0, 2, 1, 3]), [K, r, 2 * c]) as tf.Tensor3D
  const l = applyRowTaps(wide, rowsOp) // (K, out1, 2c)
  // columns as rows, one item per (k, part)
  const cols = tf.reshape(tf.transpose(tf.reshape(l, [K, out1, 2, c]), [0, 2, 3, 1]), [2 * K, c, out1]) as tf.Tensor3D
  const z = applyRowTaps(cols, colsOp) // (2K, out2, out1)
  return tf.transpose(tf.reshape(z, [K, 2, out2, out1]), [0, 1, 3, 2]) as tf.Tensor4D
}

/**
 * object.big reassembly + trim + extraction for (B·C, N, N) object parts.
 * Returns the trimmed object (B, N, N) parts and the extracted patches (B·C, N, N) parts.
 * When objectBig is false the object has one channel (B, N, N) and is only padded.
 */
export function reassembleAndExtract(
  objRe: tf.Tensor3D,
  objIm: tf.Tensor3D,
  geom: {B: number; C: number; N: number; P: number},
  mats: PatchMatrices,
  objectBig: boolean,
): {trimmedRe: tf.Tensor3D; trimmedIm: tf.Tensor3D; patchRe: tf.Tensor3D; patchIm: tf.Tensor3D} {
  const {B, C, N, P} = geom
  const p0 = Math.floor((P - N) / 2)
  let big: tf.Tensor4D // (B, 2, P, P)
  if (objectBig) {
    const pairs = tf.stack([objRe, objIm], 1) as tf.Tensor4D // (BC, 2, N, N)
    const y = sandwich(pairs, mats.reassembleRows, mats.reassembleCols) // (BC, 2, P, P)
    big = tf.mul(tf.sum(tf.reshape(y, [B, C, 2, P, P]), 1), mats.invNorm) as tf.Tensor4D
  } else {
    big = tf.pad(tf.stack([objRe, objIm], 1), [[0, 0], [0, 0], [p0, P - N - p0], [p0, P - N - p0]]) as tf.Tensor4D
  }
  const trimmed = tf.slice(big, [0, 0, p0, p0], [B, 2, N, N])
  // repeat the object for each channel (concat: the wasm Tile kernel is ~10x slower, and has no rank-5 gradient)
  const tiled =
    C === 1 ? big : (tf.reshape(tf.concat(Array.from({length: C}, () => tf.reshape(big, [B, 1, 2 * P * P])), 1), [B * C, 2, P, P]) as tf.Tensor4D)
  const patches = sandwich(tiled, mats.extractRows, mats.extractCols) // (BC, 2, N, N)
  const [trimmedRe, trimmedIm] = tf.unstack(trimmed, 1) as tf.Tensor3D[]
  const [patchRe, patchIm] = tf.unstack(patches, 1) as tf.Tensor3D[]
  return {trimmedRe, trimmedIm, patchRe, patchIm}
}

/** Plain-JS bilinear translation with zero fill (the reference for tests): out[y,x] = in[y - dy, x - dx]. */
export function translateImageReference(img: ArrayLike<number>, H: number, W: number, dx: number, dy: number): Float64Array {
  const out = new Float64Array(H * W)
  const at = (y: number, x: number) => (y >= 0 && y < H && x >= 0 && x < W ? img[y * W + x] : 0)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sy = y - dy
      const sx = x - dx
      const y0 = Math.floor(sy)
      const x0 = Math.floor(sx)
      const ay = sy - y0
      const ax = sx - x0
      out[y * W + x] =
        (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1)) + ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1))
    }
  }
  return out
}
