import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatInterval, formatPercentInterval, seedInterval, tQuantile975 } from './interval.ts';

describe('95 % intervals over seeds', () => {
  it('three runs 0.2, 0.3, 0.4: mean 0.3, sd 0.1, half-width 4.303 · 0.1 / √3 (hand-computed)', () => {
    const i = seedInterval([0.2, 0.3, 0.4]);
    expect(i.n).toBe(3);
    expect(i.mean).toBeCloseTo(0.3, 12);
    expect(i.sd).toBeCloseTo(0.1, 12);
    expect(i.halfWidth).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 12);
    expect(formatPercentInterval(i)).toBe('30.0 ± 24.8 %');
    expect(formatInterval(i)).toBe('0.30 ± 0.25×');
    expect(formatInterval(seedInterval([12, 14, 16]), ' s', 0)).toBe('14 ± 5 s');
  });

  it('one run has no interval; bad input is refused', () => {
    expect(seedInterval([0.5])).toEqual({ n: 1, mean: 0.5, sd: 0, halfWidth: null });
    expect(formatPercentInterval(seedInterval([0.5]))).toBe('50.0 %');
    expect(formatInterval(seedInterval([0.5]))).toBe('0.50×');
    expect(() => seedInterval([])).toThrow(/no values/);
    expect(() => seedInterval([0.1, NaN])).toThrow(/non-finite/);
    expect(() => tQuantile975(0)).toThrow(/integer ≥ 1/);
  });

  it('the interval is centred on the mean, shift-equivariant and scales with the spread (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 40 }), fc.double({ min: -5, max: 5, noNaN: true }), (xs, c) => {
        const a = seedInterval(xs);
        const b = seedInterval(xs.map((v) => v + c));
        const s = seedInterval(xs.map((v) => 2 * v));
        expect(b.mean).toBeCloseTo(a.mean + c, 9);
        expect(b.halfWidth!).toBeCloseTo(a.halfWidth!, 9);
        expect(s.halfWidth!).toBeCloseTo(2 * a.halfWidth!, 9);
        expect(a.halfWidth!).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('t quantiles fall towards 1.96 as the runs grow', () => {
    const qs = Array.from({ length: 40 }, (_, i) => tQuantile975(i + 1));
    for (let i = 1; i < qs.length; i++) expect(qs[i]!).toBeLessThanOrEqual(qs[i - 1]!);
    expect(qs[39]).toBe(1.96);
  });
});
