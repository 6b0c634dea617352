import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { cnnSmall, PartModel, registerSplitfleetKernels, Rng, sizeOf, split } from '@splitfleet/splitcore';
import { AttackConfigSchema, attackConfigProblems } from './config.ts';
import { featureMatchLoss, featureTarget, mmdRbf } from './losses.ts';
import { trainShadow, type ShadowOptions } from './shadow.ts';
import { evaluationIndices } from './spadv/run.ts';

/** A head-only shadow (attack.shadow.tail none) and the two readings of how it is trained (issue #18). */

const parse = (a: object) => AttackConfigSchema.parse({ method: 'spadv', ...a });

describe('attack.shadow.tail none is checked against the objectives and crafts', () => {
  it('names the objective or craft that needs a shadow tail, and the allowed values', () => {
    expect(attackConfigProblems(parse({ shadow: { tail: 'none' }, objective: 'infomax', craft: ['middle-l2'] }))).toEqual([
      'attack.objective: infomax is not allowed with attack.shadow.tail none; it trains ĥ through a shadow tail (allowed: match, observe, match-middle)',
    ]);
    expect(attackConfigProblems(parse({ shadow: { tail: 'none' }, objectives: ['observe', 'cluster'], craft: ['pgd', 'middle-cosine', 'ila'] }))).toEqual([
      'attack.objective: cluster is not allowed with attack.shadow.tail none; it trains ĥ through a shadow tail (allowed: match, observe, match-middle)',
      'attack.craft: pgd, ila is not allowed with attack.shadow.tail none; it needs a shadow tail (allowed: middle-l2, middle-cosine)',
    ]);
    expect(attackConfigProblems(parse({ shadow: { tail: 'none' }, objectives: ['observe', 'match-middle', 'match'], craft: ['middle-l2', 'middle-cosine'] }))).toEqual([]);
    expect(AttackConfigSchema.safeParse({ shadow: { tail: 'maybe' } }).success).toBe(false);
  });
});

describe('the evaluation slice', () => {
  it('tune and eval are the two halves of the test split, all starts at its first image; never more than asked or than the slice holds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5000 }), fc.integer({ min: 1, max: 6000 }), (count, samples) => {
        const tune = evaluationIndices(count, 'tune', samples);
        const ev = evaluationIndices(count, 'eval', samples);
        const all = evaluationIndices(count, 'all', samples);
        const half = Math.floor(count / 2);
        expect(tune).toEqual(Array.from({ length: Math.min(samples, half) }, (_, i) => i));
        expect(ev).toEqual(Array.from({ length: Math.min(samples, count - half) }, (_, i) => half + i));
        expect(all.length).toBe(Math.min(samples, count));
        expect(new Set([...tune, ...ev]).size).toBe(tune.length + ev.length);
        // attack.evalSamples null (the default): the whole slice
        expect(evaluationIndices(count, 'eval', null)).toEqual(Array.from({ length: count - half }, (_, i) => half + i));
        expect(evaluationIndices(count, 'tune', null)).toHaveLength(half);
      }),
    );
  });
});

describe('matching the middle’s output distribution (reading b)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('featureTarget: per-feature mean and population std, bandwidth = median squared distance of pairs (hand-computed)', () => {
    // rows (0,0), (2,0), (0,4), (2,4): mean (1,2), std (1,2); pairs (row i, row i+2): squared distances 16, 16
    const t = featureTarget(Float32Array.from([0, 0, 2, 0, 0, 4, 2, 4]), 4);
    expect(Array.from(t.mean)).toEqual([1, 2]);
    expect(Array.from(t.std)).toEqual([1, 2]);
    expect(t.bandwidth).toBe(16);
  });

  it('MMD is 0 between a set and itself, positive otherwise, and grows as one set moves away (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.2, max: 2, noNaN: true }), async (seed, shift) => {
        const r = Rng.fromSeed(seed);
        const a = tf.tensor2d(Float32Array.from({ length: 16 * 3 }, () => r.normal()), [16, 3]);
        const near = tf.add(a, shift / 4) as tf.Tensor2D;
        const far = tf.add(a, shift) as tf.Tensor2D;
        const mmds = [mmdRbf(a, a, 3), mmdRbf(a, near, 3), mmdRbf(a, far, 3)];
        const [self, dNear, dFar] = await Promise.all(mmds.map(async (m) => (await m.data())[0]!));
        tf.dispose([a, near, far, ...mmds]);
        expect(Math.abs(self!)).toBeLessThan(1e-5);
        expect(dNear).toBeGreaterThan(0);
        expect(dFar).toBeGreaterThan(dNear!);
      }),
      { numRuns: 20 },
    );
  });

  it('featureMatchLoss is near 0 for the observed rows themselves', async () => {
    const r = Rng.fromSeed(4);
    const rows = Float32Array.from({ length: 64 * 5 }, () => r.normal());
    const t = featureTarget(rows, 64);
    const f = tf.tensor2d(rows, [64, 5]);
    const l = featureMatchLoss(f, f, t);
    expect((await l.data())[0]).toBeLessThan(1e-3);
    tf.dispose([f, l]);
  });
});

describe('a head-only shadow (attack.shadow.tail none)', () => {
  const s = split(cnnSmall, cnnSmall.defaultCut, 1);
  let middle: PartModel;
  let opts: ShadowOptions;
  beforeAll(async () => {
    // wasm as in the apps (single-threaded, splitfleet's kernels): training is slow on cpu
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    registerSplitfleetKernels();
    middle = new PartModel(s.middle, s.init.middle);
    const head = new PartModel(s.head, s.init.head);
    const r = Rng.fromSeed(9);
    const n = 48;
    const x = tf.tensor(Float32Array.from({ length: n * 784 }, () => r.float()), [n, 28, 28, 1]);
    const z = tf.tidy(() => head.apply(x));
    const gm = Float32Array.from({ length: n * sizeOf(s.middle.outputShape) }, () => r.normal());
    opts = {
      objective: 'match-middle', architecture: 'small', tail: 'none', middle, headSpec: s.head, tailSpec: s.tail, classes: 10,
      aux: { x: Float32Array.from({ length: 32 * 784 }, () => r.float()), n: 32 }, observed: { n, z: (await z.data()) as Float32Array, gm },
      steps: 25, lr: 0.003, batchSize: 16, seed: 5,
    };
    tf.dispose([x, z]);
    head.dispose();
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(middle.vars.length + middle.buffers.length);
  });

  it.each(['observe', 'match-middle', 'match'] as const)('%s trains ĥ alone: no tail, the smashed shape, the same ĥ for the same seed', async (objective) => {
    const a = await trainShadow({ ...opts, objective });
    const b = await trainShadow({ ...opts, objective });
    expect(a.tail).toBeNull();
    expect(a.head.spec.outputShape).toEqual(s.head.outputShape);
    expect(Number.isFinite(a.finalLoss)).toBe(true);
    for (const [i, v] of a.head.vars.entries()) expect(await v.data()).toEqual(await b.head.vars[i]!.data());
    expect(a.inferredLabels === null).toBe(objective !== 'observe');
    a.dispose();
    b.dispose();
  });

  it('match-middle brings m(ĥ(D_aux)) closer to the observed middle outputs than the untrained ĥ it starts from', async () => {
    const feats = tf.tidy(() => middle.apply(tf.tensor(opts.observed!.z, [opts.observed!.n, ...s.head.outputShape])));
    const rows = (await feats.data()) as Float32Array;
    feats.dispose();
    const target = featureTarget(rows, opts.observed!.n);
    const lossOf = async (head: PartModel) => {
      const l = tf.tidy(() => {
        const f = tf.reshape(middle.apply(head.apply(tf.tensor(opts.aux.x, [opts.aux.n, 28, 28, 1]))), [opts.aux.n, -1]) as tf.Tensor2D;
        return featureMatchLoss(f, tf.tensor2d(rows.subarray(0, 32 * target.mean.length), [32, target.mean.length]), target);
      });
      const v = (await l.data())[0]!;
      l.dispose();
      return v;
    };
    const untrained = await trainShadow({ ...opts, steps: 1, lr: 1e-9 });
    const trained = await trainShadow({ ...opts, steps: 60, lr: 0.01 });
    expect(await lossOf(trained.head)).toBeLessThan(0.7 * (await lossOf(untrained.head)));
    untrained.dispose();
    trained.dispose();
  });

  it('a learned-tail objective refuses to run head-only', async () => {
    await expect(trainShadow({ ...opts, objective: 'infomax' })).rejects.toThrow(/needs a shadow tail/);
  });
});
