import type { RoundStrategy } from './strategy.ts';

/** Vanilla split learning: one client at a time; the head+tail passes from client to client. */
export const sequential: RoundStrategy = {
  mode: 'sequential',
  summary: 'one client at a time, head/tail handed from client to client',
  middle: 'shared',
  phases: (selected) => selected.map((id) => [id]),
  startWeights: (_id, state, earlier) => earlier[earlier.length - 1]?.weights ?? state.global,
  aggregate: (state, updates) => updates[updates.length - 1]?.weights ?? state.global,
  evaluate: 'global',
  clientsHold: 'own',
  clock: 'serial',
};
