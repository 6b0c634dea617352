import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import type { ConfigInput } from '../apps/server/src/experiment/config.ts';
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
  return { rounds: strip(results.rounds) as { testAccuracy: number; trainLoss: number; clients: { steps: number; bytesUp: number }[] }[], privacy: results.privacy! };
}

describe('defences in a running fleet', () => {
  it('every defence at its identity strength gives the same rounds, to the bit, as no defence; switched on, they change training', async () => {
    const { rounds: none, privacy } = await rounds([]);
    const { rounds: identity } = await rounds([
      { kind: 'smashed-noise', sigma: 0 }, { kind: 'gradient-noise', sigma: 0 }, { kind: 'maxnorm', strength: 0 },
      { kind: 'label-rr', epsilon: null }, { kind: 'nopeek', lambda: 0 }, { kind: 'quantise', bits: null }, { kind: 'topk', drop: 0 },
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
