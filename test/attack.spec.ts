import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/run.ts';
import type { AttackReport } from '../apps/server/src/attack-run.ts';
import { testConfig } from './helpers.ts';

describe('SPADV end to end', () => {
  it('a server that only recorded smashed data and gradients fools the clients’ real model far beyond a random shadow', async () => {
    const cfg = testConfig({
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
    const { results } = await runExperiment(cfg, { outDir: join(mkdtempSync(join(tmpdir(), 'sf-atk-')), 'run'), fleet: 'workers' });
    const a = results.attack as AttackReport;
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
    for (const c of cells) expect(c.maxPerturbation).toBeLessThanOrEqual(0.1 + 1e-6);
  });
});
