import { batchOrder } from '@splitfleet/splitcore';
import type { ObservedBatch } from '../observations.ts';

/** What rebuilding the observed batches' labels needs: the training schedule and the clients' data. */
export interface TrainingSchedule {
  /** The run's seed (batch order is seeded by it). */
  readonly seed: number;
  /** training.batchSize of the run. */
  readonly batchSize: number;
  readonly labels: ArrayLike<number>;
  /** Training indices per client id. */
  readonly partitions: readonly (readonly number[])[];
}

/**
 * Evaluation only (the label-inference score): the true labels of the batches the server observed,
 * rebuilt from the seeded schedule. Null when nothing was observed or the schedule does not
 * reproduce the observed batch sizes.
 */
export function observedLabels(observed: readonly ObservedBatch[], s: TrainingSchedule): Int32Array | null {
  if (!observed.length) return null;
  const out: number[] = [];
  const bs = s.batchSize;
  for (const b of observed) {
    const order = batchOrder(s.seed, b.clientId, b.round, s.partitions[b.clientId] ?? []);
    for (const i of order.slice(b.step * bs, b.step * bs + b.batch)) out.push(s.labels[i]!);
  }
  return out.length === observed.reduce((sum, b) => sum + b.batch, 0) ? Int32Array.from(out) : null;
}

/** Class proportions of a set of samples, smoothed so that no class has probability 0 (a D_aux draw target). */
export function labelShares(idx: readonly number[], labels: ArrayLike<number>, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const i of idx) c[labels[i]!]!++;
  return c.map((v) => v + 1e-3);
}
