import * as tf from '@tensorflow/tfjs-core';

/**
 * Distance correlation (Székely et al. 2007) between a batch of inputs and their smashed data: 0
 * when independent, 1 for a similarity transform. NoPeek (Vepakomma et al. 2020) adds λ·dCor(x, z)
 * to the client's loss so the smashed data carries less of the raw input; splitfleet also reports
 * it as a privacy proxy of the smashed data.
 */

/** Double-centred pairwise Euclidean distances of the rows of a [n, d] matrix. */
function centredDistances(m: tf.Tensor2D): tf.Tensor2D {
  const sq = tf.sum(tf.square(m), 1, true);
  // ‖a−b‖² = ‖a‖² + ‖b‖² − 2a·b, floored at 0 against rounding; the small shift keeps the square
  // root's gradient finite on the diagonal, where the distance is 0
  const d2 = tf.relu(tf.sub(tf.add(sq, tf.transpose(sq)), tf.mul(2, tf.matMul(m, m, false, true))));
  const d = tf.sqrt(tf.add(d2, 1e-12));
  return tf.add(tf.sub(tf.sub(d, tf.mean(d, 0, true)), tf.mean(d, 1, true)), tf.mean(d)) as tf.Tensor2D;
}

/** dCor(x, z) over the batch (each sample flattened); a scalar tensor the caller disposes. */
export function distanceCorrelation(x: tf.Tensor, z: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const n = x.shape[0]!;
    const a = centredDistances(tf.reshape(x, [n, -1]) as tf.Tensor2D);
    const b = centredDistances(tf.reshape(z, [n, -1]) as tf.Tensor2D);
    const dcov = (p: tf.Tensor, q: tf.Tensor) => tf.mean(tf.mul(p, q));
    const denom = tf.sqrt(tf.mul(dcov(a, a), dcov(b, b)));
    return tf.sqrt(tf.relu(tf.div(dcov(a, b), tf.add(denom, 1e-12)))) as tf.Scalar;
  });
}

/** NoPeek's extra gradient at the smashed data, λ·∂dCor(x, z)/∂z, added to the server's gradient before the head's backward. */
export function noPeekGradient(x: tf.Tensor, z: tf.Tensor, lambda: number): tf.Tensor {
  return tf.tidy(() => tf.mul(lambda, tf.grad((zz: tf.Tensor) => distanceCorrelation(x, zz))(z)));
}
