import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WeightArray } from '../model/split.ts';
import { combineUpdates } from './aggregate.ts';

const upd = (vals: number[], samples = 1) => ({ samples, weights: [{ name: 'w', shape: [vals.length], values: Float32Array.from(vals) }] as WeightArray[] });
const out = (w: WeightArray[]) => Array.from(w[0]!.values);

describe('aggregation rules', () => {
  it('mean is FedAvg: weighted by samples', () => {
    expect(out(combineUpdates({ rule: 'mean' }, [upd([0, 4], 1), upd([4, 0], 3)]))).toEqual([3, 1]);
  });

  it('median and trimmed mean ignore one arbitrarily large update among honest ones', () => {
    const honest = [upd([1, 2]), upd([1.2, 2.2]), upd([0.8, 1.8]), upd([1.1, 2.1])];
    const evil = upd([1e30, -1e30], 1e15);
    expect(out(combineUpdates({ rule: 'median' }, [...honest, evil]))).toEqual([Math.fround(1.1), 2]); // the attacker pushes each coordinate by at most one rank
    const t = out(combineUpdates({ rule: 'trimmed-mean', trim: 0.2 }, [...honest, evil]));
    expect(t[0]).toBeCloseTo((1 + 1.2 + 1.1) / 3, 5);
    expect(t[1]).toBeCloseTo((1.8 + 2 + 2.1) / 3, 5);
    // the mean is captured by the one update
    expect(Math.abs(out(combineUpdates({ rule: 'mean' }, [...honest, evil]))[0]!)).toBeGreaterThan(1e20);
  });

  it('with a strict honest majority, median and trimmed mean stay within the honest values (any attacker values)', () => {
    const honestVals = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 3, maxLength: 6 });
    fc.assert(fc.property(honestVals, fc.array(fc.double({ noNaN: true, min: -1e30, max: 1e30 }), { minLength: 0, maxLength: 2 }), (h, bad) => {
      fc.pre(bad.length < h.length);
      const all = [...h, ...bad].map((v) => upd([v]));
      const lo = Math.fround(Math.min(...h));
      const hi = Math.fround(Math.max(...h));
      const med = out(combineUpdates({ rule: 'median' }, all))[0]!;
      expect(med).toBeGreaterThanOrEqual(lo - 1e-6);
      expect(med).toBeLessThanOrEqual(hi + 1e-6);
      const trim = Math.ceil((bad.length + 0.5) / all.length * 100) / 100;
      if (trim < 0.5 && Math.floor(trim * all.length) >= bad.length) {
        const tm = out(combineUpdates({ rule: 'trimmed-mean', trim }, all))[0]!;
        expect(tm).toBeGreaterThanOrEqual(lo - 1e-4);
        expect(tm).toBeLessThanOrEqual(hi + 1e-4);
      }
    }));
  });

  it('with identical updates every rule returns them', () => {
    for (const rule of [{ rule: 'mean' }, { rule: 'median' }, { rule: 'trimmed-mean', trim: 0.25 }] as const)
      expect(out(combineUpdates(rule, [upd([1.5, -2]), upd([1.5, -2]), upd([1.5, -2])]))).toEqual([1.5, -2]);
  });
});
