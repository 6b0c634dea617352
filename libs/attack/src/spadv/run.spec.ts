import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { cnnSmall, PartModel, registerSplitfleetKernels, Rng, sizeOf, split, type ImageSet } from '@splitfleet/splitcore';
import { AttackConfigSchema } from '../config.ts';
import type { ObservedBatch } from '../observations.ts';
import { AttackReportSchema, type AttackReport } from './report.ts';
import { runSpadv, type SpadvInputs } from './run.ts';

/** A tiny synthetic run: random images, an untrained cnn-small, two clients, two observed batches. */
function tinyRun(): SpadvInputs {
  const r = Rng.fromSeed(5);
  const images = (n: number): ImageSet => ({
    images: Float32Array.from({ length: n * 784 }, () => r.float()), labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    count: n, shape: [28, 28, 1], classes: 10,
  });
  const train = images(120);
  const s = split(cnnSmall, cnnSmall.defaultCut, 1);
  const head = new PartModel(s.head, s.init.head);
  const gmSize = sizeOf(s.middle.outputShape);
  const observed: ObservedBatch[] = [0, 1].map((step) => {
    const x = tf.tensor(train.images.slice(step * 16 * 784, (step + 1) * 16 * 784), [16, 28, 28, 1]);
    const z = tf.tidy(() => head.apply(x));
    const batch = { clientId: 0, round: 0, step, batch: 16, z: z.dataSync() as Float32Array, gm: Float32Array.from({ length: 16 * gmSize }, () => r.normal()) };
    tf.dispose([x, z]);
    return batch;
  });
  head.dispose();
  return {
    attack: AttackConfigSchema.parse({
      method: 'spadv', aux: { size: 16, holdout: 60 }, objectives: ['observe', 'infomax'], shadow: { steps: 2, batchSize: 8 },
      surrogate: { steps: 2, batchSize: 8 }, craft: ['pgd', 'feature'], epsilons: [0.05, 0.1], steps: 2, evalSamples: 12, evalSlice: 'all',
    }),
    seed: 3, trainingBatchSize: 16, split: s, train, test: images(12),
    heldOut: Array.from({ length: 60 }, (_, i) => i), middle: [...s.init.middle], observed,
    targets: [{ label: 'global model', clientIds: [0, 1], headTail: [...s.init.head, ...s.init.tail] }],
    partitions: [Array.from({ length: 30 }, (_, i) => 60 + i), Array.from({ length: 30 }, (_, i) => 90 + i)],
  };
}

describe('runSpadv', () => {
  let report: AttackReport;
  beforeAll(async () => {
    // wasm as in the apps (single-threaded, splitfleet's kernels): cnn-small's backward is slow on cpu
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    registerSplitfleetKernels();
    report = await runSpadv(tinyRun());
  });

  it('frees every tensor it creates (models, shadows, surrogate, crafts)', async () => {
    const inputs = tinyRun();
    const before = tf.memory().numTensors;
    await runSpadv(inputs);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('produces a report that AttackReportSchema accepts, in memory and as written to results.json', () => {
    expect(report.objectives.map((o) => o.objective)).toEqual(['observe', 'infomax']);
    expect(report.perClient.map((c) => c.id)).toEqual([0, 1]);
    expect(AttackReportSchema.parse(report)).toEqual(report);
    expect(AttackReportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it('per-class perturbation sizes add up to each cell’s (what per-client rows re-weight)', () => {
    const cells = report.objectives.flatMap((o) => o.targets.flatMap((t) => t.suite.cells));
    expect(cells.length).toBeGreaterThan(0);
    for (const c of cells) {
      expect(c.perClass.l2Sum.reduce((a, b) => a + b, 0) / c.evaluated).toBeCloseTo(c.l2Mean, 9);
      expect(Math.max(...c.perClass.linfMax)).toBe(c.linfMax);
    }
    for (const row of report.perClient) expect(row.linfMax).toBeLessThanOrEqual(report.aggregate.linfMax);
  });

  it('a report written before the per-client shadow fields existed still reads, as one fleet shadow with nothing measured', () => {
    const old = JSON.parse(JSON.stringify(report));
    for (const row of old.perClient) for (const k of ['shadow', 'scope', 'shadowAgreement', 'labelInferenceAccuracy', 'whiteboxAsr', 'ratioToWhitebox', 'headDistance']) delete row[k];
    delete old.aggregate.overClients;
    delete old.observedBytes;
    for (const o of old.objectives) {
      delete o.shadows;
      for (const t of o.targets) {
        delete t.shadow;
        delete t.suite.shadow.middleCosine;
      }
    }
    const read = AttackReportSchema.parse(old);
    expect(read.perClient[0]).toMatchObject({ shadow: 'fleet', scope: 'fleet', whiteboxAsr: null, ratioToWhitebox: null, headDistance: null });
    expect(read.objectives[0]!.shadows).toEqual([]);
    expect(read.observedBytes).toBeNull();
  });

  it('AttackReportSchema rejects a field the report does not define', () => {
    const extra = { ...report, aggregate: { ...report.aggregate, bogus: 1 } };
    expect(AttackReportSchema.safeParse(extra).success).toBe(false);
  });

  it('attacks with D_aux from another data set (attack.aux.source: dataset): the report names the source and gives no Hellinger distance to client labels', async () => {
    const base = tinyRun();
    // the attacker's set: another "data set" of 40 flat grey images
    const n = 40;
    const ood: ImageSet = {
      images: Float32Array.from({ length: n * 784 }, (_, i) => 0.25 + Math.floor(i / 784) / 1000), labels: new Int32Array(n), count: n, shape: [28, 28, 1], classes: 10,
    };
    const attack = AttackConfigSchema.parse({ ...base.attack, aux: { size: 16, holdout: 60, source: 'dataset', dataset: { name: 'mnist' } }, objectives: ['observe'], baselines: ['noise'] });
    const r = await runSpadv({ ...base, attack, auxImages: ood });
    expect(AttackReportSchema.safeParse(JSON.parse(JSON.stringify(r))).success).toBe(true);
    expect(r.aux).toEqual({ size: 16, classShare: [], source: 'dataset mnist, 40 images, uniform draw' });
    expect(r.perClient.every((c) => c.hellingerToAux === null)).toBe(true);
    await expect(runSpadv({ ...base, attack })).rejects.toThrow(/passed no auxImages/);
  });

  it('attacks with a head-only shadow (attack.shadow.tail none): no shadow agreement, a random head as its baseline, every tensor freed', async () => {
    const base = tinyRun();
    const attack = AttackConfigSchema.parse({
      ...base.attack, objectives: ['observe', 'match-middle'], shadow: { steps: 2, batchSize: 8, architecture: 'single', tail: 'none' },
      craft: ['middle-l2', 'middle-cosine'], baselines: ['whitebox', 'random-shadow', 'noise'], evalSlice: 'eval', evalSamples: 4,
    });
    const before = tf.memory().numTensors;
    const r = await runSpadv({ ...base, attack });
    expect(tf.memory().numTensors).toBe(before);
    expect(AttackReportSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(r.primary.method).toBe('spadv-middle-l2');
    const suite = r.objectives[0]!.targets[0]!.suite;
    expect(suite.shadow.agreement).toBeNull();
    expect(suite.shadow.middleCosine).toEqual(expect.any(Number));
    expect(new Set(suite.cells.map((c) => c.method))).toEqual(new Set(['spadv-middle-l2', 'spadv-middle-cosine', 'whitebox-pgd', 'random-shadow-head', 'noise']));
    expect(r.baselines.randomShadow?.method).toBe('random-shadow-head');
    // the evaluation slice: the second half of the 12 test images, the first 4 of it
    expect(suite.cleanAccuracy * 4).toBeCloseTo(suite.evaluated, 9);
    expect(r.evaluation).toEqual({ slice: 'eval', first: 6, count: 4 });
    expect(suite.cells.every((c) => c.outcomes.length === 4)).toBe(true);
  });

  it('a targeted attack maps classes from the attacker\'s labelled D_aux images, never from the attacked images; the oracle map is marked', async () => {
    const base = tinyRun();
    const attack = AttackConfigSchema.parse({ ...base.attack, objectives: ['observe'], craft: ['pgd'], baselines: ['whitebox'], epsilons: [0.1], target: 'next', targetMap: { samples: 8 } });
    const first = await runSpadv({ ...base, attack });
    // the same run with the attacked images' labels shuffled: a map that read them would move
    const r = Rng.fromSeed(17);
    const shuffled = Int32Array.from(base.test.labels, () => r.int(10));
    const second = await runSpadv({ ...base, attack, test: { ...base.test, labels: shuffled } });
    const map = first.objectives[0]!.shadows[0]!.targetMap;
    expect(map).toHaveLength(10);
    expect([...map!].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // a relabelling
    expect(second.objectives[0]!.shadows[0]!.targetMap).toEqual(map);
    expect(first.primary.oracleTargetMap).toBe(false);
    const oracle = await runSpadv({ ...base, attack: { ...attack, targetMap: { source: 'oracle', samples: 8 } } });
    expect(oracle.primary.oracleTargetMap).toBe(true);
    expect(oracle.objectives[0]!.shadows[0]!.targetMap).toBeNull();
  });

  it('the labelled baselines train with labels — a whole model on D_aux or the held-out pool, or ĥ and t̂ around the real middle — and report their clean accuracy (boosted by momentum and input diversity, on wasm)', async () => {
    const base = tinyRun();
    const attack = AttackConfigSchema.parse({ ...base.attack, objectives: ['observe'], craft: ['pgd'], baselines: ['transfer', 'transfer-pool', 'labelled-shadow'], epsilons: [0.1], momentum: 0.5, diversity: { probability: 0.5 } });
    const before = tf.memory().numTensors;
    const r = await runSpadv({ ...base, attack });
    expect(tf.memory().numTensors).toBe(before); // the real middle is shared, not disposed twice nor leaked
    expect(r.labelledBaselines.map((b) => [b.baseline, b.samples])).toEqual([['transfer', 16], ['transfer-pool', 60], ['labelled-shadow', 16]]);
    for (const b of r.labelledBaselines) expect(b.cleanAccuracy).toBeGreaterThanOrEqual(0);
    const methods = r.objectives[0]!.targets[0]!.suite.cells.map((c) => c.method);
    expect(methods).toEqual(expect.arrayContaining(['transfer-pgd', 'transfer-pool-pgd', 'labelled-shadow-pgd']));
    expect(r.baselines.transferPool?.method).toBe('transfer-pool-pgd');
    expect(r.baselines.labelledShadow?.method).toBe('labelled-shadow-pgd');
  });

  it('the white-box upper bound is the per-sample worst case of PGD-CE, PGD on the margin loss and APGD-CE, and the ratio divides by it', async () => {
    const base = tinyRun();
    const attack = AttackConfigSchema.parse({
      ...base.attack, objectives: ['observe'], craft: ['pgd'], baselines: ['whitebox', 'whitebox-cw', 'whitebox-apgd', 'whitebox-worst'], epsilons: [0.1],
    });
    const r = await runSpadv({ ...base, attack });
    const cells = r.objectives[0]!.targets[0]!.suite.cells;
    const rate = (m: string) => cells.find((c) => c.method === m)!.successRate;
    const parts = ['whitebox-pgd', 'whitebox-cw', 'whitebox-apgd'].map(rate);
    expect(rate('whitebox-worst')).toBeGreaterThanOrEqual(Math.max(...parts));
    expect(rate('whitebox-worst')).toBeLessThanOrEqual(Math.min(1, parts.reduce((a, b) => a + b, 0)) + 1e-12);
    expect(r.baselines.whiteBox?.method).toBe('whitebox-worst');
    if (rate('whitebox-worst') > 0) expect(r.relativeToWhitebox).toBeCloseTo(r.aggregate.asr / rate('whitebox-worst'), 12);
    expect(cells.find((c) => c.method === 'whitebox-worst')!.linfMax).toBeLessThanOrEqual(0.1 + 1e-6);
    // per-image outcomes: every method attacked the same images; the worst case succeeds exactly where a component did
    const outcomes = (m: string) => cells.find((c) => c.method === m)!.outcomes;
    const suite = r.objectives[0]!.targets[0]!.suite;
    for (const c of cells) {
      expect(c.outcomes).toHaveLength(Math.round(suite.evaluated / suite.cleanAccuracy));
      expect([...c.outcomes].map((ch) => ch === '-')).toEqual([...outcomes('spadv-pgd')].map((ch) => ch === '-'));
      expect([...c.outcomes].filter((ch) => ch === '1').length).toBe(Math.round(c.successRate * c.evaluated));
      expect(c.successRateAll).toBeCloseTo(1 - c.robustAccuracy, 12);
    }
    const anyComponent = [...outcomes('whitebox-worst')].map((_, i) => {
      const marks = ['whitebox-pgd', 'whitebox-cw', 'whitebox-apgd'].map((m) => outcomes(m)[i]);
      return marks[0] === '-' ? '-' : marks.includes('1') ? '1' : '0';
    });
    expect(outcomes('whitebox-worst')).toBe(anyComponent.join(''));
  });
});
