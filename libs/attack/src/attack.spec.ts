import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  cnnSmall, getModelSpec, initWeights, PartModel, Rng, split, stateShapes, ZOO_MODELS,
  type GradientObservation, type RoundEndObservation, type ServerTaps, type SmashedObservation,
} from '@splitfleet/splitcore';
import { drawAux, heldOutIndices } from './aux-data.ts';
import { diverseInput, intermediateAttack, middleOutputAttack, noise, perSampleCrossEntropy, pgd, type ThreePart } from './craft.ts';
import { reweight, targetClasses } from './evaluate.ts';
import { labelledClassMap, matchedAccuracy, maxAssignment } from './hungarian.ts';
import { kmeans } from './kmeans.ts';
import { shadowHeadSpec } from './shadow.ts';
import { ObservationRecorder } from './observations.ts';

describe('attack hooks see only what a server sees', () => {
  it('hook payload types carry no head, tail, raw input, label, socket or server', () => {
    expectTypeOf<keyof SmashedObservation>().toEqualTypeOf<'clientId' | 'round' | 'step' | 'z'>();
    expectTypeOf<keyof GradientObservation>().toEqualTypeOf<'clientId' | 'round' | 'step' | 'z' | 'gm'>();
    expectTypeOf<keyof RoundEndObservation>().toEqualTypeOf<'round' | 'middle'>();
    expectTypeOf<keyof RoundEndObservation['middle']>().toEqualTypeOf<'spec' | 'weights'>();
    expectTypeOf<keyof ServerTaps>().toEqualTypeOf<'name' | 'onSmashed' | 'onGradient' | 'onRoundEnd'>();
  });

  it('the recorder copies the observed tensors (the server may free them) and keeps the last N batches', async () => {
    await tf.setBackend('cpu');
    const rec = new ObservationRecorder(2);
    for (let step = 0; step < 3; step++) {
      const z = tf.fill([2, 3], step);
      const gm = tf.fill([2, 4], -step);
      await rec.onGradient({ clientId: 1, round: 0, step, z, gm });
      tf.dispose([z, gm]);
    }
    expect(rec.observed.map((b) => b.step)).toEqual([1, 2]);
    expect(Array.from(rec.observed[1]!.z)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Object.keys(rec.observed[0]!).sort()).toEqual(['batch', 'clientId', 'gm', 'round', 'step', 'z']);
  });
});

describe('label inference from gradients at the middle output', () => {
  it('spherical k-means recovers the labels of a dense tail from g = Wᵀ(p − y) up to a relabelling', () => {
    // synthetic: 10 classes, tail W [128 → 10]; per-sample gradient wrt the tail input is W(p − y)
    const r = Rng.fromSeed(3);
    const d = 128;
    const k = 10;
    const W = Float32Array.from({ length: d * k }, () => r.normal() * 0.1);
    const n = 400;
    const labels = Int32Array.from({ length: n }, (_, i) => i % k);
    const g = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const p = r.dirichlet(new Array(k).fill(1)).map((v) => v * 0.5);
      p[labels[i]!]! += 0.4; // a half-trained model: confident-ish, not perfect
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += W[j * k + c]! * (p[c]! - (c === labels[i] ? 1 : 0));
        g[i * d + j] = s;
      }
    }
    const { labels: inferred } = kmeans(g, n, d, k, 1, { spherical: true });
    expect(matchedAccuracy(inferred, labels, k).accuracy).toBeGreaterThan(0.9);
  });

  it('maxAssignment finds the best permutation (checked against brute force on 5×5)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 5, maxLength: 5 }), { minLength: 5, maxLength: 5 }), (m) => {
        const a = maxAssignment(m);
        const value = (p: number[]) => p.reduce((s, c, r) => s + m[r]![c]!, 0);
        let best = 0;
        const perm = (xs: number[], acc: number[]): void => {
          if (!xs.length) best = Math.max(best, value(acc));
          xs.forEach((x, i) => perm([...xs.slice(0, i), ...xs.slice(i + 1)], [...acc, x]));
        };
        perm([0, 1, 2, 3, 4], []);
        expect(new Set(a).size).toBe(5);
        expect(value(a)).toBe(best);
      }),
      { numRuns: 50 },
    );
  });
});

describe('attacker data', () => {
  it('holds out a seeded pool and draws a skewed D_aux from it only', () => {
    const labels = Int32Array.from({ length: 3000 }, (_, i) => i % 10);
    const pool = heldOutIndices(3000, 600, 5);
    expect(pool).toEqual(heldOutIndices(3000, 600, 5));
    const a = drawAux(pool, labels, 128, 10, 9, { alpha: 0.1 });
    expect(a.indices).toHaveLength(128);
    expect(new Set(a.indices).size).toBe(128);
    const inPool = new Set(pool);
    expect(a.indices.every((i) => inPool.has(i))).toBe(true);
    expect(Math.max(...a.classShare)).toBeGreaterThan(0.3); // α = 0.1 is highly skewed
    expect(() => drawAux(pool, labels, 700, 10, 9, { alpha: 1 })).toThrow(/attack.aux.size \(700\) must be ≤ the held-out pool \(600\)/);
  });
});

describe('crafting adversarial examples', () => {
  let model: ThreePart;
  let x: tf.Tensor;
  let y: tf.Tensor1D;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const s = split(cnnSmall, cnnSmall.defaultCut, 1);
    model = { head: new PartModel(s.head, s.init.head), middle: new PartModel(s.middle, s.init.middle), tail: new PartModel(s.tail, s.init.tail) };
    const r = Rng.fromSeed(2);
    x = tf.tensor(Float32Array.from({ length: 4 * 784 }, () => r.float()), [4, 28, 28, 1]);
    y = tf.tensor1d([1, 2, 3, 4], 'int32');
    void initWeights;
  });

  it('ε = 0 is the identity for every method', async () => {
    for (const adv of [pgd(model, x, y, 10, { epsilon: 0, steps: 3 }), intermediateAttack(model, x, y, 10, { epsilon: 0, steps: 3, variant: 'feature' }), noise(x, 0, Rng.fromSeed(1))]) {
      expect(await tf.max(tf.abs(tf.sub(adv, x))).data()).toEqual(new Float32Array([0]));
      adv.dispose();
    }
  });

  it('stays in the L∞ ball and in [0, 1], and raises the loss it attacks', async () => {
    const eps = 0.05;
    for (const adv of [pgd(model, x, y, 10, { epsilon: eps, steps: 3 }), intermediateAttack(model, x, y, 10, { epsilon: eps, steps: 2, variant: 'ila' }), noise(x, eps, Rng.fromSeed(1))]) {
      expect((await tf.max(tf.abs(tf.sub(adv, x))).data())[0]).toBeLessThanOrEqual(eps + 1e-6);
      expect((await tf.min(adv).data())[0]).toBeGreaterThanOrEqual(0);
      expect((await tf.max(adv).data())[0]).toBeLessThanOrEqual(1);
      adv.dispose();
    }
    const ce = (v: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), model.tail.apply(model.middle.apply(model.head.apply(v))));
    const adv = pgd(model, x, y, 10, { epsilon: eps, steps: 5 });
    expect((await ce(adv).data())[0]).toBeGreaterThan((await ce(x).data())[0]!);
    adv.dispose();
  });

  it('rejects bad arguments and bad inputs with the option name and the allowed range', () => {
    expect(() => pgd(model, x, y, 10, { epsilon: -1, steps: 3 })).toThrow(/attack.epsilon must be a finite number ≥ 0/);
    expect(() => pgd(model, x, y, 10, { epsilon: NaN, steps: 3 })).toThrow(/attack.epsilon must be a finite number ≥ 0/);
    expect(() => pgd(model, x, y, 10, { epsilon: 0.1, steps: 0 })).toThrow(/attack.steps must be an integer ≥ 1/);
    expect(() => intermediateAttack(model, x, y, 10, { epsilon: 0.1, steps: 0, variant: 'feature' })).toThrow(/attack.steps must be an integer ≥ 1/);
    expect(() => pgd(model, x, y, 10, { epsilon: 0.1, steps: 2, restarts: 0 })).toThrow(/attack.restarts must be an integer ≥ 1/);
    expect(() => pgd(model, x, y, 10, { epsilon: 0.1, steps: 2, stepSize: -0.1 })).toThrow(/attack.stepSize must be a finite number > 0/);
    expect(() => pgd(model, x, y, 10, { epsilon: 0.1, steps: 2, clip: [1, 0] })).toThrow(/clip bounds must be finite with lo < hi, got \[1, 0\]/);
    expect(() => noise(x, 0.1, Rng.fromSeed(1), [0.5, 0.5])).toThrow(/lo < hi/);
    const big = tf.mul(x, 2);
    expect(() => pgd(model, big, y, 10, { epsilon: 0.1, steps: 2 })).toThrow(/attack input must lie in the pixel range \[0, 1\], got values in \[/);
    expect(() => noise(tf.sub(x, 1), 0.1, Rng.fromSeed(1))).toThrow(/pixel range \[0, 1\]/);
    const nan = tf.tensor(Float32Array.from({ length: x.size }, (_, i) => (i === 5 ? NaN : 0.5)), x.shape);
    expect(() => pgd(model, nan, y, 10, { epsilon: 0.1, steps: 2 })).toThrow(/attack input has 1 NaN\/Inf values/);
    tf.dispose([big, nan]);
  });

  it('every method keeps x_adv in the ε-ball (measured from the original x) and in [0,1], with no NaN (property)', async () => {
    const methods = ['pgd', 'pgd-restarts', 'pgd-targeted', 'feature', 'ila', 'ila-middle', 'middle-l2', 'middle-cosine', 'noise'] as const;
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 0.4, noNaN: true }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(...methods), fc.integer({ min: 0, max: 1000 }), async (eps, steps, method, seed) => {
        const r = Rng.fromSeed(seed);
        // inputs on the box edges are where clipping bugs show
        const xs = tf.tensor(Float32Array.from({ length: 2 * 784 }, () => { const u = r.float(); return u < 0.2 ? 0 : u > 0.8 ? 1 : u; }), [2, 28, 28, 1]);
        const ys = tf.tensor1d([r.int(10), r.int(10)], 'int32');
        const o = { epsilon: eps, steps, rng: Rng.fromSeed(seed), momentum: seed % 2 };
        const adv =
          method === 'pgd' ? pgd(model, xs, ys, 10, o)
          : method === 'pgd-restarts' ? pgd(model, xs, ys, 10, { ...o, restarts: 2, randomStart: true })
          : method === 'pgd-targeted' ? pgd(model, xs, ys, 10, { ...o, targeted: true })
          : method === 'noise' ? noise(xs, eps, Rng.fromSeed(seed))
          : method === 'ila-middle' ? intermediateAttack(model, xs, ys, 10, { ...o, variant: 'ila', layer: 'middle' })
          : method === 'middle-l2' || method === 'middle-cosine' ? middleOutputAttack(model, xs, { ...o, distance: method === 'middle-l2' ? 'l2' : 'cosine' })
          : intermediateAttack(model, xs, ys, 10, { ...o, variant: method });
        const [d, lo, hi, finite] = await Promise.all([tf.max(tf.abs(tf.sub(adv, xs))).data(), tf.min(adv).data(), tf.max(adv).data(), tf.all(tf.isFinite(adv)).data()]);
        expect(d[0]).toBeLessThanOrEqual(eps + 1e-6);
        expect(lo[0]).toBeGreaterThanOrEqual(0);
        expect(hi[0]).toBeLessThanOrEqual(1);
        expect(finite[0]).toBe(1);
        tf.dispose([xs, ys, adv]);
      }),
      { numRuns: 25 },
    );
  });

  it('the head-only crafts move the middle\'s output further than noise of the same ε, and the same seed gives the same x_adv', async () => {
    const shift = async (adv: tf.Tensor) => {
      const d = tf.tidy(() => tf.norm(tf.sub(model.middle.apply(model.head.apply(adv)), model.middle.apply(model.head.apply(x)))));
      const v = (await d.data())[0]!;
      d.dispose();
      return v;
    };
    for (const distance of ['l2', 'cosine'] as const) {
      const a = middleOutputAttack(model, x, { epsilon: 0.1, steps: 5, rng: Rng.fromSeed(3), distance });
      const b = middleOutputAttack(model, x, { epsilon: 0.1, steps: 5, rng: Rng.fromSeed(3), distance });
      const n = noise(x, 0.1, Rng.fromSeed(3));
      expect(await a.data()).toEqual(await b.data());
      expect(await shift(a)).toBeGreaterThan(await shift(n));
      tf.dispose([a, b, n]);
    }
  });

  it('restarts never end weaker than one run: per sample the loss is at least the single run’s', async () => {
    const eps = 0.1;
    const one = pgd(model, x, y, 10, { epsilon: eps, steps: 3 });
    const many = pgd(model, x, y, 10, { epsilon: eps, steps: 3, restarts: 3, rng: Rng.fromSeed(4) });
    const l1 = await perSampleCrossEntropy(model.tail.apply(model.middle.apply(model.head.apply(one))), y, 10).data();
    const l3 = await perSampleCrossEntropy(model.tail.apply(model.middle.apply(model.head.apply(many))), y, 10).data();
    l1.forEach((v, i) => expect(l3[i]).toBeGreaterThanOrEqual(v - 1e-5));
    tf.dispose([one, many]);
  });

  it('targeted PGD lowers the loss of the target class', async () => {
    const target = tf.tensor1d([7, 7, 7, 7], 'int32');
    const ce = (v: tf.Tensor) => tf.mean(perSampleCrossEntropy(model.tail.apply(model.middle.apply(model.head.apply(v))), target, 10)).data();
    const adv = pgd(model, x, target, 10, { epsilon: 0.1, steps: 5, targeted: true });
    expect((await ce(adv))[0]).toBeLessThan((await ce(x))[0]!);
    tf.dispose([adv, target]);
  });

  it('input diversity keeps the batch shape and pixel range, is the identity at probability 0 and seeded otherwise; DI-PGD stays in the ball and raises the loss', async () => {
    const d = { probability: 1, resizeRate: 0.8 };
    expect(diverseInput(x, { probability: 0, resizeRate: 0.8 }, Rng.fromSeed(1))).toBe(x);
    const a = diverseInput(x, d, Rng.fromSeed(4));
    const b = diverseInput(x, d, Rng.fromSeed(4));
    expect(a.shape).toEqual(x.shape);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    expect(Array.from(await a.data())).not.toEqual(Array.from(await x.data()));
    expect(Math.min(...(await a.data()))).toBeGreaterThanOrEqual(0);
    expect(Math.max(...(await a.data()))).toBeLessThanOrEqual(1);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const ce = (v: tf.Tensor) => tf.mean(perSampleCrossEntropy(model.tail.apply(model.middle.apply(model.head.apply(v))), y, 10)).data();
    const adv = pgd(model, x, y, 10, { epsilon: 0.1, steps: 5, diversity: d, rng: Rng.fromSeed(2) });
    expect((await tf.max(tf.abs(tf.sub(adv, x))).data())[0]).toBeLessThanOrEqual(0.1 + 1e-6);
    expect((await ce(adv))[0]).toBeGreaterThan((await ce(x))[0]!);
    expect(() => pgd(model, x, y, 10, { epsilon: 0.1, steps: 1, diversity: { probability: 2, resizeRate: 0.9 } })).toThrow(/attack.diversity must have probability in \[0, 1\]/);
    tf.dispose([a, b, y, adv]);
  });
});

describe('shadow architecture', () => {
  it('the shadow head’s output shape equals the real smashed shape, for every architecture, model and named cut', () => {
    const models = ZOO_MODELS.flatMap((name) => [[28, 28, 1], [32, 32, 3]].map((inputShape) => getModelSpec(name, { inputShape, classes: 10 })));
    for (const m of models) for (const cut of Object.values(m.cuts)) {
      const s = split(m, cut, 1);
      for (const arch of ['same', 'small', 'single', 'multi'] as const) {
        const spec = shadowHeadSpec(s.head, arch);
        expect(spec.outputShape, `${m.name} ${JSON.stringify(cut)} ${arch}`).toEqual(s.head.outputShape);
        if (m.name === 'resnet-18' || m.name === 'vgg-mini') continue; // shapes only: the forward of the big ones is slow on cpu
        const h = new PartModel(spec, initWeights(stateShapes(spec), Rng.fromSeed(1)));
        const out = h.apply(tf.zeros([2, ...m.inputShape]));
        expect(out.shape).toEqual([2, ...s.head.outputShape]);
        tf.dispose(out);
        h.dispose();
      }
    }
  });
});

describe('evaluation bookkeeping', () => {
  it('targets: next is y+1 mod C, random is seeded and never the true class, a fixed class is range-checked', () => {
    const y = Int32Array.from({ length: 200 }, (_, i) => i % 10);
    expect(Array.from(targetClasses('next', y, 10, 1)!.slice(0, 3))).toEqual([1, 2, 3]);
    const r = targetClasses('random', y, 10, 5)!;
    expect(r.every((t, i) => t !== y[i] && t >= 0 && t < 10)).toBe(true);
    expect(r).toEqual(targetClasses('random', y, 10, 5));
    expect(new Set(r).size).toBe(10);
    expect(targetClasses('untargeted', y, 10, 1)).toBeNull();
    expect(() => targetClasses({ class: 10 }, y, 10, 1)).toThrow(/attack.target.class must be an integer in \[0, 9\], got 10/);
  });

  it('re-weights per-class counts to a client’s label distribution (hand-computed)', () => {
    // class 0: 10 samples, 8 correct, 4 fooled, L2 0.5 each; class 1: 20 samples, 10 correct, 1 fooled, L2 1.0 each
    const pc = { total: [10, 20], correct: [8, 10], fooled: [4, 1], hit: [0, 0], targetable: [0, 0], l2Sum: [4, 10], linfMax: [0.05, 0.1] };
    const onlyClass0 = reweight(pc, [1, 0], false);
    expect(onlyClass0).toEqual({ cleanAccuracy: 0.8, robustAccuracy: 0.4, asr: 0.5, targetedSuccess: null, linfMax: 0.05, l2Mean: 0.5 });
    const even = reweight(pc, [0.5, 0.5], false);
    expect(even.cleanAccuracy).toBeCloseTo(0.5 * 0.8 + 0.5 * 0.5);
    expect(even.robustAccuracy).toBeCloseTo(0.5 * 0.4 + 0.5 * 0.45);
    expect(even.asr).toBeCloseTo((0.5 * 0.4 + 0.5 * 0.05) / 0.65); // fooled share per class, over clean
    expect(even.l2Mean).toBeCloseTo((0.5 * 0.4 + 0.5 * 0.5) / 0.65); // L2 per class sample, over clean
    expect(even.linfMax).toBe(0.1);
  });
});

describe('the attacker\'s class map for targeted attacks', () => {
  it('assigns each real class the shadow class its labelled images fall in most; unseen classes take the leftovers', () => {
    // shadow calls class 0 "2" (twice), class 1 "0", class 2 "1" once and "0" once; class 3 has no labelled image
    const map = labelledClassMap(Int32Array.from([2, 2, 0, 1, 0]), Int32Array.from([0, 0, 1, 2, 2]), 4);
    expect(map.slice(0, 3)).toEqual([2, 0, 1]);
    expect(map[3]).toBe(3);
    expect(() => labelledClassMap(Int32Array.from([1]), Int32Array.from([1, 2]), 3)).toThrow(/1 predictions for 2 labels/);
  });
});
