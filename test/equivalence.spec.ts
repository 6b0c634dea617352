import { describe, expect, it } from 'vitest';
import {
  batchOrder, composedStep, disposeOptimizer, gather, makeOptimizer, partition, PartModel, split, type OptimizerConfig,
} from '@splitfleet/splitcore';
import { readDataset } from '@splitfleet/client-sim';
import { maxAbsDiff, startHarness, testConfig, tf } from './helpers.ts';
import { resolvePartition } from '../apps/server/src/experiment/config.ts';
import { resolveModel } from '../apps/server/src/experiment/model-config.ts';

const STEPS = 10;

describe('split training over a real socket.io connection computes ordinary training', () => {
  const optimizers: [string, OptimizerConfig, number][] = [
    ['SGD with momentum', { name: 'sgd', lr: 0.05, momentum: 0.9 }, 1e-5],
    ['Adam', { name: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, 1e-4],
  ];
  // the plain CNN, and a ResNet whose head, middle and tail all hold batch norms (stem, residual
  // blocks): their running statistics are part of what must match
  const MODELS = [
    ['cnn-small', { name: 'cnn-small' }],
    ['resnet-8 (BN, residual)', { name: 'resnet-8', cut: 'stage1' }],
  ] as const;
  // with one client every mode is ordinary training: sflv1's per-client middle copy is the middle,
  // sflv2's seeded order has one client, and averaging one client's weights returns them
  const cases = MODELS.flatMap(([label, model]) =>
    (['sequential', 'sflv1', 'sflv2'] as const).flatMap((mode) => optimizers.map(([name, o, tol]) => [label, mode, name, model, o, tol] as const)),
  );
  it.each(cases)('%s, %s, %s: head, middle, tail and running statistics after 10 batches equal the composed model trained in one process', async (_label, mode, _name, model, optimizer, tol) => {
    const cfg = testConfig({
      model,
      fleet: { clients: 1, workers: 1 },
      training: { mode, rounds: 1, batchSize: 16, maxStepsPerRound: STEPS, optimizer },
    });
    // Split: server here, client in a worker_thread, wasm on both sides.
    const h = await startHarness(cfg);
    await h.server.waitForClients();
    const r = await h.server.runRound(0);
    expect(r.participants).toEqual([0]);
    expect(r.clients[0]!.steps).toBe(STEPS);
    const middle = await h.server.middleWeights();
    const headTail = h.server.globalWeights;
    await h.close();

    // Reference: the composed model, same initial weights, same batches, one optimiser.
    const data = readDataset(cfg.data.name, cfg.data.dir);
    const { spec, cut } = resolveModel(cfg);
    const parts = split(spec, cut, cfg.seed);
    const models = [
      new PartModel(parts.head, parts.init.head),
      new PartModel(parts.middle, parts.init.middle),
      new PartModel(parts.tail, parts.init.tail),
    ];
    const opt = makeOptimizer(optimizer);
    const order = batchOrder(cfg.seed, 0, 0, partition(resolvePartition(cfg), data.train.labels, 1, cfg.seed)[0]!);
    for (let s = 0; s < STEPS; s++) {
      const { x, y } = gather(data.train, order.slice(s * 16, (s + 1) * 16));
      const xt = tf.tensor4d(x, [16, 28, 28, 1]);
      const yt = tf.tensor1d(y, 'int32');
      await composedStep(models, opt, xt, yt, 10);
      xt.dispose();
      yt.dispose();
    }
    const ref = await Promise.all(models.map((m) => m.getWeights()));
    const refHeadTail = [...ref[0]!, ...ref[2]!];
    let worst = 0;
    middle.forEach((w, i) => (worst = Math.max(worst, maxAbsDiff(w.values, ref[1]![i]!.values))));
    headTail.forEach((w, i) => (worst = Math.max(worst, maxAbsDiff(w.values, refHeadTail[i]!.values))));
    // the weights did move (a no-op would also "match")
    expect(maxAbsDiff(middle[0]!.values, parts.init.middle[0]!.values)).toBeGreaterThan(1e-4);
    // and so did the running statistics, which are compared with the rest (state = params, buffers)
    if (parts.middle.buffers.length > 0) {
      expect(middle).toHaveLength(parts.middle.params.length + parts.middle.buffers.length);
      expect(maxAbsDiff(middle.at(-1)!.values, parts.init.middle.at(-1)!.values)).toBeGreaterThan(1e-3);
    }
    expect(worst).toBeLessThanOrEqual(tol);
    models.forEach((m) => m.dispose());
    disposeOptimizer(opt);
  });
});

describe('a lockstep step served in bounded runs of clients (server.middleChunkRows)', () => {
  async function trainedWeights(middleChunkRows: number | null): Promise<number[][]> {
    const cfg = testConfig({
      fleet: { clients: 4, workers: 2 },
      server: { middleChunkRows, middleThreads: 2 },
      training: { mode: 'splitfed', rounds: 1, batchSize: 16, maxStepsPerRound: 3, optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
    });
    const h = await startHarness(cfg);
    try {
      await h.server.waitForClients();
      const r = await h.server.runRound(0);
      expect(r.participants).toEqual([0, 1, 2, 3]);
      expect(r.clients.every((c) => c.steps === 3)).toBe(true);
      return [...(await h.server.middleWeights()), ...h.server.globalWeights].map((w) => Array.from(w.values));
    } finally {
      await h.close();
    }
  }

  it('makes the same update as the step served whole, up to summation order, and the same one every run', async () => {
    const whole = await trainedWeights(null);
    // 20 rows: one 16-row client per run (a second would exceed it); 8 rows: each client alone, over the bound
    const byTwenty = await trainedWeights(20);
    const byEight = await trainedWeights(8);
    const init = split(resolveModel(testConfig()).spec, resolveModel(testConfig()).cut, testConfig().seed).init.middle[0]!.values;
    expect(maxAbsDiff(whole[0]!, init)).toBeGreaterThan(1e-4);
    for (const runs of [byTwenty, byEight]) {
      let worst = 0;
      runs.forEach((w, i) => (worst = Math.max(worst, maxAbsDiff(w, whole[i]!))));
      expect(worst).toBeLessThanOrEqual(1e-5);
      // and the runs were served apart: the summation order shows in the last bits
      expect(worst).toBeGreaterThan(0);
    }
    expect(await trainedWeights(20)).toEqual(byTwenty);
  });
});
