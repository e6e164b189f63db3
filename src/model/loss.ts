/**
 * Training loss (spec §13.5): nll_weight · mean(Poisson NLL on the intensity) + mae_weight · mean|amp - target amp|.
 * Poisson NLL per pixel = y_pred − y_true · log(y_pred + eps) (tf.nn.log_poisson_loss with compute_full_loss=False);
 * the mean runs over every element and sample (Keras SUM_OVER_BATCH_SIZE).
 */
import * as tf from '@tensorflow/tfjs-core'

export const NLL_EPSILON = 1e-12

export interface LossWeights {
  nll_weight: number
  mae_weight: number
}

export function poissonNll(predIntensity: tf.Tensor, trueIntensity: tf.Tensor): tf.Scalar {
  return tf.mean(tf.sub(predIntensity, tf.mul(trueIntensity, tf.log(tf.add(predIntensity, NLL_EPSILON)))))
}

/** Total weighted loss. `trueAmplitude` is needed only when mae_weight > 0. */
export function trainingLoss(predIntensity: tf.Tensor, trueIntensity: tf.Tensor, weights: LossWeights, trueAmplitude?: tf.Tensor): tf.Scalar {
  let loss: tf.Scalar = tf.mul(poissonNll(predIntensity, trueIntensity), weights.nll_weight)
  if (weights.mae_weight > 0) {
    if (!trueAmplitude) throw new Error('trainingLoss: mae_weight > 0 needs the target amplitude')
    const amp = tf.sqrt(tf.add(predIntensity, NLL_EPSILON))
    loss = tf.add(loss, tf.mul(tf.mean(tf.abs(tf.sub(amp, trueAmplitude))), weights.mae_weight))
  }
  return loss
}
