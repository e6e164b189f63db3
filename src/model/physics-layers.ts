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

export interface PatchGeometry {
  B: number
  C: number
  N: number
  /** padded size P */
  P: number
  /** (2·B·C, P, N): rows of the reassembly translation along y, for re then im */
  reassembleY: Float32Array
  /** (2·B·C, P, N): along x */
  reassembleX: Float32Array
  /** (B, P, P): 1 / (reassembled centre mask + 0.001); ones when objectBig is false */
  invNorm: Float32Array
  /** (2·B·C, N, P): extraction (translate by +coords_relative, trim) along y */
  extractY: Float32Array
  /** (2·B·C, N, P) along x */
  extractX: Float32Array
}

/**
 * The per-batch matrices of object.big reassembly (§13.2 step 6) and patch extraction (step 8).
 * reassembly of channel c: pad N -> P by (P-N)//2, translate by -coords_relative_c: source = i + rel - p0.
 * extraction of channel c: translate the P x P object by +coords_relative_c, trim by (P-N)//2: source = j + p0 - rel.
 */
export function patchGeometry(coordsRelative: ArrayLike<number>, B: number, C: number, N: number, P: number, objectBig: boolean): PatchGeometry {
  const p0 = Math.floor((P - N) / 2)
  const BC = B * C
  const reassembleY = new Float32Array(2 * BC * P * N)
  const reassembleX = new Float32Array(2 * BC * P * N)
  const extractY = new Float32Array(2 * BC * N * P)
  const extractX = new Float32Array(2 * BC * N * P)
  const invNorm = new Float32Array(B * P * P)
  const mask = centerMask(N)
  const norm = new Float64Array(P * P)
  for (let b = 0; b < B; b++) {
    norm.fill(0)
    for (let c = 0; c < C; c++) {
      const rx = relX(coordsRelative, C, b, c)
      const ry = relY(coordsRelative, C, b, c)
      const k = b * C + c
      for (const part of [0, 1]) {
        const o = (part * BC + k) * P * N
        fillInterpolationMatrix(reassembleY, o, P, N, ry - p0)
        fillInterpolationMatrix(reassembleX, o, P, N, rx - p0)
        fillInterpolationMatrix(extractY, o, N, P, p0 - ry)
        fillInterpolationMatrix(extractX, o, N, P, p0 - rx)
      }
      if (objectBig) {
        for (let i = 0; i < P; i++) {
          const ty = taps(i, ry - p0, N)
          if (ty.length === 0) continue
          for (let j = 0; j < P; j++) {
            const tx = taps(j, rx - p0, N)
            let v = 0
            for (const [yy, wy] of ty) for (const [xx, wx] of tx) v += wy * wx * mask[yy * N + xx]
            norm[i * P + j] += v
          }
        }
      }
    }
    for (let i = 0; i < P * P; i++) invNorm[b * P * P + i] = objectBig ? 1 / (norm[i] + 0.001) : 1
  }
  return {B, C, N, P, reassembleY, reassembleX, invNorm, extractY, extractX}
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
  mats: {reassembleY: tf.Tensor3D; reassembleX: tf.Tensor3D; invNorm: tf.Tensor; extractY: tf.Tensor3D; extractX: tf.Tensor3D},
  objectBig: boolean,
): {trimmedRe: tf.Tensor3D; trimmedIm: tf.Tensor3D; patchRe: tf.Tensor3D; patchIm: tf.Tensor3D} {
  const {B, C, N, P} = geom
  const p0 = Math.floor((P - N) / 2)
  let big: tf.Tensor4D // (2, B, P, P)
  if (objectBig) {
    const x2 = tf.concat([objRe, objIm], 0) // (2BC, N, N)
    const y = tf.matMul(tf.matMul(mats.reassembleY, x2), mats.reassembleX, false, true) // (2BC, P, P)
    big = tf.mul(tf.sum(tf.reshape(y, [2, B, C, P, P]), 2), mats.invNorm) as tf.Tensor4D
  } else {
    const x2 = tf.reshape(tf.concat([objRe, objIm], 0), [2, B, N, N])
    big = tf.pad(x2, [[0, 0], [0, 0], [p0, P - N - p0], [p0, P - N - p0]]) as tf.Tensor4D
  }
  const trimmed = tf.slice(big, [0, 0, p0, p0], [2, B, N, N])
  // repeat the object for each channel (rank-3 tile: tfjs has no tile gradient above rank 4)
  const tiled = C === 1 ? tf.reshape(big, [2 * B, P, P]) : tf.reshape(tf.tile(tf.reshape(big, [2 * B, 1, P * P]), [1, C, 1]), [2 * B * C, P, P])
  const patches = tf.matMul(tf.matMul(mats.extractY, tiled), mats.extractX, false, true) // (2BC, N, N)
  const [trimmedRe, trimmedIm] = tf.split(tf.reshape(trimmed, [2 * B, N, N]), 2, 0) as tf.Tensor3D[]
  const [patchRe, patchIm] = tf.split(patches, 2, 0) as tf.Tensor3D[]
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
