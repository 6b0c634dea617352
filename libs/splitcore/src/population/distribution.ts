import { quantileSorted } from '../metrics/bootstrap.ts';

/**
 * A distribution in a few numbers, for populations too large to list client by client
 * (results.json keeps these; the rows go to a CSV): quantiles and an equal-width histogram.
 */
export interface Distribution {
  readonly count: number;
  readonly mean: number;
  /** min, 10 %, 25 %, median, 75 %, 90 %, max. */
  readonly quantiles: { readonly min: number; readonly p10: number; readonly p25: number; readonly median: number; readonly p75: number; readonly p90: number; readonly max: number };
  /** `bins` equal-width bins from min to max: edges has bins + 1 values; the last bin includes max. */
  readonly histogram: { readonly edges: number[]; readonly counts: number[] };
}

export function distributionOf(values: ArrayLike<number>, bins = 20): Distribution {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: 0, quantiles: { min: 0, p10: 0, p25: 0, median: 0, p75: 0, p90: 0, max: 0 }, histogram: { edges: [], counts: [] } };
  const q = (p: number) => quantileSorted(sorted, p);
  const lo = sorted[0]!;
  const hi = sorted[n - 1]!;
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of sorted) counts[width > 0 ? Math.min(bins - 1, Math.floor((v - lo) / width)) : 0]!++;
  return {
    count: n, mean: sorted.reduce((s, v) => s + v, 0) / n,
    quantiles: { min: lo, p10: q(0.1), p25: q(0.25), median: q(0.5), p75: q(0.75), p90: q(0.9), max: hi },
    histogram: { edges: Array.from({ length: bins + 1 }, (_, k) => lo + k * width), counts },
  };
}
