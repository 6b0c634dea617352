import { Rng } from '../rng/rng.ts';
import type { RoundStrategy } from './strategy.ts';

/**
 * SplitFedV2 (Thapa et al., AAAI 2022): the server serves clients one at a time, in a seeded order
 * that changes every round, with one middle updated by each client's batches in turn; every client
 * starts from the round's global head+tail and heads/tails are averaged at round end.
 */
export const sflv2: RoundStrategy = {
  mode: 'sflv2',
  summary: 'one client at a time in a seeded order, one middle, heads/tails aggregated',
  middle: 'shared',
  phases: (selected, round, seed) => Rng.fromSeed(seed).fork(`sflv2-order:${round}`).shuffle(selected).map((id) => [id]),
  startWeights: (_id, state) => state.global,
  aggregate: (state, updates, combine) => (updates.length ? combine(updates) : state.global),
  evaluate: 'global',
  clientsHold: 'global',
  clock: 'serial',
};
