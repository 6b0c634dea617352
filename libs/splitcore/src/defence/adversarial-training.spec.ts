import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng/rng.ts';
import { cnnSmall } from '../model/zoo.ts';
import { split } from '../model/split.ts';
import { PartModel } from '../model/part-model.ts';
import { crossEntropy, inputVjp, middleForward } from '../train/split-step.ts';
import { adversarialStepSize, craftThroughSplit, type AdversarialSpec, type CraftLink } from './adversarial-training.ts';
import { DefenceConfigSchema } from './spec.ts';

// U-shaped adversarial training crafts PGD examples with the middle on the other side of a round
// trip. Cut into pieces, it must compute what PGD on the composed model computes.
describe('PGD through the split (adversarial training)', () => {
  let parts: { head: PartModel; middle: PartModel; tail: PartModel };
  let x: tf.Tensor;
  let y: tf.Tensor1D;
  beforeEach(() => {
    const s = split(cnnSmall, cnnSmall.defaultCut, 3);
    parts = { head: new PartModel(s.head, s.init.head), middle: new PartModel(s.middle, s.init.middle), tail: new PartModel(s.tail, s.init.tail) };
    const r = Rng.fromSeed(4);
    x = tf.tensor(Float32Array.from({ length: 6 * 28 * 28 }, () => r.float()), [6, 28, 28, 1]);
    y = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
  });
  afterEach(() => {
    tf.dispose([x, y]);
    for (const p of Object.values(parts)) p.dispose();
  });

  /** The server's half answered in process, counting round trips. */
  function localLink(): CraftLink & { trips: number } {
    let kept: tf.Tensor | null = null;
    return {
      trips: 0,
      async forward(z) {
        kept?.dispose();
        kept = tf.clone(z);
        return middleForward(parts.middle, z);
      },
      async backward(gm) {
        this.trips++;
        const gz = inputVjp(parts.middle, kept!, gm);
        kept!.dispose();
        kept = null;
        return gz;
      },
    };
  }

  /** The same PGD on the composed model, in one process, from the same start. */
  function composedPgd(d: AdversarialSpec, start: Rng): tf.Tensor {
    const noise = Float32Array.from({ length: x.size }, () => (2 * start.float() - 1) * d.epsilon);
    let xa = tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor(noise, x.shape)), 0, 1));
    for (let k = 0; k < d.steps; k++) {
      const next = tf.tidy(() => {
        const g = tf.grad((xx: tf.Tensor) => crossEntropy(parts.tail.apply(parts.middle.apply(parts.head.apply(xx))), y, 10))(xa);
        const stepped = tf.add(xa, tf.mul(tf.sign(g), adversarialStepSize(d)));
        return tf.clipByValue(tf.minimum(tf.maximum(stepped, tf.sub(x, d.epsilon)), tf.add(x, d.epsilon)), 0, 1);
      });
      xa.dispose();
      xa = next;
    }
    return xa;
  }

  const loss = (xx: tf.Tensor) => tf.tidy(() => crossEntropy(parts.tail.apply(parts.middle.apply(parts.head.apply(xx))), y, 10).arraySync() as number);

  it('equals PGD on the composed model, stays in the ε-ball and [0, 1], raises the loss, one round trip per step', async () => {
    const d = DefenceConfigSchema.parse({ kind: 'adversarial', epsilon: 0.1, steps: 4 })[0] as AdversarialSpec;
    const link = localLink();
    const before = tf.memory().numTensors;
    const xAdv = await craftThroughSplit(parts, x, y, 10, d, Rng.fromSeed(8), link);
    // x_adv is the only tensor left behind (the link's kept z is freed by its backward)
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(link.trips).toBe(4);
    const reference = composedPgd(d, Rng.fromSeed(8));
    const [a, b, x0] = [xAdv.dataSync(), reference.dataSync(), x.dataSync()];
    // equal up to float rounding, which can flip a sign where a coordinate's gradient is ~0
    let differ = 0;
    for (let i = 0; i < a.length; i++) {
      if (Math.abs(a[i]! - b[i]!) > 1e-5) differ++;
      expect(Math.abs(a[i]! - x0[i]!)).toBeLessThanOrEqual(0.1 + 1e-6);
      expect(a[i]).toBeGreaterThanOrEqual(0);
      expect(a[i]).toBeLessThanOrEqual(1);
    }
    expect(differ / a.length).toBeLessThan(0.01);
    expect(loss(xAdv)).toBeGreaterThan(loss(x));
    tf.dispose([xAdv, reference]);
  });

  it('is seeded: the same start draws give the same examples, other draws other ones', async () => {
    const d = DefenceConfigSchema.parse({ kind: 'adversarial', epsilon: 0.05, steps: 1 })[0] as AdversarialSpec;
    const [a, b, c] = [
      await craftThroughSplit(parts, x, y, 10, d, Rng.fromSeed(1), localLink()),
      await craftThroughSplit(parts, x, y, 10, d, Rng.fromSeed(1), localLink()),
      await craftThroughSplit(parts, x, y, 10, d, Rng.fromSeed(2), localLink()),
    ];
    expect(a.dataSync()).toEqual(b.dataSync());
    expect(a.dataSync()).not.toEqual(c.dataSync());
    expect(adversarialStepSize(d)).toBeCloseTo(0.125);
    tf.dispose([a, b, c]);
  });

  it('frees its tensors when the server fails mid-craft', async () => {
    const d = DefenceConfigSchema.parse({ kind: 'adversarial', epsilon: 0.05, steps: 3 })[0] as AdversarialSpec;
    const before = tf.memory().numTensors;
    const failing: CraftLink = { forward: async () => { throw new Error('connection lost'); }, backward: async () => { throw new Error('unreachable'); } };
    await expect(craftThroughSplit(parts, x, y, 10, d, Rng.fromSeed(1), failing)).rejects.toThrow('connection lost');
    expect(tf.memory().numTensors).toBe(before);
  });
});
