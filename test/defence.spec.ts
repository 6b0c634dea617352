import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { parseConfig, type ConfigInput } from '../apps/server/src/experiment/config.ts';
import { attackFinishedRun } from '../apps/server/src/experiment/reattack.ts';
import { cnnSmall, sizeOf, split } from '@splitfleet/splitcore';
import { testConfig } from './helpers.ts';

// Defences run in real worker clients over socket.io (issue #21): at their identity strength they
// leave a run byte-identical to one without them; switched on, they change what is trained, and
// results.privacy (dCor of test inputs and the smashed data sent) sees smashed-data noise.
const VOLATILE = new Set(['wallSeconds', 'computeSeconds', 'simulatedSeconds', 'seconds']);
const strip = (v: unknown): unknown => Array.isArray(v) ? v.map(strip)
  : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).filter(([k]) => !VOLATILE.has(k)).map(([k, x]) => [k, strip(x)])) : v;

async function rounds(defence: ConfigInput['defence']) {
  const cfg = testConfig({ seed: 5, training: { rounds: 2, maxStepsPerRound: 3 }, data: { testSamples: 100 }, server: { dashboard: false }, defence });
  const { results } = await runExperiment(cfg, { outDir: join(mkdtempSync(join(tmpdir(), 'sf-defence-')), 'run'), fleet: 'workers' });
  return { rounds: strip(results.rounds) as { testAccuracy: number; trainLoss: number; clients: { steps: number; bytesUp: number; messages?: number }[] }[], privacy: results.privacy! };
}

describe('defences in a running fleet', () => {
  it('every defence at its identity strength gives the same rounds, to the bit, as no defence; switched on, they change training', async () => {
    const { rounds: none, privacy } = await rounds([]);
    const { rounds: identity } = await rounds([
      { kind: 'smashed-noise', sigma: 0 }, { kind: 'gradient-noise', sigma: 0 }, { kind: 'maxnorm', strength: 0 },
      { kind: 'label-rr', epsilon: null }, { kind: 'nopeek', lambda: 0 }, { kind: 'quantise', bits: null }, { kind: 'topk', drop: 0 },
      { kind: 'adversarial', epsilon: 0 },
    ]);
    expect(identity).toEqual(none);
    for (const d of [{ kind: 'smashed-noise', sigma: 1 }, { kind: 'gradient-noise', sigma: 0.5, clip: 1 }, { kind: 'label-rr', epsilon: 0.5 }, { kind: 'nopeek', lambda: 1 }, { kind: 'maxnorm', strength: 1 }, { kind: 'quantise', bits: 2 }, { kind: 'topk', drop: 0.9 }] as const) {
      const on = await rounds([d]);
      expect(on.rounds, d.kind).not.toEqual(none);
      expect(on.rounds.every((r) => Number.isFinite(r.trainLoss)), d.kind).toBe(true);
      // the privacy proxy measures what is sent: noise as large as the smashed data's own spread lowers dCor(x, z)
      if (d.kind === 'smashed-noise') expect(on.privacy.distanceCorrelation).toBeLessThan(privacy.distanceCorrelation - 0.05);
      // the traffic (and so the virtual clock) counts the compressed frames: 2 bits per smashed value
      // plus a 12-byte grid instead of 32 bits, on every step of every client
      if (d.kind === 'quantise') {
        const n = 16 * sizeOf(split(cnnSmall, cnnSmall.defaultCut, 5).middle.inputShape);
        on.rounds.forEach((r, k) => r.clients.forEach((c, i) =>
          expect(c.bytesUp).toBe(none[k]!.clients[i]!.bytesUp - c.steps * (4 * n - 12 - Math.ceil((n * 2) / 8)))));
      }
      if (d.kind === 'topk') on.rounds.forEach((r, k) => r.clients.forEach((c, i) => expect(c.bytesUp).toBeLessThan(none[k]!.clients[i]!.bytesUp)));
    }
    expect(privacy.samples).toBe(256);
    expect(privacy.distanceCorrelation).toBeGreaterThan(0);
    expect(privacy.distanceCorrelation).toBeLessThanOrEqual(1);
  });
});

describe('U-shaped adversarial training in a running fleet', () => {
  // Each PGD step is one more forward/backward round trip with the server, with frames of the same
  // shapes as the training step's: traffic is exactly (steps + 1)× that of the undefended run, and
  // the virtual clock charges every byte and message of it. Served by the shared middle (splitfed,
  // lockstep) and by per-client middle copies (sflv1).
  it.each(['splitfed', 'sflv1'] as const)('%s: craft round trips are counted in traffic and the virtual clock, and change what is trained', async (mode) => {
    const run = async (defence: ConfigInput['defence']) => {
      const cfg = testConfig({ seed: 3, training: { mode, rounds: 2, maxStepsPerRound: 2 }, data: { testSamples: 64 }, server: { dashboard: false }, defence });
      return (await runExperiment(cfg, { outDir: join(mkdtempSync(join(tmpdir(), 'sf-advtrain-')), 'run'), fleet: 'workers' })).results;
    };
    const none = await run([]);
    const adv = await run({ kind: 'adversarial', epsilon: 0.1, steps: 2 });
    // crafting meets the middle its step will, whatever the other client is doing: runs replay exactly
    expect(strip((await run({ kind: 'adversarial', epsilon: 0.1, steps: 2 })).rounds)).toEqual(strip(adv.rounds));
    for (const [results, k] of [[none, 0], [adv, 2]] as const) {
      results.rounds.forEach((r, i) => r.clients.forEach((c, j) => {
        const base = none.rounds[i]!.clients[j]!;
        expect(c.steps).toBe(base.steps);
        expect(c.bytesUp).toBe((k + 1) * base.bytesUp);
        expect(c.bytesDown).toBe((k + 1) * base.bytesDown);
        expect(c.messages).toBe(4 * c.steps * (k + 1)); // results record the round trips: (PGD steps + 1) per step
        // virtual clock = compute × slowdown + bytes over the links + one latency per message
        // (4 messages per round trip: request and reply, forward and backward)
        const p = results.population!.profiles[c.id]!;
        const network = (c.bytesUp * 8) / (p.uplinkMbps * 1e6) + (c.bytesDown * 8) / (p.downlinkMbps * 1e6) + (4 * c.steps * (k + 1) * p.latencyMs) / 1000;
        expect(c.simulatedSeconds! - c.computeSeconds! * p.computeSlowdown).toBeCloseTo(network, 6);
      }));
    }
    expect(adv.rounds.map((r) => r.trainLoss)).not.toEqual(none.rounds.map((r) => r.trainLoss));
    expect(adv.rounds.every((r) => Number.isFinite(r.trainLoss))).toBe(true);
  });
});

describe('attacks on a defended fleet', () => {
  it('evaluate the deployed model with its smashed-data defence in place, and run adaptive and non-adaptive SPADV on it', async () => {
    const cfg = testConfig({
      seed: 9, training: { rounds: 1, maxStepsPerRound: 8 }, data: { testSamples: 100 }, server: { dashboard: false },
      defence: { kind: 'quantise', bits: 1 },
      attack: {
        method: 'spadv', objective: 'observe', aux: { size: 32, holdout: 200 }, observe: { batches: 8 }, shadow: { steps: 10 },
        craft: ['pgd'], epsilon: 0.1, steps: 3, evalSamples: 60, baselines: ['whitebox'],
      },
    });
    const runDir = join(mkdtempSync(join(tmpdir(), 'sf-defended-')), 'run');
    const adaptive = (await runExperiment(cfg, { outDir: runDir, fleet: 'workers' })).results.attack!;
    const cells = (a: typeof adaptive) => a.objectives[0]!.targets[0]!.suite;
    expect(adaptive.config.adaptive).toBe(true);
    const plain = await attackFinishedRun(runDir, parseConfig({ ...cfg, attack: { ...cfg.attack, adaptive: false } }));
    expect(plain.config.adaptive).toBe(false);
    // the same deployed model (same draws: quantisation is deterministic) is evaluated in both
    expect(cells(plain).cleanAccuracy).toBe(cells(adaptive).cleanAccuracy);
    // a defence is part of the trained run: re-attacking it as if undefended is refused, not silently wrong
    await expect(attackFinishedRun(runDir, parseConfig({ ...cfg, defence: [] }))).rejects.toThrow(/config\.defence differs from the run/);
    for (const a of [adaptive, plain]) expect(cells(a).cells.map((c) => c.method).sort()).toEqual(['spadv-pgd', 'whitebox-pgd']);
  });
});
