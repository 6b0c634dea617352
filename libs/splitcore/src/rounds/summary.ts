import { z } from 'zod';
import { frequencies } from '../population/noniid.ts';
import { labelWeighted } from '../metrics/label-weighted.ts';
import { simulatedSeconds, type ClientProfile, type Traffic } from '../population/profiles.ts';
import type { EvalResult, RoundDone } from '../protocol/protocol.ts';
import type { Selection } from './selection.ts';
import type { RoundStrategy } from './strategy.ts';

const ids = z.array(z.number().int().nonnegative());
const maybe = z.number().nullable();

/** One client's line of a round in results.json. */
export const ClientRoundResultSchema = z.object({
  id: z.number().int().nonnegative(),
  samples: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  trainLoss: maybe,
  /** Accuracy on the test set of the model this client holds after the round. */
  testAccuracy: maybe,
  testLoss: maybe,
  /** Test accuracy re-weighted by this client's own label distribution. */
  labelWeightedAccuracy: maybe,
  computeSeconds: maybe,
  /** Virtual clock: compute × slowdown + traffic over the client's links + latency per message. */
  simulatedSeconds: maybe,
  bytesUp: z.number().nonnegative(),
  bytesDown: z.number().nonnegative(),
  /**
   * Frames exchanged in the round's steps, as the server counts them (up and down). A round trip —
   * one forward/backward exchange — is four: z up, the middle's output down, the gradient up, the
   * gradient at z down; adversarial training adds one per PGD step. Absent in results written
   * before it was recorded.
   */
  messages: z.number().int().nonnegative().optional(),
  /** Dropped from this round (timeout, disconnect or error). */
  dropped: z.boolean(),
}).strict();
export type ClientRoundResult = z.infer<typeof ClientRoundResultSchema>;

/** One round in results.json (`rounds[]`). */
export const RoundResultSchema = z.object({
  round: z.number().int().nonnegative(),
  testAccuracy: z.number(),
  testLoss: z.number(),
  trainLoss: maybe,
  wallSeconds: z.number().nonnegative(),
  simulatedSeconds: z.number().nonnegative(),
  /** Clients chosen for the round (available, sampled and within the deadline). */
  selected: ids,
  /** Available or not, not chosen this round; left empty beyond LISTED_NOT_SELECTED ids (a population run), with their count in notSelectedCount. */
  notSelected: ids,
  notSelectedCount: z.number().int().nonnegative().optional(),
  /** Left out because their predicted simulated time exceeded training.deadlineSeconds. */
  stragglers: ids,
  participants: ids,
  dropped: ids,
  clients: z.array(ClientRoundResultSchema),
}).strict();
export type RoundResult = z.infer<typeof RoundResultSchema>;

/** What the server knows of one client for the round summary. */
export interface ClientFacts {
  readonly samples: number;
  readonly labelCounts: readonly number[];
  readonly profile: ClientProfile;
  readonly traffic: Traffic;
}

export interface RoundFacts {
  readonly round: number;
  readonly strategy: Pick<RoundStrategy, 'evaluate' | 'clock'>;
  readonly selection: Pick<Selection, 'selected' | 'sampled' | 'stragglers' | 'notSelected'>;
  /** roundDone of every client that completed the round, in completion order. */
  readonly done: ReadonlyMap<number, RoundDone>;
  /** Evaluation per client (in `global` evaluation, the one result under every surviving client). */
  readonly evals: ReadonlyMap<number, EvalResult>;
  readonly client: (id: number) => ClientFacts;
  readonly wallSeconds: number;
}

/** Beyond this many, a round's not-selected ids are counted, not listed (100,000-client populations would list them every round). */
export const LISTED_NOT_SELECTED = 1000;

const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0);

function clientLine(f: RoundFacts, id: number): ClientRoundResult {
  const c = f.client(id);
  const d = f.done.get(id);
  const e = f.evals.get(id);
  return {
    id, samples: c.samples, steps: d?.steps ?? 0,
    trainLoss: d && d.samples > 0 ? d.lossSum / d.samples : null,
    testAccuracy: e ? sum(e.correctByClass) / e.samples : null,
    testLoss: e ? e.lossSum / e.samples : null,
    labelWeightedAccuracy: e && sum(c.labelCounts) > 0 ? labelWeighted(frequencies([...c.labelCounts]), e.totalByClass, e.correctByClass) : null,
    computeSeconds: d ? d.computeMs / 1000 : null,
    simulatedSeconds: d ? simulatedSeconds(c.profile, d.computeMs / 1000, c.traffic) : null,
    bytesUp: c.traffic.bytesUp, bytesDown: c.traffic.bytesDown, messages: c.traffic.messages, dropped: !d,
  };
}

/** The round's line of results.json, from what the server observed. Pure. */
export function summarizeRound(f: RoundFacts): RoundResult {
  const all = [...f.evals.values()];
  if (all.length === 0) throw new Error(`round ${f.round}: no client could evaluate`);
  // global evaluation: the same result sits under every client; count it once
  const uniq = f.strategy.evaluate === 'per-client' ? all : [all[0]!];
  const testSamples = sum(uniq.map((e) => e.samples));
  const trained = [...f.done.values()];
  const trainSamples = sum(trained.map((d) => d.samples));
  const clients = f.selection.selected.map((id) => clientLine(f, id));
  const sims = clients.map((c) => c.simulatedSeconds ?? 0);
  return {
    round: f.round,
    testAccuracy: sum(uniq.map((e) => sum(e.correctByClass))) / testSamples,
    testLoss: sum(uniq.map((e) => e.lossSum)) / testSamples,
    trainLoss: trainSamples > 0 ? sum(trained.map((d) => d.lossSum)) / trainSamples : null,
    wallSeconds: f.wallSeconds,
    simulatedSeconds: f.strategy.clock === 'serial' ? sum(sims) : Math.max(0, ...sims),
    selected: [...f.selection.selected],
    ...(f.selection.notSelected.length > LISTED_NOT_SELECTED
      ? { notSelected: [], notSelectedCount: f.selection.notSelected.length }
      : { notSelected: [...f.selection.notSelected] }),
    stragglers: [...f.selection.stragglers],
    participants: [...f.done.keys()].sort((a, b) => a - b),
    dropped: f.selection.selected.filter((id) => !f.done.has(id)),
    clients,
  };
}
