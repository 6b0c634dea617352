import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { cnnSmall } from '../model/zoo.ts';
import { split } from '../model/split.ts';
import { PartModel } from '../model/part-model.ts';
import { Rng } from '../rng/rng.ts';
import { middleVjp } from './split-step.ts';
import { backwardFromCache, disposeCache, forwardKeep, paramGradsFromCache } from './cached-vjp.ts';
import { sizeOf } from '../model/shape.ts';

describe('VJP from a cached forward pass', () => {
  it('equals tf.grads (gradient at the input and at every parameter) for conv, max-pool and dense parts, without leaking tensors', async () => {
    await tf.setBackend('cpu');
    const diff = async (a: tf.Tensor, b: tf.Tensor) => {
      const [d, m] = tf.tidy(() => [tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(b))]);
      const v = (await d!.data())[0]! / Math.max(1e-6, (await m!.data())[0]!);
      tf.dispose([d!, m!]);
      return v;
    };
    for (const cut of [cnnSmall.defaultCut, { headEnd: 1, tailStart: 5 }, { headEnd: 3, tailStart: 5 }]) {
      const s = split(cnnSmall, cut, 3);
      const part = new PartModel(s.middle, s.init.middle);
      const r = Rng.fromSeed(9);
      const z = tf.tensor(Float32Array.from({ length: 3 * sizeOf(s.middle.inputShape) }, () => Math.max(0, r.normal())), [3, ...s.middle.inputShape]);
      const gy = tf.tensor(Float32Array.from({ length: 3 * sizeOf(s.middle.outputShape) }, () => r.normal()), [3, ...s.middle.outputShape]);
      const before = tf.memory().numTensors;
      const { y, cache } = forwardKeep(part, z);
      const fast = backwardFromCache(part, cache, gy);
      disposeCache(cache);
      // nothing but the results survives: the cache and every intermediate are freed
      expect(tf.memory().numTensors).toBe(before + 2 + fast.grads.length);
      const ref = middleVjp(part, z, gy);
      const yRef = part.apply(z);
      expect(await diff(y, yRef)).toBe(0);
      expect(await diff(fast.gx, ref.gz), `gx at cut ${JSON.stringify(cut)}`).toBeLessThan(1e-5);
      for (let i = 0; i < ref.grads.length; i++) expect(await diff(fast.grads[i]!, ref.grads[i]!), `param ${s.middle.params[i]!.name}`).toBeLessThan(1e-5);
      tf.dispose([y, yRef, fast.gx, ...fast.grads, ref.gz, ...ref.grads, z, gy]);
      part.dispose();
    }
  });

  it("gives a head's parameter gradients (no input gradient) equal to tf.grads over its parameters", async () => {
    await tf.setBackend('cpu');
    const s = split(cnnSmall, cnnSmall.defaultCut, 4);
    const head = new PartModel(s.head, s.init.head);
    const r = Rng.fromSeed(11);
    const x = tf.tensor(Float32Array.from({ length: 2 * 28 * 28 }, () => r.float()), [2, 28, 28, 1]);
    const gz = tf.tensor(Float32Array.from({ length: 2 * sizeOf(s.head.outputShape) }, () => r.normal()), [2, ...s.head.outputShape]);
    const before = tf.memory().numTensors;
    const { y, cache } = forwardKeep(head, x);
    const grads = paramGradsFromCache(head, cache, gz);
    disposeCache(cache);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before + grads.length);
    const ref = tf.grads((...ps: tf.Tensor[]) => head.apply(x, ps))(head.vars, gz);
    for (let i = 0; i < ref.length; i++) {
      const [a, b] = [(await grads[i]!.data()) as Float32Array, (await ref[i]!.data()) as Float32Array];
      const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      expect(a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j]!)), 0) / scale, s.head.params[i]!.name).toBeLessThan(1e-5);
    }
    tf.dispose([...grads, ...ref, x, gz]);
    head.dispose();
  });
});
