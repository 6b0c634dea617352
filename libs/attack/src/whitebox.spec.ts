import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { cnnSmall, DefenceConfigSchema, PartModel, registerSplitfleetKernels, Rng, smashedChannel, split } from '@splitfleet/splitcore';
import { logits, perSampleCrossEntropy, pgd, type ThreePart } from './craft.ts';
import { apgdCE, apgdCheckpoints, perSampleMargin, pgdMargin } from './whitebox.ts';

describe('white-box components of the upper bound', () => {
  let model: ThreePart;
  let x: tf.Tensor;
  let y: tf.Tensor1D;
  beforeAll(async () => {
    // wasm as in the apps (single-threaded, splitfleet's kernels): slow on cpu
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    registerSplitfleetKernels();
    const s = split(cnnSmall, cnnSmall.defaultCut, 3);
    model = { head: new PartModel(s.head, s.init.head), middle: new PartModel(s.middle, s.init.middle), tail: new PartModel(s.tail, s.init.tail) };
    const r = Rng.fromSeed(8);
    x = tf.tensor(Float32Array.from({ length: 6 * 784 }, () => r.float()), [6, 28, 28, 1]);
    y = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
  });
  const ce = async (v: tf.Tensor) => {
    const t = tf.tidy(() => perSampleCrossEntropy(logits(model, v), y, 10));
    const out = Array.from((await t.data()) as Float32Array);
    t.dispose();
    return out;
  };

  it('a deployed model with a smashed-data defence computes its logits through it, and white-box PGD attacks through it (BPDA)', async () => {
    const channel = smashedChannel(DefenceConfigSchema.parse({ kind: 'quantise', bits: 2 }), Rng.fromSeed(1))!;
    const defended: ThreePart = { ...model, channel };
    const [got, want] = tf.tidy(() => [logits(defended, x).dataSync(), model.tail.apply(model.middle.apply(channel(model.head.apply(x)))).dataSync()]);
    expect(Array.from(got!)).toEqual(Array.from(want!));
    const xAdv = pgd(defended, x, y, 10, { epsilon: 0.3, steps: 5 });
    const lossOf = (v: tf.Tensor) => tf.tidy(() => Array.from(perSampleCrossEntropy(logits(defended, v), y, 10).dataSync()));
    const before = lossOf(x).reduce((a, b) => a + b, 0);
    expect(lossOf(xAdv).reduce((a, b) => a + b, 0)).toBeGreaterThan(before);
    xAdv.dispose();
  });

  it('APGD checkpoints follow AutoAttack’s schedule (22, 41, 57, 70, 80, 87, 93, 99 for 100 steps)', () => {
    expect(apgdCheckpoints(100)).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
    expect(apgdCheckpoints(20)).toEqual([4, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(apgdCheckpoints(1)).toEqual([]);
  });

  it('the margin loss is max over the other classes minus the true class’s logit (hand-computed)', async () => {
    const l = tf.tensor2d([[1, 3, 2], [5, 0, 1]]);
    const m = perSampleMargin(l, tf.tensor1d([1, 0], 'int32'), 3);
    expect(Array.from(await m.data())).toEqual([-1, -4]);
    tf.dispose([l, m]);
  });

  it.each([['APGD-CE', apgdCE], ['PGD on the margin loss', pgdMargin]] as const)('%s: ε = 0 is the identity; x_adv stays in the ε-ball and [0,1], finite, the same for the same seed', async (_name, attack) => {
    const zero = attack(model, x, y, 10, { epsilon: 0, steps: 5 });
    expect((await tf.max(tf.abs(tf.sub(zero, x))).data())[0]).toBe(0);
    const o = { epsilon: 0.05, steps: 12, randomStart: true, restarts: 2, rng: Rng.fromSeed(4) };
    const a = attack(model, x, y, 10, o);
    const b = attack(model, x, y, 10, { ...o, rng: Rng.fromSeed(4) });
    expect(await a.data()).toEqual(await b.data());
    const [d, lo, hi, finite] = await Promise.all([tf.max(tf.abs(tf.sub(a, x))), tf.min(a), tf.max(a), tf.all(tf.isFinite(a))].map((t) => t.data()));
    expect(d![0]).toBeLessThanOrEqual(0.05 + 1e-6);
    expect(lo![0]).toBeGreaterThanOrEqual(0);
    expect(hi![0]).toBeLessThanOrEqual(1);
    expect(finite![0]).toBe(1);
    tf.dispose([zero, a, b]);
  });

  it('APGD-CE never ends below the clean loss and, on this model, reaches at least PGD’s mean loss with the same steps', async () => {
    const o = { epsilon: 0.03, steps: 20 };
    const a = apgdCE(model, x, y, 10, o);
    const p = pgd(model, x, y, 10, o);
    const [clean, la, lp] = await Promise.all([ce(x), ce(a), ce(p)]);
    la.forEach((v, i) => expect(v).toBeGreaterThanOrEqual(clean[i]! - 1e-5));
    const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
    expect(mean(la)).toBeGreaterThanOrEqual(mean(lp) - 1e-4);
    tf.dispose([a, p]);
  });
});
