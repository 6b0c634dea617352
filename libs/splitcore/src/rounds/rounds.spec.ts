import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WeightArray } from '../model/split.ts';
import { STRATEGIES, strategyFor, TRAINING_MODES } from './registry.ts';
import type { ClientUpdate, HeadTailState, RoundStrategy } from './strategy.ts';
import { combineUpdates } from './aggregate.ts';

const fedAvg = (u: readonly ClientUpdate[]) => combineUpdates({ rule: 'mean' }, u);

const w = (v: number): WeightArray[] => [{ name: 'k', shape: [2], values: Float32Array.of(v, 2 * v) }];
const first = (ws: readonly WeightArray[]) => ws[0]!.values[0]!;

/**
 * A round with fake clients (no sockets, no tensors): client i "trains" by adding i + 1 to every
 * weight it starts from, on `samples[i]` samples. Runs the strategy's phases in order, as the server does.
 */
function fakeRound(s: RoundStrategy, state: HeadTailState, selected: number[], samples: number[], round = 0, seed = 1) {
  const updates: ClientUpdate[] = [];
  const started = new Map<number, number>();
  for (const phase of s.phases(selected, round, seed)) {
    const ups = phase.map((id) => {
      const start = s.startWeights(id, state, updates);
      started.set(id, first(start));
      return { id, samples: samples[id]!, weights: start.map((x) => ({ ...x, values: x.values.map((v) => v + id + 1) })) };
    });
    updates.push(...ups);
  }
  return { global: s.aggregate(state, updates, fedAvg), updates, started };
}

const fresh = (g = 0, perClient: [number, number][] = []): HeadTailState => ({ global: w(g), perClient: new Map(perClient.map(([id, v]) => [id, w(v)])) });

describe('round strategies with fake clients', () => {
  it('splitfed: everyone starts from the global model in one phase; the sample-weighted average comes back', () => {
    const r = fakeRound(STRATEGIES.splitfed, fresh(10), [0, 1, 2], [1, 1, 2]);
    expect([...r.started.values()]).toEqual([10, 10, 10]);
    expect(STRATEGIES.splitfed.phases([0, 1, 2], 0, 1)).toEqual([[0, 1, 2]]);
    // (11 + 12 + 2·13) / 4
    expect(first(r.global)).toBeCloseTo(12.25, 5);
  });

  it('sequential: the head/tail passes from client to client in id order; the last one is the new global', () => {
    const r = fakeRound(STRATEGIES.sequential, fresh(0), [0, 2, 5], [5, 5, 5, 5, 5, 5]);
    expect([...r.started.entries()]).toEqual([[0, 0], [2, 1], [5, 4]]);
    expect(first(r.global)).toBe(10);
  });

  it('local: each client continues from its own head/tail (new clients from the initial one); the global model never changes', () => {
    const r = fakeRound(STRATEGIES.local, fresh(0, [[1, 100]]), [0, 1], [3, 3]);
    expect(r.started.get(0)).toBe(0);
    expect(r.started.get(1)).toBe(100);
    expect(first(r.global)).toBe(0);
    expect(STRATEGIES.local.evaluate).toBe('per-client');
  });

  it('sflv1: one phase, everyone from the global model, heads/tails averaged, one middle copy per client', () => {
    const r = fakeRound(STRATEGIES.sflv1, fresh(0), [0, 1], [1, 3]);
    expect([...r.started.values()]).toEqual([0, 0]);
    expect(first(r.global)).toBeCloseTo((1 + 3 * 2) / 4, 5);
    expect(STRATEGIES.sflv1.middle).toBe('per-client');
  });

  it('sflv2: clients one at a time in a seeded order that changes with the round; each starts from the global model', () => {
    const ids = Array.from({ length: 12 }, (_, i) => i);
    const order = (round: number, seed: number) => STRATEGIES.sflv2.phases(ids, round, seed).map((p) => p[0]);
    expect(STRATEGIES.sflv2.phases(ids, 0, 1).every((p) => p.length === 1)).toBe(true);
    expect([...order(0, 1)].sort((a, b) => a! - b!)).toEqual(ids);
    expect(order(0, 1)).toEqual(order(0, 1));
    expect(order(1, 1)).not.toEqual(order(0, 1));
    expect(order(0, 2)).not.toEqual(order(0, 1));
    const r = fakeRound(STRATEGIES.sflv2, fresh(5), [0, 1, 2], [1, 1, 1], 3, 9);
    expect([...r.started.values()]).toEqual([5, 5, 5]);
    expect(first(r.global)).toBeCloseTo(5 + 2, 5);
    expect(STRATEGIES.sflv2.clock).toBe('serial');
  });

  it('every mode keeps the model when nobody completes the round, and trains every selected client exactly once', () => {
    fc.assert(fc.property(fc.constantFrom(...TRAINING_MODES), fc.uniqueArray(fc.nat(30), { maxLength: 10 }), fc.nat(50), (mode, ids, round) => {
      const s = strategyFor(mode);
      const sorted = [...ids].sort((a, b) => a - b);
      expect(s.phases(sorted, round, 7).flat().sort((a, b) => a - b)).toEqual(sorted);
      expect(first(s.aggregate(fresh(3), [], fedAvg))).toBe(3);
    }));
  });

  it('the registry names every mode once, under its own name', () => {
    for (const [name, s] of Object.entries(STRATEGIES)) expect(s.mode).toBe(name);
    expect(TRAINING_MODES).toEqual(['splitfed', 'sequential', 'local', 'sflv1', 'sflv2']);
  });
});
