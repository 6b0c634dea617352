import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { featureNoiseLevels, parsePartitionFile, partition, PartitionError } from './partition.ts';
import { hellinger, labelCounts, frequencies } from '../population/noniid.ts';

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

  it('bad parameters raise a PartitionError carrying the option to change', () => {
    const optionOf = (f: () => unknown): string | null => {
      try {
        f();
        return null;
      } catch (e) {
        return e instanceof PartitionError ? e.option : `not a PartitionError: ${String(e)}`;
      }
    };
    expect(optionOf(() => partition({ kind: 'dirichlet', alpha: -1, minSize: 1 }, labelsOf(100), 4, 1))).toBe('partition.alpha');
    expect(optionOf(() => partition({ kind: 'iid' }, labelsOf(10), 11, 1))).toBe('fleet.clients');
    expect(optionOf(() => partition({ kind: 'shard', shardsPerClient: 0, shardSize: 1 }, labelsOf(100), 4, 1))).toBe('partition.shardsPerClient');
    expect(optionOf(() => parsePartitionFile('[[1], [2', 'parts.json'))).toBe('partition.file');
  });

  it('dirichlet that cannot meet minSize says which minSize this seed and alpha can meet, and that one works', () => {
    const labels = labelsOf(6000);
    const cfg = { kind: 'dirichlet', alpha: 0.1, minSize: 30 } as const;
    let error: unknown = null;
    try {
      partition(cfg, labels, 50, 42);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PartitionError);
    expect((error as PartitionError).option).toBe('partition.minSize');
    const m = /^partition\.minSize: 30 is not reachable for 50 clients at partition\.alpha=0\.1; must be ≤ (\d+) here \(the best of 10 seeded draws\), or raise partition\.alpha or lower fleet\.clients, or use partition\.scheme: per-client \(.*\)$/.exec((error as Error).message);
    expect(m, (error as Error).message).not.toBeNull();
    const reachable = Number(m![1]);
    expect(reachable).toBeGreaterThan(0);
    expect(partition({ ...cfg, minSize: reachable }, labels, 50, 42).every((p) => p.length >= reachable)).toBe(true);
    expect(() => partition({ ...cfg, minSize: reachable + 1 }, labels, 50, 42)).toThrow(PartitionError);
  });
});

describe('skewed partitioners', () => {
  const labels = Int32Array.from({ length: 3000 }, (_, i) => (i * 7) % 10);
  const disjoint = (parts: number[][]) => new Set(parts.flat()).size === parts.flat().length;
  const classesOf = (p: number[]) => new Set(p.map((i) => labels[i])).size;

  it('pathological: every client holds exactly k classes; seeded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 30 }), fc.integer(), (k, clients, seed) => {
        const parts = partition({ kind: 'pathological', classesPerClient: k }, labels, clients, seed);
        expect(disjoint(parts)).toBe(true);
        expect(parts.every((p) => classesOf(p) === k)).toBe(true);
        expect(partition({ kind: 'pathological', classesPerClient: k }, labels, clients, seed)).toEqual(parts);
      }),
      { numRuns: 25 },
    );
    expect(() => partition({ kind: 'pathological', classesPerClient: 11 }, labels, 4, 1)).toThrow(/partition.classesPerClient must be an integer in \[1, 10\], got 11/);
  });

  it('shard: each client gets shardsPerClient × shardSize samples from few classes', () => {
    const parts = partition({ kind: 'shard', shardsPerClient: 2, shardSize: 100 }, labels, 10, 4);
    expect(disjoint(parts)).toBe(true);
    expect(parts.every((p) => p.length === 200)).toBe(true);
    expect(Math.max(...parts.map(classesOf))).toBeLessThanOrEqual(4);
    expect(() => partition({ kind: 'shard', shardsPerClient: 5, shardSize: 100 }, labels, 10, 4)).toThrow(/shardsPerClient × shardSize \(10 × 5 × 100\) must be ≤ the number of samples \(3000\)/);
  });

  it('quantity: sizes are skewed, respect minSize and cover all samples; labels stay IID', () => {
    for (const distribution of ['power-law', 'log-normal'] as const) {
      const parts = partition({ kind: 'quantity', distribution, exponent: 1.5, sigma: 1.5, minSize: 20 }, labels, 12, 2);
      expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
      const sizes = parts.map((p) => p.length);
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(20);
      expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(3);
    }
  });

  it('dirichlet: a very large alpha approaches the global label distribution, alpha = 0.05 is highly skewed', () => {
    const share = (p: number[]) => Math.max(...Array.from({ length: 10 }, (_, c) => p.filter((i) => labels[i] === c).length)) / p.length;
    const flat = partition({ kind: 'dirichlet', alpha: 1e4, minSize: 1 }, labels, 5, 1);
    expect(Math.max(...flat.map(share))).toBeLessThan(0.13);
    const skew = partition({ kind: 'dirichlet', alpha: 0.05, minSize: 1 }, labels, 5, 1);
    expect(skew.map(share).reduce((a, b) => a + b, 0) / 5).toBeGreaterThan(0.5);
  });

  it('from-file: accepts disjoint in-range lists and explains what is wrong otherwise', () => {
    expect(parsePartitionFile('[[0,1],[2]]', 'p.json')).toEqual([[0, 1], [2]]);
    expect(parsePartitionFile('client,index\n0,5\n1,6\n0,7\n', 'p.csv')).toEqual([[5, 7], [6]]);
    expect(parsePartitionFile('1,2,3\n4,5\n', 'p.csv')).toEqual([[1, 2, 3], [4, 5]]);
    expect(partition({ kind: 'from-file', parts: [[3, 1], [2]] }, labels, 2, 0)).toEqual([[1, 3], [2]]);
    expect(() => partition({ kind: 'from-file', parts: [[1], [1]] }, labels, 2, 0)).toThrow(/index 1 is listed twice/);
    expect(() => partition({ kind: 'from-file', parts: [[1], [9999]] }, labels, 2, 0)).toThrow(/outside \[0, 3000\)/);
    expect(() => partition({ kind: 'from-file', parts: [[1]] }, labels, 2, 0)).toThrow(/lists 1 clients, fleet.clients is 2/);
  });

  it('feature-noise: IID labels, noise levels spread over [0, maxNoise]', () => {
    const levels = featureNoiseLevels({ kind: 'feature-noise', maxNoise: 0.3 }, 4);
    [0, 0.1, 0.2, 0.3].forEach((v, i) => expect(levels[i]).toBeCloseTo(v, 12));
    expect(featureNoiseLevels({ kind: 'iid' }, 3)).toEqual([0, 0, 0]);
  });
});

describe('dirichlet, per-client scheme (Hsu et al. 2019)', () => {
  const perClient = (alpha: number, extra: object = {}) => ({ kind: 'dirichlet' as const, alpha, minSize: 1, scheme: 'per-client' as const, ...extra });
  const toHellinger = (labels: Int32Array, parts: number[][]) => {
    const global = frequencies(labelCounts(labels, Array.from({ length: labels.length }, (_, i) => i), 10));
    return parts.map((p) => hellinger(frequencies(labelCounts(labels, p, 10)), global));
  };

  it('disjoint, covers the pool, equal sizes (±1); same seed same partition (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 60, max: 600 }), fc.double({ min: 0.01, max: 100, noNaN: true }), fc.integer(), (clients, n, alpha, seed) => {
        const labels = labelsOf(n);
        const parts = partition(perClient(alpha), labels, clients, seed);
        expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(partition(perClient(alpha), labels, clients, seed)).toEqual(parts);
      }),
      { numRuns: 40 },
    );
  });

  it('sizes from a quantity distribution: skewed, at least minSize, still disjoint and complete', () => {
    const labels = labelsOf(3000);
    const parts = partition(perClient(0.5, { sizes: 'power-law', exponent: 1.5, minSize: 20 }), labels, 12, 2);
    expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    const sizes = parts.map((p) => p.length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(3);
  });

  it('α → ∞ approaches the global mix (to sampling noise); α = 0.05 is highly skewed', () => {
    const labels = labelsOf(6000);
    const mean = (h: number[]) => h.reduce((a, b) => a + b, 0) / h.length;
    const flat = toHellinger(labels, partition(perClient(1e5), labels, 20, 1));
    const skew = toHellinger(labels, partition(perClient(0.05), labels, 20, 1));
    // 300 samples of 10 equally likely classes sit ≈ 0.06 from the mix by chance alone
    expect(mean(flat)).toBeLessThan(0.08);
    expect(Math.max(...flat)).toBeLessThan(0.15);
    // a one-class client is 0.83 from the uniform mix; the pool runs out of popular classes, so not every client can be
    expect(mean(skew)).toBeGreaterThan(0.6);
  });

  it('makes 1,000 clients at α = 0.1 from the committed subset’s 6,000 labels, where the per-class scheme cannot (and says to switch)', () => {
    const labels = labelsOf(6000);
    const parts = partition(perClient(0.1), labels, 1000, 7);
    expect(parts.every((p) => p.length === 6)).toBe(true);
    expect(toHellinger(labels, parts).reduce((a, b) => a + b, 0) / 1000).toBeGreaterThan(0.6);
    expect(() => partition({ kind: 'dirichlet', alpha: 0.1, minSize: 2 }, labels, 1000, 7)).toThrow(/use partition.scheme: per-client/);
  });

  it('with minSize 0 makes a population larger than the pool (clients without data, as in cross-device fleets), still disjoint and complete', () => {
    const labels = labelsOf(600);
    const equal = partition(perClient(0.1, { minSize: 0 }), labels, 1000, 3);
    expect(equal.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(equal.filter((p) => p.length === 1)).toHaveLength(600);
    const skewed = partition(perClient(0.1, { minSize: 0, sizes: 'log-normal', sigma: 2 }), labels, 1000, 3);
    expect(skewed.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(skewed.filter((p) => p.length === 0).length).toBeGreaterThan(500);
  });

  it('refuses a fleet the pool cannot fill at minSize, naming the option', () => {
    expect(() => partition(perClient(0.1, { minSize: 10 }), labelsOf(500), 60, 1)).toThrow(PartitionError);
    expect(() => partition(perClient(0.1, { minSize: 10 }), labelsOf(500), 60, 1)).toThrow(/partition.minSize × fleet.clients \(10 × 60\) must be ≤ the number of samples \(500\)/);
  });
});
