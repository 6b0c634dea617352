import { describe, expect, it } from 'vitest';
import { TRAINING_MODES, stateShapes, type WeightArray } from '@splitfleet/splitcore';
import { maxAbsDiff, startHarness, tensorCountsPerRound, testConfig } from './helpers.ts';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';
import { readDataset } from '@splitfleet/client-sim';

/** cnn-bn: batch norms in the head (bn1) and the middle (bn2), dropout in the middle. */
const BN_MODEL = { name: 'cnn-bn' } as const;
const runningStats = (weights: readonly WeightArray[]) => weights.filter((w) => /running(Mean|Var)$/.test(w.name));

describe('models with batch norm and dropout in a fleet', () => {
  it.each(TRAINING_MODES)('%s trains cnn-bn: the round completes, and the head\'s and the middle\'s running statistics move and stay finite', async (mode) => {
    const cfg = testConfig({ model: BN_MODEL, fleet: { clients: 2, workers: 1 }, training: { mode, rounds: 1, maxStepsPerRound: 3 } });
    const init = setupExperiment(cfg, readDataset(cfg.data.name, cfg.data.dir)).split.init;
    const h = await startHarness(cfg);
    await h.server.waitForClients();
    const r = await h.server.runRound(0);
    expect(r.participants).toEqual([0, 1]);
    expect(r.testAccuracy).toBeGreaterThan(0);
    const middle = runningStats(await h.server.middleWeights());
    // local and sflv… modes keep per-client heads; the shared ones one global head/tail
    const heads = mode === 'local' ? [0, 1].map((id) => h.server.clientWeights(id)!) : [h.server.globalWeights];
    await h.close();
    expect(middle.map((w) => w.name)).toEqual(['bn2/runningMean', 'bn2/runningVar']);
    expect(maxAbsDiff(middle[1]!.values, runningStats(init.middle)[1]!.values)).toBeGreaterThan(1e-3);
    for (const head of heads) {
      const stats = runningStats(head);
      expect(stats.map((w) => w.name)).toEqual(['bn1/runningMean', 'bn1/runningVar']);
      expect(maxAbsDiff(stats[0]!.values, runningStats(init.head)[0]!.values)).toBeGreaterThan(1e-4);
      for (const w of head) expect(w.values.every(Number.isFinite), w.name).toBe(true);
    }
  });

  it('is deterministic: the same seed gives the same weights and running statistics, dropout masks included (splitfed, 2 clients)', async () => {
    const once = async () => {
      const cfg = testConfig({ model: BN_MODEL, fleet: { clients: 2, workers: 2 }, training: { mode: 'splitfed', rounds: 2, maxStepsPerRound: 3 } });
      const h = await startHarness(cfg);
      await h.server.waitForClients();
      for (let r = 0; r < 2; r++) await h.server.runRound(r);
      const out = [...(await h.server.middleWeights()), ...h.server.globalWeights];
      await h.close();
      return out;
    };
    const [a, b] = [await once(), await once()];
    expect(a.map((w) => w.name)).toEqual(b.map((w) => w.name));
    a.forEach((w, i) => expect(Array.from(b[i]!.values), w.name).toEqual(Array.from(w.values)));
  });

  it('keeps memory flat with a ResNet: tensor counts on the server and the clients equal after round 2 and round 4', async () => {
    const cfg = testConfig({ model: { name: 'resnet-8', cut: 'stage1' }, fleet: { clients: 2, workers: 1 }, training: { rounds: 4, maxStepsPerRound: 2 } });
    // a middle of residual blocks: each with parameters and running statistics of three norms
    expect(stateShapes(setupExperiment(cfg, readDataset(cfg.data.name, cfg.data.dir)).split.middle).length).toBeGreaterThan(10);
    const { server, clients } = await tensorCountsPerRound(cfg);
    expect(server[3]).toBe(server[1]);
    expect(clients[3]).toEqual(clients[1]);
  });
});
