import { z } from 'zod';
import { averageWeights } from '../codec/tf-frames.ts';
import type { WeightArray } from '../model/split.ts';

/**
 * How the server combines client weights (heads/tails in the averaging modes, and sflv1's middle
 * copies): `mean` is FedAvg, weighted by each client's samples (the default, exact SplitFed);
 * `median` and `trimmed-mean` are the coordinate-wise robust rules of Yin et al. (ICML 2018),
 * unweighted (a sample count is a claim), which tolerate a minority of arbitrary updates — an honest
 * majority is assumed: with half the updates or more hostile, no rule here protects the model.
 */
export const AggregationSchema = z.discriminatedUnion('rule', [
  z.object({ rule: z.literal('mean') }).strict(),
  z.object({ rule: z.literal('median') }).strict(),
  /** Drops the `trim` fraction of the largest and of the smallest values of every coordinate. */
  z.object({ rule: z.literal('trimmed-mean'), trim: z.number().min(0).lt(0.5).default(0.1) }).strict(),
]);
export type Aggregation = z.infer<typeof AggregationSchema>;

export interface WeightedUpdate {
  readonly weights: readonly WeightArray[];
  readonly samples: number;
}

/** Combines updates (at least one) under the rule; every list has the same layout. */
export function combineUpdates(rule: Aggregation, updates: readonly WeightedUpdate[]): WeightArray[] {
  if (updates.length === 0) throw new Error('combineUpdates: no updates');
  if (rule.rule === 'mean') return averageWeights(updates.map((u) => u.weights), updates.map((u) => u.samples));
  const keep = rule.rule === 'median' ? medianOf : trimmedMeanOf(Math.floor(rule.trim * updates.length));
  return updates[0]!.weights.map((w, j) => {
    const out = new Float32Array(w.values.length);
    const column = new Float64Array(updates.length);
    for (let k = 0; k < out.length; k++) {
      updates.forEach((u, i) => (column[i] = u.weights[j]!.values[k]!));
      out[k] = keep(column.sort());
    }
    return { name: w.name, shape: w.shape, values: out };
  });
}

/** The median of sorted values (the mean of the middle two for an even count). */
function medianOf(sorted: Float64Array): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** The mean of sorted values without the `cut` smallest and `cut` largest. */
function trimmedMeanOf(cut: number): (sorted: Float64Array) => number {
  return (sorted) => {
    let s = 0;
    for (let i = cut; i < sorted.length - cut; i++) s += sorted[i]!;
    return s / (sorted.length - 2 * cut);
  };
}
