import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { cnnSmall, PartModel, split } from '@splitfleet/splitcore';
import { noise, pgd, type ThreePart } from './craft.ts';
import { evaluateSuite, perturbationStream, type SuiteOptions } from './evaluate.ts';
import type { AttackCell } from './suite-result.ts';

describe('every (method, batch, restart) draws its own random perturbation', () => {
  let model: ThreePart;
  let suite: Omit<SuiteOptions, 'seed'>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const s = split(cnnSmall, cnnSmall.defaultCut, 1);
    model = { head: new PartModel(s.head, s.init.head), middle: new PartModel(s.middle, s.init.middle), tail: new PartModel(s.tail, s.init.tail) };
    // four copies of one black-and-white image: pixels on the box edges make the clipped
    // perturbation's L2 norm depend on its pattern, so equal norms mean equal patterns
    const image = Float32Array.from({ length: 784 }, (_, i) => (i * 7919) % 3 === 0 ? 1 : 0);
    const x = new Float32Array(4 * 784);
    for (let k = 0; k < 4; k++) x.set(image, k * 784);
    const predicted = tf.tidy(() => tf.argMax(model.tail.apply(model.middle.apply(model.head.apply(tf.tensor(x, [4, 28, 28, 1])))), -1));
    const y = Int32Array.from(predicted.dataSync()); // the model's own predictions: every copy is attacked
    predicted.dispose();
    suite = {
      real: model, shadow: model, randomShadow: model, x, y, inputShape: [28, 28, 1], classes: 10, epsilons: [0.1],
      // one step of negligible size: x_adv is (almost) the random start itself
      steps: 1, stepSize: 1e-6, randomStart: true, crafts: ['pgd'], baselines: ['noise'], batch: 1,
    };
  });

  const cell = (cells: readonly AttackCell[], method: string) => cells.find((c) => c.method === method)!;
  const withoutTimes = (cells: readonly AttackCell[]) => cells.map(({ seconds: _s, ...rest }) => rest);

  it('the same image in four batches gets four different noise and random-start perturbations', async () => {
    const { cells } = await evaluateSuite({ ...suite, seed: 3 });
    for (const method of ['noise', 'spadv-pgd']) {
      const c = cell(cells, method);
      expect(c.evaluated).toBe(4);
      // one shared stream would give four identical perturbations: l2Max = l2Mean
      expect(c.l2Max - c.l2Mean, method).toBeGreaterThan(1e-3);
    }
  });

  it('the noise baseline and the random start of a batch do not share a pattern', async () => {
    // mid-grey: every pixel can move either way, so the signs show the pattern
    const x = tf.fill([1, 28, 28, 1], 0.5);
    const label = tf.tensor1d([0], 'int32');
    const o = { epsilon: 0.1, steps: 1, stepSize: 1e-6, randomStart: true };
    const fromNoise = noise(x, 0.1, perturbationStream(3, 'noise', 0));
    const fromStart = pgd(model, x, label, 10, { ...o, rng: perturbationStream(3, 'spadv-pgd', 0) });
    // one shared stream would point both the same way at every pixel; independent ones agree about half the time
    const [a, b, orig] = await Promise.all([fromNoise.data(), fromStart.data(), x.data()]);
    let both = 0;
    let agree = 0;
    orig.forEach((v, i) => {
      const dn = a[i]! - v;
      const ds = b[i]! - v;
      if (Math.abs(dn) > 1e-3 && Math.abs(ds) > 1e-3) {
        both++;
        if (Math.sign(dn) === Math.sign(ds)) agree++;
      }
    });
    expect(both).toBeGreaterThan(700);
    expect(agree / both).toBeGreaterThan(0.3);
    expect(agree / both).toBeLessThan(0.7);
    tf.dispose([x, label, fromNoise, fromStart]);
  });

  it('same seed ⇒ the same perturbations; another seed ⇒ others', async () => {
    const a = await evaluateSuite({ ...suite, seed: 3 });
    const b = await evaluateSuite({ ...suite, seed: 3 });
    const c = await evaluateSuite({ ...suite, seed: 4 });
    expect(withoutTimes(b.cells)).toEqual(withoutTimes(a.cells));
    expect(b.examples).toEqual(a.examples);
    expect(cell(c.cells, 'noise').l2Mean).not.toBe(cell(a.cells, 'noise').l2Mean);
    expect(c.examples.adversarial).not.toEqual(a.examples.adversarial);
  });
});
