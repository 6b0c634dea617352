import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@splitfleet/splitcore';
import { kmeans, kmeansBySilhouette, silhouette } from './kmeans.ts';

/** `n` rows around `k` random unit directions in `d` dimensions, scaled by random norms (gradients of k classes). */
function directions(k: number, n: number, d: number, seed: number): { rows: Float32Array; truth: Int32Array } {
  const rng = Rng.fromSeed(seed).fork('dirs');
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.float() * 2 - 1));
  const rows = new Float32Array(n * d);
  const truth = Int32Array.from({ length: n }, (_, i) => i % k);
  for (let i = 0; i < n; i++) {
    const scale = 0.1 + 5 * rng.float();
    for (let j = 0; j < d; j++) rows[i * d + j] = scale * (centres[truth[i]!]![j]! + 0.05 * (rng.float() - 0.5));
  }
  return { rows, truth };
}

/** Same partition up to a relabelling. */
const samePartition = (a: Int32Array, b: Int32Array) => a.every((_, i) => a.every((__, j) => (a[i] === a[j]) === (b[i] === b[j])));

describe('k-means with k chosen by the silhouette', () => {
  it('silhouette: two tight, far clusters score near 1, one split through the middle scores low (hand-made)', () => {
    const rows = Float32Array.from([0, 0, 0.1, 0, 10, 0, 10.1, 0]);
    expect(silhouette(rows, 4, 2, Int32Array.from([0, 0, 1, 1]))).toBeGreaterThan(0.95);
    expect(silhouette(rows, 4, 2, Int32Array.from([0, 1, 0, 1]))).toBeLessThan(0);
  });

  it('finds as many clusters as there are directions, whatever the norms, when told at most 10 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 10_000 }), (k, seed) => {
        const { rows, truth } = directions(k, 60, 12, seed);
        const labels = kmeansBySilhouette(rows, 60, 12, 10, seed, { spherical: true });
        expect(new Set(labels).size).toBe(k);
        expect(samePartition(labels, truth)).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('scores only a seeded sample of the rows on large sets, and is deterministic for a seed', () => {
    const { rows, truth } = directions(3, 900, 8, 4);
    const a = kmeansBySilhouette(rows, 900, 8, 10, 7, { spherical: true, sample: 100 });
    expect(a).toEqual(kmeansBySilhouette(rows, 900, 8, 10, 7, { spherical: true, sample: 100 }));
    expect(samePartition(a, truth)).toBe(true);
    // plain k-means told 10 clusters splits the same three directions
    expect(new Set(kmeans(rows, 900, 8, 10, 7, { spherical: true }).labels).size).toBeGreaterThan(3);
  });
});
