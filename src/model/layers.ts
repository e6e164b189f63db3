/**
 * Network layers written with plain tf ops, usable on every backend.
 *
 * The wasm backend has no Conv2DBackpropFilter kernel, so on backends without it the convolution carries its
 * own gradient (tf.customGrad): dx = conv2d(dy, w flipped spatially with in/out channels swapped, 'same');
 * dW = conv2d(pad(x) transposed [3,1,2,0], dy transposed [1,2,0,3], 'valid') transposed [1,2,0,3];
 * db = sum(dy). For layers with very few input channels dW is one matMul of shifted input rows (faster there).
 * The forward pass fuses bias and ReLU (FusedConv2D) on every backend.
 */
import * as tf from '@tensorflow/tfjs-core'

export type ConvActivation = 'linear' | 'relu'

let customConvFor: string | undefined
let useCustomConv = false

/** True when the active backend lacks a conv weight-gradient kernel, so the custom gradient is used. */
export function usesCustomConvGradient(): boolean {
  const backend = tf.getBackend()
  if (customConvFor !== backend) {
    customConvFor = backend
    useCustomConv = tf.getKernel('Conv2DBackpropFilter', backend) === undefined
  }
  return useCustomConv
}

/** dL/dW of a stride-1 'same' 3x3 (or kxk, k odd) convolution, from conv2d and transposes only. */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, cin] = x.shape
    const cout = dy.shape[3]
    const ph = (kh - 1) / 2
    const pw = (kw - 1) / 2
    const xp = tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
    if (cin <= 4) {
      // im2col: rows (ky, kx, cin), columns (b, y, x): one matMul with dy (b*y*x, cout)
      const xt = tf.transpose(xp, [3, 0, 1, 2]) // (cin, b, h+2ph, w+2pw)
      const cols: tf.Tensor2D[] = []
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) cols.push(tf.reshape(tf.slice(xt, [0, 0, i, j], [cin, b, h, w]), [cin, b * h * w]))
      }
      const p = tf.concat(cols, 0) // (kh*kw*cin, b*h*w)
      return tf.reshape(tf.matMul(p, tf.reshape(dy, [b * h * w, cout])), [kh, kw, cin, cout])
    }
    // treat the batch as the channel axis: (cin, H, W, b) conv (h, w, b, cout) -> (cin, kh, kw, cout)
    const r = tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid')
    return tf.transpose(r, [1, 2, 0, 3])
  })
}

/**
 * The kernel flipped in both spatial axes with in/out channels swapped: out[i, j, o, c] = w[kh-1-i, kw-1-j, c, o].
 * The kernel is small (at most a few MB), so this is done with one pass over its values in JavaScript: on wasm
 * that takes ~1-7 ms where Reverse, or slices + concat + transpose, take 10-45 ms for a 3x3x256x256 kernel.
 */
export function flipKernel(w: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape
  const src = w.dataSync() as Float32Array
  const out = new Float32Array(src.length)
  const block = cin * cout
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const s0 = ((kh - 1 - i) * kw + (kw - 1 - j)) * block
      const d0 = (i * kw + j) * block
      for (let c = 0; c < cin; c++) {
        const s = s0 + c * cout
        for (let o = 0, d = d0 + c; o < cout; o++, d += cin) out[d] = src[s + o]
      }
    }
  }
  return tf.tensor4d(out, [kh, kw, cout, cin])
}

/** dL/dx of a stride-1 'same' convolution. */
export function conv2dInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.conv2d(dy, flipKernel(w), 1, 'same'))
}

function makeCustomConv(activation: ConvActivation) {
  return tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc]
    const y = tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: w as tf.Tensor4D,
      strides: 1,
      pad: 'same',
      bias: b,
      activation,
    })
    save(activation === 'relu' ? [x, w, y] : [x, w])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws, ys] = saved as tf.Tensor4D[]
        const g = (activation === 'relu' ? tf.mul(dy, tf.step(ys)) : dy) as tf.Tensor4D
        const dx = conv2dInputGrad(g, ws)
        const dw = conv2dFilterGrad(xs, g, ws.shape[0], ws.shape[1])
        const db = tf.sum(g, [0, 1, 2])
        return [dx, dw, db]
      },
    }
  }) as Parameters<typeof tf.customGrad<tf.Tensor4D>>[0])
}

let customRelu: ReturnType<typeof makeCustomConv> | undefined
let customLinear: ReturnType<typeof makeCustomConv> | undefined

/** 'same' stride-1 convolution + bias + activation, differentiable in x, w and b on every backend. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, activation: ConvActivation = 'linear'): tf.Tensor4D {
  if (usesCustomConvGradient()) {
    const f = activation === 'relu' ? (customRelu ??= makeCustomConv('relu')) : (customLinear ??= makeCustomConv('linear'))
    return f(x, w, b) as tf.Tensor4D
  }
  return tf.fused.conv2d({x, filter: w, strides: 1, pad: 'same', bias: b, activation})
}

/*
 * Pooling and upsampling with gradients built from fast kernels: on wasm, MaxPoolGrad and
 * ResizeNearestNeighborGrad take 80-110 ms for a 16x64x64x64 tensor, the replacements ~5-15 ms.
 */
const upsampleFast = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor4D
  const [, h, w] = x.shape
  return {
    value: tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]),
    // each input pixel feeds one 2x2 block: its gradient is the block's sum = 4 · average
    gradFunc: (dy: tf.Tensor4D) => tf.mul(tf.avgPool(dy, 2, 2, 'valid'), 4),
  }
}) as Parameters<typeof tf.customGrad<tf.Tensor4D>>[0])

const maxPoolFast = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc]
  const y = tf.maxPool(x, 2, 2, 'valid')
  save([x, y])
  return {
    value: y,
    // the gradient goes to the maximum of each 2x2 window (to every tied maximum: ties of positive
    // activations do not occur in practice, and tied zeros after a ReLU get no gradient from it anyway)
    gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
      const [xs, ys] = saved as tf.Tensor4D[]
      const [, h, w] = xs.shape
      const up = (t: tf.Tensor4D) => tf.image.resizeNearestNeighbor(t, [h, w])
      return tf.mul(up(dy), tf.cast(tf.equal(xs, up(ys)), 'float32'))
    },
  }
}) as Parameters<typeof tf.customGrad<tf.Tensor4D>>[0])

/** MaxPool2D(2x2, 'same') as Keras does it. */
export function maxPool2(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape
  if (h % 2 === 0 && w % 2 === 0) return maxPoolFast(x) as tf.Tensor4D
  return tf.maxPool(x, 2, 2, 'same')
}

/** UpSampling2D(2) with nearest-neighbour repetition, as Keras does it. */
export function upsample2(x: tf.Tensor4D): tf.Tensor4D {
  return upsampleFast(x) as tf.Tensor4D
}

/** swish(x) = x * sigmoid(x) */
export function swish(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x))
}
