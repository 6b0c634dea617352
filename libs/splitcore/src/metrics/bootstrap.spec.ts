import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../rng/rng.ts';
import { bootstrapInterval, bootstrapIntervals, columnMeans, formatBootstrap, formatBootstrapBounds, quantileSorted, type RunRows } from './bootstrap.ts';

const first = (c: readonly number[]) => c[0]!;
const difference = (c: readonly number[]) => c[0]! - c[1]!;

/** `runs` runs of `rows` images; each run's level drawn around `mean` (sd `between`), each image around its run's (sd 1). */
function synthetic(rng: Rng, runs: number, rows: number, mean: number, between: number): RunRows[] {
  return Array.from({ length: runs }, () => {
    const level = mean + between * rng.normal();
    return Array.from({ length: rows }, () => [level + rng.normal()]);
  });
}

describe('two-level bootstrap intervals', () => {
  it('the figure is the mean over runs of each run\'s mean (runs weigh equally)', () => {
    const runs = [[[1, 0], [0, 0]], [[1, 1], [1, 1], [1, 1], [1, 1]]];
    expect(columnMeans(runs)).toEqual([0.75, 0.5]);
    const i = bootstrapInterval(runs, first, { seed: 1, resamples: 100 });
    expect(i.estimate).toBe(0.75);
    expect(i.runs).toBe(2);
    expect(i.rows).toBe(6);
  });

  it('covers a known mean about 95 % of the time (one run of 100 images, 300 data sets, fixed seed)', () => {
    const rng = Rng.fromSeed(7);
    let covered = 0;
    for (let d = 0; d < 300; d++) {
      const i = bootstrapInterval(synthetic(rng, 1, 100, 0.3, 0), first, { seed: d, resamples: 400 });
      if (i.low <= 0.3 && 0.3 <= i.high) covered++;
    }
    expect(covered / 300).toBeGreaterThan(0.9);
    expect(covered / 300).toBeLessThan(0.99);
  });

  it('counts the spread between runs: 10 runs whose levels differ cover the known mean (≥ 85 %) where image-only resampling would not', () => {
    const rng = Rng.fromSeed(11);
    let covered = 0;
    let imageOnlyCovered = 0;
    for (let d = 0; d < 150; d++) {
      const runs = synthetic(rng, 10, 50, 0.3, 0.5);
      const i = bootstrapInterval(runs, first, { seed: d, resamples: 300 });
      if (i.low <= 0.3 && 0.3 <= i.high) covered++;
      // the same data pooled into one run: only image noise is resampled
      const pooled = bootstrapInterval([runs.flat()], first, { seed: d, resamples: 300 });
      if (pooled.low <= 0.3 && 0.3 <= pooled.high) imageOnlyCovered++;
    }
    expect(covered / 150).toBeGreaterThanOrEqual(0.85);
    expect(imageOnlyCovered / 150).toBeLessThan(0.7);
  });

  it('a paired difference on correlated outcomes is much narrower than the unpaired one', () => {
    const rng = Rng.fromSeed(3);
    // each image has its own difficulty shared by both methods; method 0 is 0.1 ahead
    const runs = [0, 1, 2].map(() => Array.from({ length: 200 }, () => {
      const difficulty = 3 * rng.normal();
      return [difficulty + 0.1 + 0.2 * rng.normal(), difficulty + 0.2 * rng.normal()];
    }));
    const paired = bootstrapInterval(runs, difference, { seed: 5 });
    const unpaired = bootstrapInterval(runs, difference, { seed: 5, paired: false });
    expect(paired.estimate).toBe(unpaired.estimate);
    expect(paired.high - paired.low).toBeLessThan(0.25 * (unpaired.high - unpaired.low));
    expect(paired.low).toBeGreaterThan(0); // the paired comparison resolves the 0.1 gap
    expect(unpaired.low).toBeLessThan(0); // the unpaired one cannot
  });

  it('is a pure function of data and seed; shifting every outcome shifts the interval (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (values, c, seed) => {
          const runs = values.map((run) => run.map((v) => [v]));
          const a = bootstrapInterval(runs, first, { seed, resamples: 50 });
          expect(bootstrapInterval(runs, first, { seed, resamples: 50 })).toEqual(a);
          const b = bootstrapInterval(runs.map((run) => run.map(([v]) => [v! + c])), first, { seed, resamples: 50 });
          expect(b.low).toBeCloseTo(a.low + c, 9);
          expect(b.high).toBeCloseTo(a.high + c, 9);
          expect(a.low).toBeLessThanOrEqual(a.high);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('an undefined statistic drops the resample; undefined everywhere or bad input is refused', () => {
    const runs = [[[1, 0], [1, 1]]];
    const ratio = bootstrapInterval(runs, (c) => c[0]! / c[1]!, { seed: 2, resamples: 200 });
    expect(ratio.resamples).toBeLessThan(200); // the resamples that drew [1, 0] twice divide by zero
    expect(ratio.estimate).toBe(2);
    expect(() => bootstrapInterval([[[1, 0]]], (c) => c[0]! / c[1]!, { seed: 2, resamples: 20 })).toThrow(/undefined on every resample/);
    expect(() => bootstrapInterval([], first, { seed: 1 })).toThrow(/no runs/);
    expect(() => bootstrapInterval([[[1]], []], first, { seed: 1 })).toThrow(/run 1 has no rows/);
    expect(() => bootstrapInterval([[[1, 2], [3]]], first, { seed: 1 })).toThrow(/1 columns, expected 2/);
    expect(() => bootstrapInterval([[[NaN]]], first, { seed: 1 })).toThrow(/non-finite/);
    expect(() => bootstrapInterval([[[1]]], first, { seed: 1, resamples: 5 })).toThrow(/resamples/);
    expect(() => bootstrapInterval([[[1]]], first, { seed: 1, level: 1 })).toThrow(/level/);
  });

  it('several statistics share one pass: each equals its own call with the same seed; an undefined one is null', () => {
    const runs = [[[1, 1], [0, 1], [1, 0]], [[1, 1], [0, 0]]];
    const both = bootstrapIntervals(runs, { a: first, d: difference, none: () => NaN }, { seed: 9, resamples: 300 });
    expect(both.a).toEqual(bootstrapInterval(runs, first, { seed: 9, resamples: 300 }));
    expect(both.d).toEqual(bootstrapInterval(runs, difference, { seed: 9, resamples: 300 }));
    expect(both.none).toBeNull();
  });

  it('quantiles interpolate as R type 7; the format names estimate and bounds', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
    const i = { runs: 3, rows: 9, estimate: 0.42, low: 0.351, high: 0.4884, resamples: 2000 };
    expect(formatBootstrapBounds(i, 'percent')).toBe('42.0 % [35.1, 48.8]');
    expect(formatBootstrap(i, 'percent')).toBe('42.0 ± 6.9 %');
    expect(formatBootstrap({ ...i, estimate: 0.69, low: 0.55, high: 0.81 }, 'ratio')).toBe('0.69 ± 0.13×');
    expect(formatBootstrapBounds(null, 'ratio')).toBe('–');
  });
});
