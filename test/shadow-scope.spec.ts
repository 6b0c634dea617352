import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { attackFinishedRun } from '../apps/server/src/experiment/reattack.ts';
import { parseConfig, type Config } from '../apps/server/src/experiment/config.ts';
import { AttackReportSchema, type AttackReport } from '@splitfleet/attack';
import { testConfig } from './helpers.ts';

/**
 * Issue #19: a server knows which client sent each batch. In `local` mode two clients with very
 * different labels end with different heads and tails; one shadow for the fleet serves one of them
 * badly, a shadow per client trained from that client's own observations serves both.
 */
describe('per-client shadows on a fleet whose clients differ', () => {
  let cfg: Config;
  let runDir: string;
  let own: AttackReport;
  beforeAll(async () => {
    cfg = testConfig({
      seed: 5,
      fleet: { clients: 2, workers: 2 },
      partition: { kind: 'dirichlet', alpha: 0.1 },
      training: { mode: 'local', rounds: 2, batchSize: 32, maxStepsPerRound: 25 },
      data: { testSamples: 200 },
      attack: {
        method: 'spadv', objective: 'observe', aux: { size: 128, alpha: 0.5, holdout: 600 }, observe: { batches: 24 },
        shadow: { steps: 150 }, craft: ['pgd'], epsilon: 0.1, steps: 10, evalSamples: 150, baselines: ['whitebox'], minClientSamples: 32,
        // the server keeps a ring per client; the fleet shadow uses the last 24 batches of both
        shadowScope: 'client',
      },
    });
    runDir = join(mkdtempSync(join(tmpdir(), 'sf-scope-')), 'run');
    own = (await runExperiment(cfg, { outDir: runDir, fleet: 'workers' })).results.attack as AttackReport;
  });

  it('client scope attacks the fleet shadow’s worse-served client better, with that client’s own shadow', async () => {
    const fleet = await attackFinishedRun(runDir, parseConfig({ ...cfg, attack: { ...cfg.attack, shadowScope: 'fleet' } }));
    expect(AttackReportSchema.parse(JSON.parse(JSON.stringify(own)))).toBeTruthy();
    expect(fleet.observedSamples).toBeLessThanOrEqual(24 * 32);
    expect(own.observedSamples).toBeGreaterThan(fleet.observedSamples);
    expect(fleet.perClient.map((c) => c.shadow)).toEqual(['fleet', 'fleet']);
    expect(own.perClient.map((c) => [c.id, c.shadow, c.scope])).toEqual([[0, 'client 0', 'client'], [1, 'client 1', 'client']]);
    // the two heads differ (local mode), and each shadow saw only its own client's batches
    for (const c of own.perClient) expect(c.headDistance).toBeGreaterThan(0);
    expect(own.objectives[0]!.shadows.map((s) => s.clientIds)).toEqual([[0], [1]]);
    const worse = [...fleet.perClient].sort((a, b) => a.ratioToWhitebox! - b.ratioToWhitebox!)[0]!;
    const mine = own.perClient.find((c) => c.id === worse.id)!;
    expect(mine.ratioToWhitebox!).toBeGreaterThan(worse.ratioToWhitebox! + 0.05);
    expect(own.aggregate.overClients.ratioToWhitebox!.min).toBeGreaterThan(fleet.aggregate.overClients.ratioToWhitebox!.min);
  });
});
