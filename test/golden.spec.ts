import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { cnnSmall, predictTraffic, split } from '@splitfleet/splitcore';
import { testConfig } from './helpers.ts';

/**
 * Behaviour is preserved across refactors: each training mode runs on the committed subset and every
 * round's numbers (and, for splitfed, the attack table) must equal the values recorded in
 * test/golden/*.json. Timings are left out (they are measured, not computed), and so is the
 * attack report's `tool` (the commit that made it changes with every commit).
 * Re-record deliberately with GOLDEN_UPDATE=1 and say why in the commit.
 */
const VOLATILE_KEYS = new Set(['wallSeconds', 'computeSeconds', 'simulatedSeconds', 'seconds', 'shadowSeconds', 'tool']);

function stripTimings(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripTimings);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE_KEYS.has(k)).map(([k, x]) => [k, stripTimings(x)]));
}

const ATTACK = {
  method: 'spadv', objective: 'observe', aux: { size: 64, alpha: 0.5, holdout: 400 },
  observe: { batches: 8 }, shadow: { steps: 20 }, surrogate: { steps: 20 }, craft: ['pgd', 'feature'], epsilon: 0.1, steps: 4,
  evalSamples: 40, evalSlice: 'all', baselines: ['whitebox', 'random-shadow', 'transfer', 'noise'],
} as const;

const CASES = [
  { mode: 'splitfed', attack: ATTACK },
  { mode: 'sequential', attack: { method: 'none' } },
  { mode: 'local', attack: { method: 'none' } },
] as const;

describe('golden: results of every training mode are unchanged', () => {
  it.each(CASES)('$mode: every round and the attack table equal the recorded values', async ({ mode, attack }) => {
    const cfg = testConfig({
      seed: 11,
      partition: { kind: 'dirichlet', alpha: 0.5, minSize: 10 },
      fleet: { clients: 3, workers: 2 },
      training: { mode, rounds: 2, batchSize: 16, maxStepsPerRound: 4 },
      data: { testSamples: 100 },
      server: { dashboard: false },
      attack: attack as never,
    });
    const { results } = await runExperiment(cfg, { outDir: join(mkdtempSync(join(tmpdir(), 'sf-golden-')), 'run'), fleet: 'workers' });
    const got = stripTimings({ rounds: results.rounds, attack: results.attack ?? null });
    const file = join(import.meta.dirname, 'golden', `${mode}.json`);
    if (process.env.GOLDEN_UPDATE === '1' || !existsSync(file)) writeFileSync(file, `${JSON.stringify(got, null, 1)}\n`);
    expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    // the deadline's traffic prediction is what the server then counts (full batches of 16 here)
    const s = split(cnnSmall, cnnSmall.defaultCut, cfg.seed);
    for (const c of results.rounds.flatMap((r) => r.clients))
      expect(predictTraffic({ smashed: s.middle.inputShape, middleOut: s.middle.outputShape }, 16, c.steps).bytesUp).toBe(c.bytesUp);
  });
});
