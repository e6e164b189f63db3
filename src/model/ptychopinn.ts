/**
 * PtychoPINN in TensorFlow.js, written functionally with tf ops and tf.Variables (spec §13.2).
 *
 * Inputs: X (B, N, N, C) normalised diffraction amplitudes (normalize_data, NOT multiplied by intensity_scale),
 * coords_relative (B, 1, 2, C). Outputs: the trimmed object (B, N, N) as (re, im) and the predicted
 * intensity exp(log_scale)² · |fftshift(FFT2(probe · patch))|² / N² laid out (B·C, kx, ky) (transposed).
 * The complex object is amp · exp(i·phase) (Euler form; the study-era amp + i·phase bug is not reproduced).
 */
import * as tf from '@tensorflow/tfjs-core'
import type {Rng} from '../util/random.js'
import {C_OUTER, decoderFilters, encoderFilters, parameterDefs, type ModelSpec} from './architecture.js'
import {conv2d, maxPool2, swish, upsample2} from './layers.js'
import {
  centerMask,
  farFieldIntensity,
  illuminate,
  normalizeProbe,
  patchGeometry,
  patchMatrices,
  probeMaskReal,
  reassembleAndExtract,
  shiftedDftBlock,
} from './physics-layers.js'

export interface ForwardResult {
  /** trimmed object (B, N, N) */
  objRe: tf.Tensor3D
  objIm: tf.Tensor3D
  /** predicted intensity (B·C, kx, ky), present when requested */
  intensity?: tf.Tensor3D
}

/** Glorot-uniform limit for a conv kernel [kh, kw, cin, cout]. */
function glorotLimit(shape: number[]): number {
  const receptive = shape.length === 4 ? shape[0] * shape[1] : 1
  const fanIn = receptive * shape[shape.length - 2]
  const fanOut = receptive * shape[shape.length - 1]
  return Math.sqrt(6 / (fanIn + fanOut))
}

export class PtychoPinn {
  readonly spec: ModelSpec
  /** network weights by name, in parameterDefs order */
  readonly weights = new Map<string, tf.Variable>()
  readonly logScale: tf.Variable
  readonly probeRe: tf.Variable
  readonly probeIm: tf.Variable
  /** (2N, 2N) shifted DFT block matrix */
  private readonly dftBlock: tf.Tensor2D
  /** (N, N, 1): 1 - centre mask, for the border path */
  private readonly borderMask: tf.Tensor
  /** (N, N): gs1 fast path of reassembly: 1 / (centre mask + 0.001) */
  private readonly gs1Weight: tf.Tensor
  private disposed = false

  /**
   * @param probe interleaved complex (N, N) probe as in the NPZ (normalised here per §13.3), or an already
   *   normalised {re, im} pair (from a bundle)
   * @param rng seeds the Glorot-uniform initialisation; without it weights start at zero (to be loaded)
   */
  constructor(spec: ModelSpec, probe: ArrayLike<number> | {re: Float32Array; im: Float32Array}, rng?: Rng) {
    this.spec = spec
    const {N} = spec
    for (const def of parameterDefs(spec)) {
      const size = def.shape.reduce((a, b) => a * b, 1)
      const data = new Float32Array(size)
      if (def.init === 'glorot_uniform' && rng) {
        const lim = glorotLimit(def.shape)
        for (let i = 0; i < size; i++) data[i] = (2 * rng.next() - 1) * lim
      }
      this.weights.set(def.name, tf.tidy(() => tf.variable(tf.tensor(data, def.shape), true)))
    }
    this.logScale = tf.tidy(() => tf.variable(tf.scalar(Math.log(spec.intensity_scale)), spec.intensity_scale_trainable))
    let pr: Float32Array
    let pi: Float32Array
    if ('re' in probe && 'im' in probe && !(probe instanceof Float32Array)) {
      pr = probe.re
      pi = probe.im
    } else {
      const p = normalizeProbe(probe as ArrayLike<number>, N, spec.probe_scale)
      pr = p.re
      pi = p.im
    }
    if (spec.probe_mask) {
      const m = probeMaskReal(N)
      pr = pr.map((v, i) => v * m[i])
      pi = pi.map((v, i) => v * m[i])
    }
    // variables made inside tidy, so that their initial tensors are released
    this.probeRe = tf.tidy(() => tf.variable(tf.tensor2d(pr, [N, N]), spec.probe_trainable))
    this.probeIm = tf.tidy(() => tf.variable(tf.tensor2d(pi, [N, N]), spec.probe_trainable))
    this.dftBlock = tf.tensor2d(shiftedDftBlock(N), [2 * N, 2 * N])
    const cm = centerMask(N)
    this.borderMask = tf.tensor3d(cm.map((v) => 1 - v), [N, N, 1])
    this.gs1Weight = tf.tensor2d(cm.map((v) => 1 / (v + 0.001)), [N, N])
  }

  /** The trainable variables (network weights, then log_scale and the probe when trainable). */
  trainableVariables(): tf.Variable[] {
    const vars = [...this.weights.values()]
    if (this.spec.intensity_scale_trainable) vars.push(this.logScale)
    if (this.spec.probe_trainable) vars.push(this.probeRe, this.probeIm)
    return vars
  }

  /** Every saved variable in a fixed order with its name: weights, log_scale, probe parts. */
  namedVariables(): Array<[string, tf.Variable]> {
    return [...this.weights.entries(), ['log_scale', this.logScale], ['probe/re', this.probeRe], ['probe/im', this.probeIm]]
  }

  private w(name: string): tf.Tensor4D {
    return this.weights.get(`${name}/kernel`) as unknown as tf.Tensor4D
  }
  private b(name: string): tf.Tensor1D {
    return this.weights.get(`${name}/bias`) as unknown as tf.Tensor1D
  }
  private conv(x: tf.Tensor4D, name: string, act: 'relu' | 'linear'): tf.Tensor4D {
    return conv2d(x, this.w(name), this.b(name), act)
  }

  private ampActivation(x: tf.Tensor): tf.Tensor {
    switch (this.spec.amp_activation) {
      case 'sigmoid':
        return tf.sigmoid(x)
      case 'swish':
        return swish(x)
      case 'softplus':
        return tf.softplus(x)
      case 'relu':
        return tf.relu(x)
    }
  }

  private decoder(feat: tf.Tensor4D, head: 'amp' | 'phase'): tf.Tensor4D {
    const {N} = this.spec
    const s = this.spec.n_filters_scale
    let h = feat
    decoderFilters(N, s).forEach((_f, i) => {
      h = this.conv(h, `${head}/block${i}/conv0`, 'relu')
      h = this.conv(h, `${head}/block${i}/conv1`, 'relu')
      h = upsample2(h)
    })
    const act = (x: tf.Tensor) => (head === 'amp' ? this.ampActivation(x) : tf.mul(tf.tanh(x), Math.PI))
    const [B, hh, ww, F] = h.shape
    if (this.spec.pad_object) {
      const inner = tf.slice(h, [0, 0, 0, 0], [B, hh, ww, F - C_OUTER])
      const q = Math.floor(N / 4)
      let out = tf.pad(act(this.conv(inner, `${head}/last/conv1`, 'linear')), [
        [0, 0],
        [q, N - hh - q],
        [q, N - ww - q],
        [0, 0],
      ]) as tf.Tensor4D
      if (this.spec.probe_big) {
        let x2 = tf.slice(h, [0, 0, 0, F - C_OUTER], [B, hh, ww, C_OUTER])
        x2 = this.conv(x2, `${head}/last/border/conv0`, 'relu')
        x2 = this.conv(x2, `${head}/last/border/conv1`, 'relu')
        x2 = upsample2(x2)
        const x2o = swish(this.conv(x2, `${head}/last/conv2`, 'linear'))
        out = tf.add(out, tf.mul(x2o, this.borderMask)) as tf.Tensor4D
      }
      return out
    }
    let x2 = this.conv(h, `${head}/last/border/conv0`, 'relu')
    x2 = this.conv(x2, `${head}/last/border/conv1`, 'relu')
    x2 = upsample2(x2)
    return act(this.conv(x2, `${head}/last/conv2`, 'linear')) as tf.Tensor4D
  }

  /** amplitude and phase patches (B, N, N, Cout) from normalised amplitudes X (B, N, N, C) */
  objectChannels(X: tf.Tensor4D): {amp: tf.Tensor4D; phase: tf.Tensor4D} {
    const {N} = this.spec
    const s = this.spec.n_filters_scale
    // IntensityScaler: (X · intensity_scale) / exp(log_scale)
    let h = tf.mul(X, tf.mul(this.spec.intensity_scale, tf.exp(tf.neg(this.logScale)))) as tf.Tensor4D
    encoderFilters(N, s).forEach((_f, i) => {
      h = this.conv(h, `encoder/block${i}/conv0`, 'relu')
      h = this.conv(h, `encoder/block${i}/conv1`, 'relu')
      h = maxPool2(h)
    })
    return {amp: this.decoder(h, 'amp'), phase: this.decoder(h, 'phase')}
  }

  /**
   * The full forward pass. `coordsRelative` (B,1,2,C) drives reassembly/extraction for gridsize > 1; for a
   * single channel at zero offset (gs1) the exact equivalent elementwise form is used.
   */
  forward(X: tf.Tensor4D, coordsRelative: Float32Array, opts: {intensity: boolean}): ForwardResult {
    if (this.disposed) throw new Error('PtychoPinn: model was disposed')
    const {N, C, padded_size: P, object_big: big} = this.spec
    const B = X.shape[0]
    const {amp, phase} = this.objectChannels(X)
    const cOut = amp.shape[3]
    // channel -> flat: (B, N, N, c) -> (B·c, N, N)
    const toFlat = (t: tf.Tensor4D): tf.Tensor3D =>
      cOut === 1 ? tf.reshape(t, [B, N, N]) : tf.reshape(tf.transpose(t, [0, 3, 1, 2]), [B * cOut, N, N])
    const a = toFlat(amp)
    const p = toFlat(phase)
    const re = tf.mul(a, tf.cos(p)) as tf.Tensor3D
    const im = tf.mul(a, tf.sin(p)) as tf.Tensor3D
    let objRe: tf.Tensor3D
    let objIm: tf.Tensor3D
    let patchRe: tf.Tensor3D
    let patchIm: tf.Tensor3D
    const zeroOffsets = coordsRelative.every((v) => v === 0)
    if (C === 1 && zeroOffsets) {
      // pad to P, translate by 0, /(mask + 0.001), trim == elementwise weight; extraction at 0 is the identity
      objRe = big ? (tf.mul(re, this.gs1Weight) as tf.Tensor3D) : re
      objIm = big ? (tf.mul(im, this.gs1Weight) as tf.Tensor3D) : im
      patchRe = objRe
      patchIm = objIm
    } else {
      const g = patchGeometry(coordsRelative, B, C, N, P, big)
      const mats = patchMatrices(g)
      const r = reassembleAndExtract(re, im, {B, C, N, P}, mats, big)
      objRe = r.trimmedRe
      objIm = r.trimmedIm
      patchRe = r.patchRe
      patchIm = r.patchIm
    }
    if (!opts.intensity) return {objRe, objIm}
    const [psiRe, psiIm] = illuminate(patchRe, patchIm, this.probeRe, this.probeIm)
    const farField = farFieldIntensity(psiRe, psiIm, this.dftBlock)
    // IntensityScaler_inv then SquareLayer: (exp(log_scale) · A)² with A² = |F|²/N²
    const intensity = tf.mul(farField, tf.exp(tf.mul(this.logScale, 2))) as tf.Tensor3D
    return {objRe, objIm, intensity}
  }

  /** Current weights as plain arrays, in namedVariables order. */
  async readVariables(): Promise<Array<{name: string; shape: number[]; data: Float32Array}>> {
    const out: Array<{name: string; shape: number[]; data: Float32Array}> = []
    for (const [name, v] of this.namedVariables()) out.push({name, shape: v.shape.slice(), data: (await v.data()) as Float32Array})
    return out
  }

  /** Assign saved values (matched by name and shape). */
  assignVariables(values: Array<{name: string; shape: number[]; data: Float32Array}>): void {
    const byName = new Map(values.map((v) => [v.name, v]))
    for (const [name, v] of this.namedVariables()) {
      const src = byName.get(name)
      if (!src) throw new Error(`saved weights lack '${name}'`)
      if (src.shape.join(',') !== v.shape.join(',')) {
        throw new Error(`saved weight '${name}' has shape [${src.shape}], the model expects [${v.shape}]`)
      }
      tf.tidy(() => v.assign(tf.tensor(src.data, v.shape)))
    }
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    tf.dispose([...this.weights.values(), this.logScale, this.probeRe, this.probeIm, this.dftBlock, this.borderMask, this.gs1Weight])
  }
}
