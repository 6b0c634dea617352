import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distributionOf } from './distribution.ts';

describe('distributions of per-client values (populations too large to list)', () => {
  it('quantiles are ordered, the histogram counts every value once, and the mean is the mean (property)', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 500 }), fc.integer({ min: 1, max: 40 }), (xs, bins) => {
      const d = distributionOf(xs, bins);
      const q = d.quantiles;
      expect([q.min, q.p10, q.p25, q.median, q.p75, q.p90, q.max]).toEqual([...[q.min, q.p10, q.p25, q.median, q.p75, q.p90, q.max]].sort((a, b) => a - b));
      expect(d.histogram.counts.reduce((a, b) => a + b, 0)).toBe(xs.length);
      expect(d.histogram.edges).toHaveLength(bins + 1);
      expect(d.mean).toBeCloseTo(xs.reduce((a, b) => a + b, 0) / xs.length, 3);
    }));
  });

  it('golden: 0..9 in 5 bins', () => {
    const d = distributionOf([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 5);
    expect(d.quantiles).toEqual({ min: 0, p10: 0.9, p25: 2.25, median: 4.5, p75: 6.75, p90: 8.1, max: 9 });
    expect(d.histogram.counts).toEqual([2, 2, 2, 2, 2]);
    expect(distributionOf([]).count).toBe(0);
    expect(distributionOf([3, 3]).histogram.counts[0]).toBe(2);
  });
});
