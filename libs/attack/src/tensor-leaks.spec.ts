import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { cnnSmall, PartModel, Rng, split } from '@splitfleet/splitcore';
import { intermediateAttack, middleOutputAttack, noise, pgd, type ThreePart } from './craft.ts';
import { evaluateSuite } from './evaluate.ts';

/** Live tensors after `f` (whose result is disposed) minus before: 0 when nothing leaks. */
async function leakedBy(f: () => tf.Tensor | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  const out = await f();
  if (out instanceof tf.Tensor) out.dispose();
  return tf.memory().numTensors - before;
}

describe('crafting and evaluating free every tensor they create', () => {
  let model: ThreePart;
  let x: tf.Tensor;
  let y: tf.Tensor1D;
  const pixels = Float32Array.from({ length: 4 * 784 }, (_, i) => (i * 7919 % 1000) / 1000);
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const s = split(cnnSmall, cnnSmall.defaultCut, 1);
    model = { head: new PartModel(s.head, s.init.head), middle: new PartModel(s.middle, s.init.middle), tail: new PartModel(s.tail, s.init.tail) };
    x = tf.tensor(pixels, [4, 28, 28, 1]);
    y = tf.tensor1d([1, 2, 3, 4], 'int32');
  });

  it('PGD from a random start, with restarts, leaves no tensor behind', async () => {
    expect(await leakedBy(() => pgd(model, x, y, 10, { epsilon: 0.1, steps: 1, randomStart: true, restarts: 2, rng: Rng.fromSeed(1) }))).toBe(0);
  });

  it('the feature craft from a random start leaves no tensor behind', async () => {
    expect(await leakedBy(() => intermediateAttack(model, x, y, 10, { epsilon: 0.1, steps: 1, randomStart: true, rng: Rng.fromSeed(1), variant: 'feature' }))).toBe(0);
  });

  it('the head-only middle-output crafts, with restarts, leave no tensor behind', async () => {
    for (const distance of ['l2', 'cosine'] as const)
      expect(await leakedBy(() => middleOutputAttack(model, x, { epsilon: 0.1, steps: 1, restarts: 2, rng: Rng.fromSeed(1), distance }))).toBe(0);
  });

  it('the noise baseline leaves no tensor behind', async () => {
    expect(await leakedBy(() => noise(x, 0.1, Rng.fromSeed(1)))).toBe(0);
  });

  it('an evaluation suite over several batches (random starts, noise baseline) leaves no tensor behind', async () => {
    // labels = the model's own predictions, so every sample is attacked
    const predicted = tf.tidy(() => tf.argMax(model.tail.apply(model.middle.apply(model.head.apply(x))), -1));
    const labels = Int32Array.from(predicted.dataSync());
    predicted.dispose();
    const leaked = await leakedBy(() => evaluateSuite({
      real: model, shadow: model, randomShadow: model, x: pixels, y: labels, inputShape: [28, 28, 1], classes: 10,
      epsilons: [0.1], steps: 1, crafts: ['pgd'], baselines: ['whitebox', 'noise'], seed: 3, randomStart: true, batch: 2,
    }));
    expect(leaked).toBe(0);
  });
});
