// Shadow scopes (issue #19) for `npm run bench`, in its own process so its memory figures are its own:
// shadow-training time per scope on a real local-mode fleet (each scope attacks the same trained run),
// and the per-client observation rings of a 100-client fleet. Prints one JSON array of rows.
// `node --expose-gc scripts/bench-scopes.ts`
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { cnnSmall, split } from '@splitfleet/splitcore';
import { ObservationRecorder, observationBytes, observedBytes } from '@splitfleet/attack';
import { initBackend } from '@splitfleet/client-sim/node';
import { parseConfig, type ConfigInput } from '../apps/server/src/experiment/config.ts';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { attackFinishedRun } from '../apps/server/src/experiment/reattack.ts';

/** One bench row; bench.ts adds it with its ratio. Import only the type: importing this module runs it. */
export interface ScopeBenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: string;
  readonly base: number | null;
  readonly note: string;
}

const rows: ScopeBenchRow[] = [];
const cfgOf = (over: ConfigInput) => parseConfig({ seed: 1, data: { testSamples: 64 }, ...over });
await initBackend('wasm');
{
  // a real local-mode fleet whose clients differ, trained briefly with a ring per client; then each
  // scope attacks the same run (the shadow-training time is what differs; evaluation kept tiny)
  const n = 16;
  const cfg = cfgOf({
    partition: { kind: 'dirichlet', alpha: 0.3, minSize: 20 }, fleet: { clients: n, workers: 2, backend: 'wasm' },
    training: { mode: 'local', rounds: 1, batchSize: 32, maxStepsPerRound: 6, checkpointEvery: 0 },
    attack: { method: 'spadv', shadowScope: 'client', observe: { batches: 4 }, minClientSamples: 32, shadow: { steps: 100 }, evalSamples: 8, steps: 2, baselines: [], craft: ['pgd'] },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-scopes-'));
  await runExperiment(cfg, { outDir: dir, attack: false });
  const cost: Record<string, { seconds: number; shadows: number; weightBytes: number }> = {};
  for (const scope of ['fleet', 'cluster', 'client'] as const) {
    const rep = await attackFinishedRun(dir, parseConfig({ ...cfg, attack: { ...cfg.attack, shadowScope: scope, clusters: 4 } }));
    const o = rep.objectives[0]!;
    cost[scope] = { seconds: o.shadowSeconds, shadows: o.shadows.length, weightBytes: Math.max(...o.shadows.map((s) => s.weightBytes)) };
  }
  const fleet = cost.fleet!;
  for (const scope of ['cluster', 'client'] as const)
    rows.push({
      name: `${scope} scope, ${n} clients: shadow training (${cost[scope]!.shadows} shadows × 100 steps)`, value: cost[scope]!.seconds, unit: 's', baseline: 'fleet scope (1 shadow)', base: fleet.seconds,
      note: `local mode, Dirichlet α = 0.3${scope === 'cluster' ? ', k = 4' : ''}; each shadow's weights ${(cost[scope]!.weightBytes / 2 ** 10).toFixed(0)} KiB, trained and freed one at a time, so shadows do not add up in memory`,
    });
}
{
  // the per-client rings of a 100-client fleet, filled through the server's tap with real tensors of
  // the default cut's shapes (one batch more than the ring holds, so the bound is exercised)
  const s = split(cnnSmall, cnnSmall.defaultCut, 1);
  const [clients, ring, batch] = [100, 8, 32];
  const rec = new ObservationRecorder(ring, { perClient: true });
  const before = process.memoryUsage().arrayBuffers;
  for (let c = 0; c < clients; c++)
    for (let b = 0; b <= ring; b++) {
      const [z, gm] = [tf.zeros([batch, ...s.head.outputShape]), tf.zeros([batch, ...s.middle.outputShape])];
      await rec.onGradient({ clientId: c, round: 0, step: b, z, gm });
      tf.dispose([z, gm]);
    }
  (globalThis as { gc?: () => void }).gc?.();
  const grown = process.memoryUsage().arrayBuffers - before;
  const perBatch = observationBytes(batch, s.head.outputShape.reduce((a, d) => a * d, 1), s.middle.outputShape.reduce((a, d) => a * d, 1));
  rows.push({
    name: `${clients} clients × ${ring} batches of ${batch}: observation rings held (MiB)`, value: observedBytes(rec.observed) / 2 ** 20, unit: 'MiB', baseline: 'ArrayBuffer growth measured', base: grown / 2 ** 20,
    note: `${(perBatch / 2 ** 20).toFixed(2)} MiB per batch (smashed data + gradient at the middle's output, float32); ${rec.observed.length} batches kept of ${clients * (ring + 1)} seen; attack.observe.maxMegabytes refuses configs above the limit before training`,
  });
}

console.log(JSON.stringify(rows));
process.exit(0);
