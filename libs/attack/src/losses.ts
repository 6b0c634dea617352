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

/** The distribution of the middle's outputs on the observed batches: rows (n × M) and their moments. */
export interface FeatureTarget {
  readonly n: number;
  readonly rows: Float32Array;
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** RBF bandwidth: the median squared distance between observed rows (the median heuristic). */
  readonly bandwidth: number;
}

/** Moments and the median-heuristic bandwidth of n observed feature rows. */
export function featureTarget(rows: Float32Array, n: number): FeatureTarget {
  const d = rows.length / n;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = rows[i * d + j]!;
      mean[j]! += v / n;
      sq[j]! += (v * v) / n;
    }
  const std = Float32Array.from(mean, (m, j) => Math.sqrt(Math.max(0, sq[j]! - m * m)));
  // median over pairs (i, i + n/2): n/2 independent pairs are enough for a bandwidth
  const dists: number[] = [];
  for (let i = 0; i + Math.floor(n / 2) < n && i < 512; i++) {
    const k = i + Math.floor(n / 2);
    let s = 0;
    for (let j = 0; j < d; j++) s += (rows[i * d + j]! - rows[k * d + j]!) ** 2;
    dists.push(s);
  }
  dists.sort((a, b) => a - b);
  const bandwidth = Math.max(dists[Math.floor(dists.length / 2)] ?? 1, 1e-6);
  return { n, rows, mean: Float32Array.from(mean), std, bandwidth };
}

/** Squared MMD (biased) between row sets a and b under RBF kernels at 0.5, 1 and 2 × `bandwidth`. */
export function mmdRbf(a: tf.Tensor2D, b: tf.Tensor2D, bandwidth: number): tf.Scalar {
  return tf.tidy(() => {
    const sqd = (p: tf.Tensor2D, q: tf.Tensor2D) =>
      tf.relu(tf.add(tf.sub(tf.sum(tf.square(p), 1, true), tf.mul(2, tf.matMul(p, q, false, true))), tf.transpose(tf.sum(tf.square(q), 1, true))));
    const kernel = (dd: tf.Tensor) => tf.addN([0.5, 1, 2].map((s) => tf.exp(tf.div(dd, -s * bandwidth))));
    const kaa = tf.mean(kernel(sqd(a, a)));
    const kbb = tf.mean(kernel(sqd(b, b)));
    const kab = tf.mean(kernel(sqd(a, b)));
    return tf.add(tf.sub(kaa, tf.mul(2, kab)), kbb) as tf.Scalar;
  });
}

/**
 * How far a batch of the middle's outputs on shadow smashed data (f, B × M) is from the observed
 * distribution: per-feature mean and std errors (scaled by the target's magnitudes) plus the MMD
 * to `observedBatch` (B' observed rows drawn for this step).
 */
export function featureMatchLoss(f: tf.Tensor2D, observedBatch: tf.Tensor2D, target: FeatureTarget): tf.Scalar {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(f, 0);
    const mu = tf.tensor1d(target.mean);
    const sd = tf.tensor1d(target.std);
    const meanErr = tf.div(tf.mean(tf.square(tf.sub(mean, mu))), tf.add(tf.mean(tf.square(mu)), 1e-6));
    const sdErr = tf.div(tf.mean(tf.square(tf.sub(tf.sqrt(tf.add(variance, 1e-6)), sd))), tf.add(tf.mean(tf.square(sd)), 1e-6));
    return tf.addN([meanErr, sdErr, mmdRbf(f, observedBatch, target.bandwidth)]) as tf.Scalar;
  });
}
