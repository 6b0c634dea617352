import type { RoundStrategy } from './strategy.ts';

/**
 * SplitFedV1 (Thapa et al., AAAI 2022): clients train in parallel, the server keeps one middle copy per
 * client (each updated only by that client's steps, with its own optimiser for the round), and at
 * round end the middle copies are averaged weighted by samples, together with heads and tails.
 */
export const sflv1: RoundStrategy = {
  mode: 'sflv1',
  summary: 'all clients in parallel, one middle copy per client, middles and heads/tails aggregated',
  middle: 'per-client',
  phases: (selected) => (selected.length ? [[...selected]] : []),
  startWeights: (_id, state) => state.global,
  aggregate: (state, updates, combine) => (updates.length ? combine(updates) : state.global),
  evaluate: 'global',
  clientsHold: 'global',
  clock: 'parallel',
};
