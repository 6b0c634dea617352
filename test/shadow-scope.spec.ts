import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { attackFinishedRun } from '../apps/server/src/experiment/reattack.ts';
import { parseConfig, type Config, type ConfigInput } from '../apps/server/src/experiment/config.ts';
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
    // memory per shadow: its own ring (the two rings together are what the server held) and its weights
    const sh = own.objectives[0]!.shadows;
    expect(sh[0]!.observedBytes + sh[1]!.observedBytes).toBe(own.observedBytes);
    for (const s of sh) expect(s.weightBytes).toBeGreaterThan(0);
    expect(fleet.objectives[0]!.shadows[0]!.weightBytes).toBe(sh[0]!.weightBytes);
    const worse = [...fleet.perClient].sort((a, b) => a.ratioToWhitebox! - b.ratioToWhitebox!)[0]!;
    const mine = own.perClient.find((c) => c.id === worse.id)!;
    expect(mine.ratioToWhitebox!).toBeGreaterThan(worse.ratioToWhitebox! + 0.05);
    expect(own.aggregate.overClients.ratioToWhitebox!.min).toBeGreaterThan(fleet.aggregate.overClients.ratioToWhitebox!.min);
  });
});

/**
 * The model each client holds when training ends is what its row attacks: in `sequential` every
 * client keeps the copy it handed on (they differ; the last one is the shared model), in `sflv1`
 * every client received the averaged model — one target, still attacked with each client's own shadow.
 */
describe('per-client targets in the modes that hand the model on or average it', () => {
  const attack: ConfigInput['attack'] = {
    method: 'spadv', objective: 'observe', aux: { size: 64, holdout: 300 }, observe: { batches: 8 }, shadow: { steps: 10 },
    craft: ['pgd'], epsilon: 0.1, steps: 3, evalSamples: 20, baselines: ['whitebox'], minClientSamples: 8, shadowScope: 'client',
  };

  it('sequential: one target per client, each with the head and tail it kept after its own turn', async () => {
    const cfg = testConfig({ fleet: { clients: 3, workers: 2 }, training: { mode: 'sequential', rounds: 1, maxStepsPerRound: 4 }, attack });
    const out = await runExperiment(cfg, { outDir: join(mkdtempSync(join(tmpdir(), 'sf-seq-')), 'run'), fleet: 'workers' });
    const rep = out.results.attack as AttackReport;
    expect(rep.objectives[0]!.targets.map((t) => [t.label, t.clientIds, t.shadow])).toEqual([
      ['client 0', [0], 'client 0'], ['client 1', [1], 'client 1'], ['client 2', [2], 'client 2'],
    ]);
    // the clients trained one after another from the previous one's model: their heads all differ
    const dist = rep.perClient.map((c) => c.headDistance!);
    expect(new Set(dist).size).toBe(3);
    for (const d of dist) expect(d).toBeGreaterThan(0);
  });

  it('sflv1: every client holds the averaged model, attacked once per client with that client’s shadow', async () => {
    const cfg = testConfig({ fleet: { clients: 2, workers: 2 }, training: { mode: 'sflv1', rounds: 1, maxStepsPerRound: 4 }, attack });
    const out = await runExperiment(cfg, { outDir: join(mkdtempSync(join(tmpdir(), 'sf-v1-')), 'run'), fleet: 'workers' });
    const rep = out.results.attack as AttackReport;
    expect(rep.objectives[0]!.targets.map((t) => [t.label, t.clientIds, t.shadow])).toEqual([
      ['global model', [0], 'client 0'], ['global model', [1], 'client 1'],
    ]);
    expect(rep.perClient.map((c) => [c.id, c.shadow, c.headDistance])).toEqual([[0, 'client 0', 0], [1, 'client 1', 0]]);
  });
});
