import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { labelWeighted } from './label-weighted.ts';

describe('labelWeighted', () => {
  it('is the plain accuracy when the share is the test set’s own label distribution', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 10 }), (cls) => {
        const total = cls.map(([t]) => t);
        const hits = cls.map(([t, h]) => Math.min(t, h));
        const n = total.reduce((a, b) => a + b, 0);
        const plain = hits.reduce((a, b) => a + b, 0) / n;
        expect(labelWeighted(total.map((t) => t / n), total, hits)).toBeCloseTo(plain, 12);
      }),
    );
  });

  it('weighs only the classes a client holds, and renormalises over classes the test set has', () => {
    // client holds classes 0 and 2 equally; class 2 is perfectly classified, class 0 half
    expect(labelWeighted([0.5, 0, 0.5], [10, 10, 4], [5, 0, 4])).toBeCloseTo(0.75, 12);
    // class 1 is missing from the test set: its share is dropped, not counted as 0
    expect(labelWeighted([0.5, 0.5], [10, 0], [10, 0])).toBe(1);
    expect(labelWeighted([0, 1], [10, 0], [10, 0])).toBeNull();
  });

  it('stays in [0, 1] for any share and counts', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 10 }), (cls) => {
        const v = labelWeighted(cls.map(([, , s]) => s), cls.map(([t]) => t), cls.map(([t, h]) => Math.min(t, h)));
        if (v !== null) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1 + 1e-12);
        }
      }),
    );
  });
});
