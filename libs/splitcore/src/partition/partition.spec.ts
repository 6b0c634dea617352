import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { partition } from './partition.ts';

const labelsOf = (n: number, classes = 10) => Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);

describe('partitioners', () => {
  it('iid: disjoint, covers every sample, near-equal sizes, shuffled (not contiguous slices)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 20, max: 400 }), fc.integer(), (clients, n, seed) => {
        const parts = partition({ kind: 'iid' }, labelsOf(n), clients, seed);
        const all = parts.flat().sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 50 },
    );
    const p = partition({ kind: 'iid' }, labelsOf(1000), 4, 1)[0]!;
    expect(p[p.length - 1]! - p[0]!).toBeGreaterThan(p.length);
  });

  it('dirichlet: disjoint, complete, respects minSize; same seed same result, other seed different', () => {
    const labels = labelsOf(2000);
    const a = partition({ kind: 'dirichlet', alpha: 0.5, minSize: 10 }, labels, 8, 3);
    expect(a.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(a.every((p) => p.length >= 10)).toBe(true);
    expect(partition({ kind: 'dirichlet', alpha: 0.5, minSize: 10 }, labels, 8, 3)).toEqual(a);
    expect(partition({ kind: 'dirichlet', alpha: 0.5, minSize: 10 }, labels, 8, 4)).not.toEqual(a);
  });

  it('names the parameter and its allowed range on bad input', () => {
    expect(() => partition({ kind: 'dirichlet', alpha: 0, minSize: 1 }, labelsOf(100), 4, 1)).toThrow(/partition.alpha must be a finite number > 0, got 0/);
    expect(() => partition({ kind: 'iid' }, labelsOf(10), 11, 1)).toThrow(/fleet.clients \(11\) must be ≤ the number of samples \(10\)/);
    expect(() => partition({ kind: 'dirichlet', alpha: 1, minSize: 30 }, labelsOf(100), 4, 1)).toThrow(/partition.minSize × fleet.clients/);
  });
});
