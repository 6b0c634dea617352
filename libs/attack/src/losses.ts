import * as tf from '@tensorflow/tfjs-core';

/** Information maximisation: confident per sample (low conditional entropy), diverse over the batch. */
export function infomaxLoss(logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.softmax(logits);
    const cond = tf.mean(tf.neg(tf.sum(tf.mul(p, tf.logSoftmax(logits)), -1)));
    const pm = tf.mean(p, 0);
    const marg = tf.neg(tf.sum(tf.mul(pm, tf.log(tf.add(pm, 1e-8)))));
    return tf.sub(cond, marg) as tf.Scalar;
  });
}

/** Class-conditional statistics of smashed data: per-feature means [K, D] and per-channel stds [K, C]. */
export interface SmashedStats {
  readonly classes: number;
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly count: Float32Array;
  readonly featureSize: number;
  readonly channels: number;
}

/** Statistics of n rows of smashed data (channels last) grouped by label (all zeros: global stats). */
export function smashedStats(z: Float32Array, n: number, channels: number, labels: ArrayLike<number>, classes: number): SmashedStats {
  const d = z.length / n;
  const positions = d / channels;
  const mean = new Float64Array(classes * d);
  const s1 = new Float64Array(classes * channels);
  const s2 = new Float64Array(classes * channels);
  const count = new Float32Array(classes);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    count[c]!++;
    for (let j = 0; j < d; j++) {
      const v = z[i * d + j]!;
      mean[c * d + j]! += v;
      const ch = j % channels;
      s1[c * channels + ch]! += v;
      s2[c * channels + ch]! += v * v;
    }
  }
  const std = new Float32Array(classes * channels);
  for (let c = 0; c < classes; c++) {
    const k = count[c]!;
    if (k === 0) continue;
    for (let j = 0; j < d; j++) mean[c * d + j]! /= k;
    for (let ch = 0; ch < channels; ch++) {
      const m = s1[c * channels + ch]! / (k * positions);
      std[c * channels + ch] = Math.sqrt(Math.max(0, s2[c * channels + ch]! / (k * positions) - m * m));
    }
  }
  return { classes, mean: Float32Array.from(mean), std, count, featureSize: d, channels };
}

/**
 * Distance between the (soft-)class-conditional statistics of a batch of shadow smashed data and
 * the observed ones. `assign` [B, K] holds each sample's class weights (constant).
 */
export function statsMatchLoss(z: tf.Tensor, assign: tf.Tensor2D, target: SmashedStats): tf.Scalar {
  return tf.tidy(() => {
    const b = z.shape[0]!;
    const { classes: k, featureSize: d, channels: c } = target;
    const flat = tf.reshape(z, [b, d]);
    const colSum = tf.sum(assign, 0);
    const w = tf.div(assign, tf.add(colSum, 1e-6));
    // a class counts in proportion to how much of the batch it holds (empty classes drop out)
    const present = tf.mul(tf.minimum(tf.div(colSum, b / k), 1), tf.tensor1d(Array.from(target.count, (v) => (v > 0 ? 1 : 0))));
    const mu = tf.tensor2d(target.mean, [k, d]);
    const sd = tf.tensor2d(target.std, [k, c]);
    const scaleMu = tf.add(tf.mean(tf.square(mu)), 1e-6);
    const scaleSd = tf.add(tf.mean(tf.square(sd)), 1e-6);
    const muHat = tf.matMul(w, flat, true, false);
    const meanErr = tf.div(tf.mean(tf.square(tf.sub(muHat, mu)), 1), scaleMu);
    const perChan = tf.reshape(z, [b, d / c, c]);
    const m1 = tf.matMul(w, tf.mean(perChan, 1), true, false);
    const m2 = tf.matMul(w, tf.mean(tf.square(perChan), 1), true, false);
    const sdHat = tf.sqrt(tf.add(tf.relu(tf.sub(m2, tf.square(m1))), 1e-6));
    const sdErr = tf.div(tf.mean(tf.square(tf.sub(sdHat, sd)), 1), scaleSd);
    const perClass = tf.add(meanErr, sdErr);
    return tf.div(tf.sum(tf.mul(perClass, present)), tf.add(tf.sum(present), 1e-6)) as tf.Scalar;
  });
}
