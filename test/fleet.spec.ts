import { describe, expect, it } from 'vitest';
import { partition } from '@splitfleet/splitcore';
import { readDataset } from '@splitfleet/client-sim';
import { startHarness, tensorCountsPerRound, testConfig } from './helpers.ts';

describe('a fleet of worker clients', () => {
  it('learns: 4 clients in splitfed reach ≥ 65% test accuracy on the subset in 2 short rounds', async () => {
    const cfg = testConfig({
      fleet: { clients: 4, workers: 2 },
      training: { mode: 'splitfed', rounds: 2, batchSize: 32, maxStepsPerRound: 30 },
      data: { testSamples: 1000 },
    });
    const h = await startHarness(cfg);
    await h.server.waitForClients();
    const r0 = await h.server.runRound(0);
    const r1 = await h.server.runRound(1);
    await h.close();
    expect(r0.participants).toEqual([0, 1, 2, 3]);
    expect(r1.testLoss).toBeLessThan(r0.testLoss);
    expect(r1.testAccuracy).toBeGreaterThanOrEqual(0.65);
    // splitfed: every client holds the averaged model, so each reports the global accuracy
    for (const c of r1.clients) expect(c.testAccuracy).toBeCloseTo(r1.testAccuracy, 10);
  });

  it.each(['sequential', 'local'] as const)('trains in %s mode and reports per-client accuracy', async (mode) => {
    const cfg = testConfig({ fleet: { clients: 2, workers: 2 }, training: { mode, rounds: 1, batchSize: 32, maxStepsPerRound: 8 } });
    const h = await startHarness(cfg);
    await h.server.waitForClients();
    const r = await h.server.runRound(0);
    await h.close();
    expect(r.participants).toEqual([0, 1]);
    expect(r.clients.every((c) => c.testAccuracy !== null && c.testAccuracy > 0.15)).toBe(true);
    // local: each client keeps its own head and tail, so their models (and test losses) differ
    if (mode === 'local') expect(r.clients[0]!.testLoss).not.toBe(r.clients[1]!.testLoss);
    else expect(r.clients[0]!.testLoss).toBe(r.clients[1]!.testLoss);
  });

  it('is deterministic: the same seed gives identical partitions, batch order and weights (wasm)', async () => {
    const once = async () => {
      const cfg = testConfig({ fleet: { clients: 3, workers: 2 }, training: { rounds: 1, maxStepsPerRound: 3 } });
      const h = await startHarness(cfg);
      await h.server.waitForClients();
      const r = await h.server.runRound(0);
      const out = {
        middle: (await h.server.middleWeights()).map((w) => Array.from(w.values)),
        clients: [0, 1, 2].map((i) => h.server.clientWeights(i)!.map((w) => Array.from(w.values))),
        loss: r.trainLoss,
        acc: r.testAccuracy,
      };
      await h.close();
      return out;
    };
    const a = await once();
    const b = await once();
    expect(b).toEqual(a);
    const labels = readDataset('fashion-mnist', null).train.labels;
    expect(partition({ kind: 'dirichlet', alpha: 0.3, minSize: 5 }, labels, 5, 9)).toEqual(partition({ kind: 'dirichlet', alpha: 0.3, minSize: 5 }, labels, 5, 9));
  });

  it('keeps memory flat: tensor counts on the server and the clients are equal after round 2 and round 5', async () => {
    const { server, clients } = await tensorCountsPerRound(testConfig({ fleet: { clients: 2, workers: 1 }, training: { rounds: 5, maxStepsPerRound: 2 } }));
    expect(server[4]).toBe(server[1]);
    expect(clients[4]).toEqual(clients[1]);
  });
});
