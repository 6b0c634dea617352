import type { RoundStrategy } from './strategy.ts';

/**
 * SplitFed with a shared middle (the lockstep, micro-batched variant): every selected client trains
 * in parallel from the global head+tail; the server runs the middle once per step over all their
 * smashed data; at round end heads and tails are averaged weighted by samples (SplitFed's "fed server").
 */
export const splitfed: RoundStrategy = {
  mode: 'splitfed',
  summary: 'all clients in parallel, one shared middle micro-batched per step, heads/tails aggregated',
  middle: 'shared',
  phases: (selected) => (selected.length ? [[...selected]] : []),
  startWeights: (_id, state) => state.global,
  aggregate: (state, updates, combine) => (updates.length ? combine(updates) : state.global),
  evaluate: 'global',
  clientsHold: 'global',
  clock: 'parallel',
};
