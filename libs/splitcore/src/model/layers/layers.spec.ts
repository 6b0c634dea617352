import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getModelSpec } from '../zoo.ts';
import { initWeights, partSpec, split, stateShapes } from '../split.ts';
import { PartModel } from '../part-model.ts';
import { sizeOf } from '../shape.ts';
import { Rng } from '../../rng/rng.ts';
import { EVAL_MODE, trainMode } from './kind.ts';
import { backwardFromCache, disposeCache, forwardKeep, paramGradsFromCache } from '../../train/cached-vjp.ts';
import { middleVjp } from '../../train/split-step.ts';
import type { NamedLayer } from '../spec.ts';

const randn = (n: number, seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float32Array.from({ length: n }, () => r.normal());
};
const maxRelDiff = async (a: tf.Tensor, b: tf.Tensor): Promise<number> => {
  const [x, y] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
  const scale = y.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0) / scale;
};

describe('batch norm', () => {
  it('normalises with batch statistics in training, moves the running ones PyTorch-style, and uses them in evaluation', async () => {
    await tf.setBackend('cpu');
    const layers: NamedLayer[] = [{ name: 'bn', spec: { kind: 'batchnorm', momentum: 0.1 } }];
    const spec = partSpec('middle', layers, [2, 2, 3]);
    expect(stateShapes(spec).map((p) => p.name)).toEqual(['bn/gamma', 'bn/beta', 'bn/runningMean', 'bn/runningVar']);
    const gamma = [1.5, 0.5, 2];
    const beta = [0.1, -0.2, 0.3];
    const part = new PartModel(spec, [
      { name: 'bn/gamma', shape: [3], values: Float32Array.from(gamma) }, { name: 'bn/beta', shape: [3], values: Float32Array.from(beta) },
      { name: 'bn/runningMean', shape: [3], values: new Float32Array(3) }, { name: 'bn/runningVar', shape: [3], values: Float32Array.of(1, 1, 1) },
    ]);
    const xs = randn(4 * 2 * 2 * 3, 5).map((v, i) => v * (1 + (i % 3)) + (i % 3));
    const x = tf.tensor(xs, [4, 2, 2, 3]);
    const y = (await part.apply(x, part.vars, trainMode(1)).data()) as Float32Array;
    // reference by hand: per channel over the 16 values of the batch
    for (let c = 0; c < 3; c++) {
      const v = Array.from({ length: 16 }, (_, k) => xs[k * 3 + c]!);
      const mean = v.reduce((a, b) => a + b, 0) / 16;
      const biased = v.reduce((a, b) => a + (b - mean) ** 2, 0) / 16;
      for (let k = 0; k < 16; k++) expect(y[k * 3 + c]!).toBeCloseTo(((v[k]! - mean) / Math.sqrt(biased + 1e-5)) * gamma[c]! + beta[c]!, 4);
      const [rm, rv] = await Promise.all(part.buffers.map((b) => b.data()));
      expect(rm![c]!).toBeCloseTo(0.1 * mean, 5);
      expect(rv![c]!).toBeCloseTo(0.9 + 0.1 * biased * (16 / 15), 5);
    }
    // evaluation: the running statistics, and nothing moves
    const before = await part.getWeights();
    const e = (await part.apply(x).data()) as Float32Array;
    const [rm, rv] = [before[2]!.values, before[3]!.values];
    expect(e[0]!).toBeCloseTo(((xs[0]! - rm[0]!) / Math.sqrt(rv[0]! + 1e-5)) * gamma[0]! + beta[0]!, 4);
    expect((await part.getWeights())[2]!.values).toEqual(rm);
    tf.dispose(x);
    part.dispose();
  });
});

describe('layer kinds', () => {
  it('resnet-18 has the parameter count of the authors\' PyTorch model (11,173,962) and their four cuts', () => {
    const m = getModelSpec('resnet-18');
    const s = split(m, m.defaultCut, 1);
    const count = [s.head, s.middle, s.tail].reduce((a, p) => a + p.params.reduce((b, q) => b + sizeOf(q.shape), 0), 0);
    expect(count).toBe(11_173_962);
    const shapes = Object.fromEntries(Object.entries(m.cuts).map(([name, cut]) => [name, split(m, cut, 1).head.outputShape]));
    expect(shapes).toEqual({ 'split-1': [32, 32, 64], 'split-2': [32, 32, 64], 'split-3': [16, 16, 128], 'split-4': [8, 8, 256] });
    for (const cut of Object.values(m.cuts)) expect(split(m, cut, 1).tail.layers.map((l) => l.spec.kind)).toEqual(['dense']);
  });

  it('resnet-20 on 28×28×1 has the parameter count of the PyTorch network the bench compares with (272,186)', () => {
    const m = getModelSpec('resnet-20', { inputShape: [28, 28, 1], classes: 10 });
    const s = split(m, m.defaultCut, 1);
    expect([s.head, s.middle, s.tail].reduce((a, p) => a + p.params.reduce((b, q) => b + sizeOf(q.shape), 0), 0)).toBe(272_186);
  });

  it('ResNets adapt their stem to 28×28×1 and 32×32×3 inputs', () => {
    for (const name of ['resnet-8', 'resnet-20', 'resnet-18']) {
      for (const inputShape of [[28, 28, 1], [32, 32, 3]]) {
        const m = getModelSpec(name, { inputShape, classes: 10 });
        const s = split(m, m.defaultCut, 1);
        expect(s.head.params[0]!.shape[2]).toBe(inputShape[2]);
        expect(s.tail.outputShape).toEqual([10]);
      }
    }
  });

  it('names the layer and the shapes when a layer does not fit its input', () => {
    expect(() => partSpec('head', [{ name: 'c', spec: { kind: 'conv2d', filters: 4, kernel: 5, stride: 1, padding: 'valid', activation: 'relu' } }], [3, 3, 1])).toThrow(/layer c: input \[3,3,1\] is smaller than the 5×5 kernel/);
    expect(() => partSpec('head', [{ name: 'g', spec: { kind: 'gap' } }], [10])).toThrow(/layer g: gap needs an \[h, w, c\] input, got \[10\]/);
  });
});

/** A small part with every layer kind (and both residual shortcuts) for VJP checks. */
const EVERY_KIND: NamedLayer[] = [
  { name: 'c0', spec: { kind: 'conv2d', filters: 4, kernel: 3, stride: 1, padding: 1, activation: 'linear', bias: false } },
  { name: 'bn0', spec: { kind: 'batchnorm', activation: 'relu' } },
  { name: 'r1', spec: { kind: 'residual', filters: 4, stride: 1 } },
  { name: 'r2', spec: { kind: 'residual', filters: 6, stride: 2 } },
  { name: 'd', spec: { kind: 'dropout', rate: 0.3 } },
  { name: 'ap', spec: { kind: 'avgpool', size: 2 } },
  { name: 'gap', spec: { kind: 'gap' } },
  { name: 'fc', spec: { kind: 'dense', units: 5, activation: 'linear' } },
];

describe('VJP from a cached forward through batch norm, residual blocks, pooling and dropout', () => {
  it('equals tf.grads of the whole part in training mode (same dropout seed) and moves the running statistics once', async () => {
    await tf.setBackend('cpu');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 1000 }), async (batch, seed) => {
        const spec = partSpec('middle', EVERY_KIND, [8, 8, 3]);
        const part = new PartModel(spec, initWeights(stateShapes(spec), Rng.fromSeed(seed)));
        const x = tf.tensor(randn(batch * 8 * 8 * 3, seed), [batch, 8, 8, 3]);
        const gy = tf.tensor(randn(batch * 5, seed + 1), [batch, 5]);
        const statsBefore = await Promise.all(part.buffers.map((b) => b.data()));
        const before = tf.memory().numTensors;
        const { y, cache } = forwardKeep(part, x, trainMode(seed));
        const fast = backwardFromCache(part, cache, gy);
        disposeCache(cache);
        expect(tf.memory().numTensors).toBe(before + 2 + fast.grads.length);
        const statsAfter = await Promise.all(part.buffers.map((b) => b.data()));
        expect(statsAfter.some((s, i) => s.some((v, j) => v !== statsBefore[i]![j]))).toBe(true);
        // the reference re-runs the forward without touching the statistics
        const ref = middleVjp(part, x, gy, seed);
        const statsRef = await Promise.all(part.buffers.map((b) => b.data()));
        expect(statsRef).toEqual(statsAfter);
        const yRef = part.apply(x, part.vars, trainMode(seed, false));
        expect(await maxRelDiff(y, yRef)).toBe(0);
        expect(await maxRelDiff(fast.gx, ref.gz)).toBeLessThan(1e-4);
        for (let i = 0; i < ref.grads.length; i++) expect(await maxRelDiff(fast.grads[i]!, ref.grads[i]!), spec.params[i]!.name).toBeLessThan(1e-4);
        tf.dispose([y, yRef, fast.gx, ...fast.grads, ref.gz, ...ref.grads, x, gy]);
        part.dispose();
      }),
      { numRuns: 4, seed: 17 },
    );
  });

  it("gives a BN head's parameter gradients without the input gradient", async () => {
    await tf.setBackend('cpu');
    const m = getModelSpec('resnet-8', { inputShape: [12, 12, 1], classes: 10 });
    const s = split(m, m.cuts['stage1']!, 2);
    const head = new PartModel(s.head, s.init.head);
    const x = tf.tensor(randn(2 * 144, 3), [2, 12, 12, 1]);
    const gz = tf.tensor(randn(2 * sizeOf(s.head.outputShape), 4), [2, ...s.head.outputShape]);
    const { y, cache } = forwardKeep(head, x, trainMode(7));
    const grads = paramGradsFromCache(head, cache, gz);
    disposeCache(cache);
    y.dispose();
    const ref = tf.grads((...ps: tf.Tensor[]) => head.apply(x, ps, trainMode(7, false)))(head.vars, gz);
    for (let i = 0; i < ref.length; i++) expect(await maxRelDiff(grads[i]!, ref[i]!), s.head.params[i]!.name).toBeLessThan(1e-4);
    tf.dispose([...grads, ...ref, x, gz]);
    head.dispose();
  });

  it('dropout is the identity in evaluation and draws the same mask for the same step seed', async () => {
    await tf.setBackend('cpu');
    const spec = partSpec('tail', [{ name: 'd', spec: { kind: 'dropout', rate: 0.5 } }], [64]);
    const part = new PartModel(spec, []);
    const x = tf.ones([4, 64]);
    const [a, b, c, e] = [part.apply(x, [], trainMode(3)), part.apply(x, [], trainMode(3)), part.apply(x, [], trainMode(4)), part.apply(x, [], EVAL_MODE)];
    expect(await a.data()).toEqual(await b.data());
    expect(await a.data()).not.toEqual(await c.data());
    expect(Array.from(await e.data()).every((v) => v === 1)).toBe(true);
    const kept = Array.from(await a.data()).filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 2) < 1e-6)).toBe(true);
    expect(kept.length).toBeGreaterThan(64);
    expect(kept.length).toBeLessThan(192);
    tf.dispose([x, a, b, c, e]);
  });
});
