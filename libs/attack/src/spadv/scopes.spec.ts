import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ObservationRecorder, fleetView, type ObservedBatch } from '../observations.ts';
import { clusterClients, planShadows } from './scopes.ts';

/** Observations keyed by client and the shadow plans of attack.shadowScope (issue #19). */

const batch = (clientId: number, step: number, size = 4, zValue = clientId): ObservedBatch => ({
  clientId, round: 0, step, batch: size, z: new Float32Array(size * 2).fill(zValue), gm: Float32Array.from({ length: size * 3 }, (_, i) => ((i % 3) === clientId % 3 ? 1 : 0)),
});

describe('the observation recorder keeps a bounded ring per client (or one for the fleet)', () => {
  it('each client keeps its last `capacity` batches, clients never mix, arrival order is kept, and the fleet view is the last `capacity` of all (property)', async () => {
    await tf.setBackend('cpu');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 6 }), async (clients, capacity) => {
        const rec = new ObservationRecorder(capacity, { perClient: true });
        const fleetRing = new ObservationRecorder(capacity);
        for (const [step, clientId] of clients.entries()) {
          const z = tf.fill([2, 2], clientId);
          const gm = tf.fill([2, 3], step);
          await rec.onGradient({ clientId, round: 0, step, z, gm } as never);
          await fleetRing.onGradient({ clientId, round: 0, step, z, gm } as never);
          tf.dispose([z, gm]);
        }
        const kept = rec.observed;
        for (const id of new Set(clients)) {
          const own = kept.filter((b) => b.clientId === id);
          const expected = [...clients.entries()].filter(([, c]) => c === id).map(([s]) => s).slice(-capacity);
          expect(own.map((b) => b.step)).toEqual(expected);
          // never mixed: a batch's data is the client's own
          expect(own.every((b) => b.z.every((v) => v === id))).toBe(true);
        }
        expect(kept.map((b) => b.step)).toEqual([...kept.map((b) => b.step)].sort((a, b) => a - b));
        // the fleet-wide view equals a single ring of `capacity` over all clients (the budget before per-client rings)
        expect(fleetView(kept, capacity).map((b) => b.step)).toEqual(clients.map((_, s) => s).slice(-capacity));
        expect(fleetRing.observed.map((b) => b.step)).toEqual(clients.map((_, s) => s).slice(-capacity));
        expect(rec.bytes).toBe(kept.reduce((s, b) => s + 4 * (b.z.length + b.gm.length), 0));
      }),
      { numRuns: 60 },
    );
  });

  it('restores a checkpoint’s batches into the same rings', () => {
    const rec = new ObservationRecorder(2, { perClient: true });
    rec.restore([batch(0, 0), batch(1, 1), batch(0, 2), batch(0, 3)]);
    expect(rec.observed.map((b) => [b.clientId, b.step])).toEqual([[1, 1], [0, 2], [0, 3]]);
  });
});

describe('shadow plans (attack.shadowScope)', () => {
  const observed = [0, 1, 2, 3].flatMap((id) => [0, 1, 2].map((s) => batch(id, 10 * s + id, id === 3 ? 1 : 4)));
  const opts = { capacity: 4, clusters: null, minSamples: 8, channels: 2, seed: 1 } as const;

  it('fleet: one shadow for every client, from the last `capacity` batches of all', () => {
    const [p, ...rest] = planShadows(observed, [0, 1, 2, 3], { ...opts, scope: 'fleet' });
    expect(rest).toEqual([]);
    expect(p!.clientIds).toEqual([0, 1, 2, 3]);
    expect(p!.observed).toEqual(observed.slice(-4));
  });

  it('client: one shadow per client from its own batches only; a client seen less than minSamples falls back to the fleet shadow', () => {
    const plans = planShadows(observed, [0, 1, 2, 3], { ...opts, scope: 'client' });
    expect(plans.map((p) => [p.key, p.scope, p.clientIds])).toEqual([
      ['client 0', 'client', [0]], ['client 1', 'client', [1]], ['client 2', 'client', [2]], ['fleet', 'fleet', [3]],
    ]);
    for (const p of plans.slice(0, 3)) expect(p.observed.every((b) => b.clientId === p.clientIds[0])).toBe(true);
    expect(plans.map((p) => p.fallbackIds)).toEqual([[], [], [], [3]]);
  });

  it('cluster: a client seen too little joins the cluster nearest its signature without training it; one never seen uses the fleet', () => {
    // clients 0–2 and 3–5 form two far groups; 6 has one small batch like the second group; 7 sent nothing
    const far = (id: number, s: number, size = 4): ObservedBatch => {
      const group = id >= 3 ? 1 : 0;
      return { ...batch(id, s, size, 50 * group), gm: Float32Array.from({ length: size * 3 }, (_, i) => (i % 3 === group ? 1 : 0)) };
    };
    const obs = [0, 1, 2, 3, 4, 5].flatMap((id) => [far(id, id), far(id, 10 + id)]).concat([far(6, 99, 1)]);
    const plans = planShadows(obs, [0, 1, 2, 3, 4, 5, 6, 7], { ...opts, scope: 'cluster', clusters: 2 });
    const of = (id: number) => plans.find((p) => p.clientIds.includes(id))!;
    expect(of(6).key).toBe(of(4).key);
    expect(of(6).key).not.toBe(of(0).key);
    expect(of(6).fallbackIds).toEqual([6]);
    expect(of(6).observed.some((b) => b.clientId === 6)).toBe(false);
    expect([of(7).key, of(7).scope, of(7).fallbackIds]).toEqual(['fleet', 'fleet', [7]]);
    expect(of(0).fallbackIds).toEqual([]);
  });

  it('cluster: every client in exactly one plan, the same clusters for the same seed (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 0, max: 1000 }), (n, seed) => {
        const obs = Array.from({ length: n }, (_, id) => batch(id, id, 4, id % 3));
        const ids = Array.from({ length: n }, (_, i) => i);
        const a = planShadows(obs, ids, { ...opts, scope: 'cluster', minSamples: 1, seed });
        const b = planShadows(obs, ids, { ...opts, scope: 'cluster', minSamples: 1, seed });
        expect(a).toEqual(b);
        expect(a.flatMap((p) => p.clientIds).sort((x, y) => x - y)).toEqual(ids);
        for (const p of a) expect(p.observed.every((o) => p.clientIds.includes(o.clientId))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('clusters clients whose observations differ apart, and the silhouette picks that k', () => {
    // two groups of three clients, far apart in every feature
    const sig = [0, 0, 0, 5, 5, 5].map((v, i) => Float64Array.from([v + i * 0.01, -v, v * 2]));
    const labels = clusterClients(sig, null, 3);
    expect(new Set(labels.slice(0, 3)).size).toBe(1);
    expect(new Set(labels.slice(3)).size).toBe(1);
    expect(labels[0]).not.toBe(labels[3]);
  });

});
