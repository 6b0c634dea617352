import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { DefenceConfigSchema, keepProbability, randomisedLabels, Rng } from '@splitfleet/splitcore';
import { randomisedResponsePosterior } from './adaptive-labels.ts';

describe('adaptive label inference under randomised response', () => {
  it('beats reading the randomised labels off the gradients, with a model trained inside the test', async () => {
    // four classes of separable 8-dimensional features; the client trains on labels randomised at ε = 1
    const [n, d, classes, epsilon] = [800, 8, 4, 1];
    const rng = Rng.fromSeed(5).fork('features');
    const truth = Int32Array.from({ length: n }, (_, i) => i % classes);
    const feats = Float32Array.from({ length: n * d }, (_, k) => (Math.floor(k % d) === truth[Math.floor(k / d)]! ? 2 : 0) + 0.7 * rng.normal());
    const [rr] = DefenceConfigSchema.parse({ kind: 'label-rr', epsilon });
    const noisy = randomisedLabels(truth, classes, rr as Extract<typeof rr, { kind: 'label-rr' }>, Rng.fromSeed(9));
    // what the gradients reveal is ỹ: the non-adaptive attacker's labels
    const nonAdaptive = noisy.reduce((k, v, i) => k + Number(v === truth[i]), 0) / n;
    // the adaptive attacker fits a softmax regression (t̂) to (features, ỹ) and inverts the mechanism
    const w = tf.variable(tf.zeros([d, classes]));
    const b = tf.variable(tf.zeros([classes]));
    const x = tf.tensor2d(feats, [n, d]);
    const y = tf.oneHot(tf.tensor1d(noisy, 'int32'), classes);
    const opt = tf.train.adam(0.05);
    for (let s = 0; s < 150; s++) opt.minimize(() => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, w), b)) as tf.Scalar);
    const logProbs = tf.tidy(() => tf.logSoftmax(tf.add(tf.matMul(x, w), b)).dataSync() as Float32Array);
    const adaptive = randomisedResponsePosterior(logProbs, noisy, classes, keepProbability(epsilon, classes));
    const adaptiveAccuracy = adaptive.reduce((k, v, i) => k + Number(v === truth[i]), 0) / n;
    expect(nonAdaptive).toBeCloseTo(keepProbability(epsilon, classes), 1);
    expect(adaptiveAccuracy).toBeGreaterThan(nonAdaptive + 0.2);
    tf.dispose([w, b, x, y]);
    opt.dispose();
  });

  it('keeps the observed label when the mechanism rarely flips (ε large), and follows t̂ when it often does', () => {
    // t̂ says P(ỹ = 1 | x) = 0.6 for sample 0 and P(ỹ = 0 | x) = 0.7 for sample 1
    const logProbs = Float32Array.of(Math.log(0.4), Math.log(0.6), Math.log(0.7), Math.log(0.3));
    expect(Array.from(randomisedResponsePosterior(logProbs, Int32Array.of(0, 1), 2, keepProbability(8, 2)))).toEqual([0, 1]);
    expect(Array.from(randomisedResponsePosterior(logProbs, Int32Array.of(0, 1), 2, 0.6))).toEqual([1, 0]);
  });
});
