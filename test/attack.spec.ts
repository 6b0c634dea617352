import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { attackFinishedRun } from '../apps/server/src/experiment/reattack.ts';
import { parseConfig, type Config } from '../apps/server/src/experiment/config.ts';
import { testConfig } from './helpers.ts';
import * as tf from '@tensorflow/tfjs-core';
import { cnnSmall, PartModel, Rng, split } from '@splitfleet/splitcore';
import { AttackReportSchema, intermediateAttack, noise, pgd, trainShadow, type AttackReport } from '@splitfleet/attack';
import { initBackend } from '@splitfleet/client-sim';

describe('SPADV end to end', () => {
  // one training run (4 clients, 2 rounds on the committed subset) that both tests attack
  let cfg: Config;
  let runDir: string;
  let a: AttackReport;
  beforeAll(async () => {
    cfg = testConfig({
      seed: 42,
      fleet: { clients: 4, workers: 2 },
      training: { mode: 'splitfed', rounds: 2, batchSize: 32, maxStepsPerRound: 25 },
      data: { testSamples: 200 },
      attack: {
        method: 'spadv', objective: 'observe', aux: { size: 128, alpha: 0.5, holdout: 600 },
        observe: { batches: 24 }, shadow: { steps: 150 }, craft: ['pgd'], epsilon: 0.1, steps: 10,
        evalSamples: 150, baselines: ['whitebox', 'random-shadow', 'noise'],
      },
    });
    runDir = join(mkdtempSync(join(tmpdir(), 'sf-atk-')), 'run');
    const { results } = await runExperiment(cfg, { outDir: runDir, fleet: 'workers' });
    a = results.attack as AttackReport;
  });

  it('a server that only recorded smashed data and gradients fools the clients’ real model far beyond a random shadow', () => {
    const o = a.objectives[0]!;
    const cells = o.targets[0]!.suite.cells;
    const rate = (m: string) => cells.find((c) => c.method === m)!.successRate;
    // the attacker's data came from the held-out pool and the observations from training
    expect(a.aux.size).toBe(128);
    expect(a.observedSamples).toBeGreaterThan(300);
    expect(o.labelInferenceAccuracy).toBeGreaterThan(0.6);
    expect(rate('spadv-pgd')).toBeGreaterThan(2 * rate('random-shadow-pgd'));
    expect(rate('spadv-pgd')).toBeGreaterThan(rate('noise') + 0.1);
    expect(rate('whitebox-pgd')).toBeGreaterThanOrEqual(rate('spadv-pgd'));
    for (const c of cells) {
      expect(c.linfMax).toBeLessThanOrEqual(0.1 + 1e-6);
      expect(c.robustAccuracy).toBeCloseTo(c.cleanAccuracy * (1 - c.successRate), 6);
    }
    // the results schema researchers read: per client, aggregate, baselines, config
    expect(a.perClient.map((c) => c.id).sort()).toEqual([0, 1, 2, 3]);
    for (const c of a.perClient) {
      expect(c.hellingerToAux).toBeGreaterThan(0);
      expect(c.asr).toBeGreaterThan(0);
      expect(c.robustAccuracy).toBeLessThan(c.cleanAccuracy);
      expect(c.linfMax).toBeLessThanOrEqual(0.1 + 1e-6);
    }
    expect(a.aggregate.asr).toBeCloseTo(rate('spadv-pgd'), 9);
    expect(a.baselines.whiteBox!.asr).toBeCloseTo(rate('whitebox-pgd'), 9);
    expect(a.baselines.randomNoise!.asr).toBeCloseTo(rate('noise'), 9);
    expect(a.baselines.transfer).toBeNull(); // not asked for in this config
    expect(a.config.epsilon).toBe(0.1);
    expect(a.relativeToWhitebox).toBeCloseTo(rate('spadv-pgd') / rate('whitebox-pgd'), 9);
    // what results.json holds validates against the report's schema
    const written = JSON.parse(JSON.stringify(a));
    expect(AttackReportSchema.parse(written)).toEqual(written);
  });

  it('the SPADV authors’ setting — MNIST digits as D_aux, a head-only `single` shadow, no tail — beats random noise and a random shadow head on the same run', async () => {
    const attack = {
      ...cfg.attack, aux: { ...cfg.attack.aux, source: 'dataset', dataset: { name: 'mnist', dir: null }, size: 256 }, objectives: ['observe', 'match-middle'],
      shadow: { ...cfg.attack.shadow, architecture: 'single', tail: 'none' }, craft: ['middle-l2'], baselines: ['random-shadow', 'noise'],
    };
    const r = await attackFinishedRun(runDir, parseConfig({ ...cfg, attack }));
    expect(r.aux.source).toMatch(/^dataset mnist/);
    // baselines run once, with the first objective; each reading of the head-only shadow must beat them
    const rate = (oi: number, m: string) => r.objectives[oi]!.targets[0]!.suite.cells.find((c) => c.method === m)?.successRate ?? NaN;
    for (const [oi, o] of r.objectives.entries()) {
      expect(o.targets[0]!.suite.shadow.agreement).toBeNull();
      expect(rate(oi, 'spadv-middle-l2')).toBeGreaterThan(rate(0, 'noise') + 0.05);
      expect(rate(oi, 'spadv-middle-l2')).toBeGreaterThan(rate(0, 'random-shadow-head') + 0.05);
    }
  });
});

describe('SPADV is deterministic on the wasm backend', () => {
  it('same seed ⇒ byte-identical shadow and x_adv for every craft; another seed ⇒ different x_adv', async () => {
    await initBackend('wasm');
    const s = split(cnnSmall, cnnSmall.defaultCut, 7);
    const middle = new PartModel(s.middle, s.init.middle);
    const r = Rng.fromSeed(11);
    const auxX = Float32Array.from({ length: 32 * 784 }, () => r.float());
    const x = tf.tensor(auxX.slice(0, 6 * 784), [6, 28, 28, 1]);
    const craftAll = async (seed: number) => {
      const sh = await trainShadow({ objective: 'infomax', architecture: 'same', middle, headSpec: s.head, tailSpec: s.tail, classes: 10, aux: { x: auxX, n: 32 }, observed: null, steps: 5, lr: 0.003, batchSize: 16, seed });
      const m = { head: sh.head, middle, tail: sh.tail! };
      const labels = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
      const o = { epsilon: 0.1, steps: 3, rng: Rng.fromSeed(seed), randomStart: true, restarts: 2, momentum: 0.5 };
      const advs = [pgd(m, x, labels, 10, o), intermediateAttack(m, x, labels, 10, { ...o, variant: 'feature' }), noise(x, 0.1, Rng.fromSeed(seed))];
      const out = await Promise.all(advs.map(async (t) => Buffer.from((await t.data() as Float32Array).buffer)));
      tf.dispose([...advs, labels]);
      sh.dispose();
      return out;
    };
    const a = await craftAll(3);
    const b = await craftAll(3);
    const c = await craftAll(4);
    a.forEach((buf, i) => expect(buf.equals(b[i]!)).toBe(true));
    a.forEach((buf, i) => expect(buf.equals(c[i]!)).toBe(false));
    tf.dispose([x]);
    middle.dispose();
  });
});
