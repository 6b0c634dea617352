import type { RoundStrategy } from './strategy.ts';

/** Clients keep their own head and tail for the whole run; only the middle is shared and trained by all. */
export const local: RoundStrategy = {
  mode: 'local',
  summary: 'all clients in parallel, each keeps its own head/tail, one shared middle',
  middle: 'shared',
  phases: (selected) => (selected.length ? [[...selected]] : []),
  startWeights: (id, state) => state.perClient.get(id) ?? state.global,
  aggregate: (state) => state.global,
  evaluate: 'per-client',
  clientsHold: 'own',
  clock: 'parallel',
};
