import { averageWeights } from '../codec/tf-frames.ts';
import type { WeightArray } from '../model/split.ts';
import type { ClientUpdate } from './strategy.ts';

/** FedAvg of the updates' weights, weighted by samples; no update leaves `fallback` unchanged. */
export function sampleWeightedAverage(updates: readonly ClientUpdate[], fallback: readonly WeightArray[]): readonly WeightArray[] {
  if (updates.length === 0) return fallback;
  return averageWeights(updates.map((u) => u.weights), updates.map((u) => u.samples));
}
