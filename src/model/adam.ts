/**
 * Adam with Keras semantics (tf.keras.optimizers.Adam, lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7):
 * m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; w -= lr·sqrt(1-b2^t)/(1-b1^t) · m / (sqrt(v) + eps).
 * Its whole state (t and the moments) can be read and restored, for checkpoints.
 */
import * as tf from '@tensorflow/tfjs-core'

export class Adam {
  learningRate: number
  readonly beta1: number
  readonly beta2: number
  readonly epsilon: number
  /** number of updates applied */
  iterations = 0
  private readonly m: tf.Variable[]
  private readonly v: tf.Variable[]

  constructor(readonly variables: tf.Variable[], opts: {learningRate?: number; beta1?: number; beta2?: number; epsilon?: number} = {}) {
    this.learningRate = opts.learningRate ?? 1e-3
    this.beta1 = opts.beta1 ?? 0.9
    this.beta2 = opts.beta2 ?? 0.999
    this.epsilon = opts.epsilon ?? 1e-7
    this.m = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)))
    this.v = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)))
  }

  /** Apply one update; `grads[i]` is the gradient of `variables[i]` (missing ones are skipped). */
  apply(grads: Array<tf.Tensor | undefined>): void {
    this.iterations++
    const t = this.iterations
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t)
    tf.tidy(() => {
      this.variables.forEach((w, i) => {
        const g = grads[i]
        if (!g) return
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1))
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2))
        this.m[i].assign(m)
        this.v[i].assign(v)
        w.assign(tf.sub(w, tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.epsilon)), lrT)))
      })
    })
  }

  /** moments as plain arrays: m of every variable, then v */
  async readState(): Promise<Float32Array[]> {
    const out: Float32Array[] = []
    for (const x of [...this.m, ...this.v]) out.push((await x.data()) as Float32Array)
    return out
  }

  restoreState(iterations: number, moments: Float32Array[]): void {
    if (moments.length !== 2 * this.variables.length) throw new Error(`optimizer state holds ${moments.length} arrays, expected ${2 * this.variables.length}`)
    this.iterations = iterations
    ;[...this.m, ...this.v].forEach((x, i) => {
      if (moments[i].length !== x.size) throw new Error(`optimizer state array ${i} has ${moments[i].length} values, expected ${x.size}`)
      tf.tidy(() => x.assign(tf.tensor(moments[i], x.shape)))
    })
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v])
  }
}
