import { Rng } from '../rng/rng.ts';
import type { ClientProfile } from '../population/profiles.ts';
import { isOnline, type Availability } from '../population/availability.ts';

/** Whether a client takes part in a round: the availability generator and its trace say online, and its dropout draw says present. */
export function isAvailable(p: ClientProfile, round: number, clientId: number, seed: number, availability: Availability = { kind: 'always' }): boolean {
  if (!isOnline(availability, seed, clientId, round)) return false;
  if (p.onlineRounds && !p.onlineRounds.some(([a, b]) => round >= a && round < b)) return false;
  if (p.dropoutProbability <= 0) return true;
  return Rng.fromSeed(seed).fork(`dropout:${clientId}:${round}`).float() >= p.dropoutProbability;
}

/** Seeded client sampling: a fraction (0,1] or a count ≥ 1 of the eligible ids. */
export function sampleClients(eligible: readonly number[], sample: number, round: number, seed: number): number[] {
  if (!(sample > 0)) throw new Error(`fleet.sample must be > 0 (a fraction ≤ 1 or a count), got ${sample}`);
  const k = sample <= 1 ? Math.max(1, Math.round(sample * eligible.length)) : Math.min(eligible.length, Math.floor(sample));
  if (k >= eligible.length) return [...eligible];
  return Rng.fromSeed(seed).fork(`sample:${round}`).shuffle(eligible).slice(0, k).sort((a, b) => a - b);
}

/** Who takes part in a round, and why the others do not. */
export interface Selection {
  /** Connected clients whose trace and dropout draw say they are present. */
  readonly available: readonly number[];
  /** The seeded sample of the available clients. */
  readonly sampled: readonly number[];
  /** Sampled clients predicted to miss the deadline. */
  readonly stragglers: readonly number[];
  /** Sampled and within the deadline: the round's clients, sorted. */
  readonly selected: readonly number[];
  /** Connected clients that were not sampled (unavailable ones included). */
  readonly notSelected: readonly number[];
}

export interface SelectionInputs {
  readonly connected: readonly number[];
  readonly profiles: readonly ClientProfile[];
  /** fleet.availability: generated on/off patterns (always on by default). */
  readonly availability?: Availability;
  readonly round: number;
  readonly seed: number;
  /** fleet.sample: a fraction in (0, 1] or a count. */
  readonly sample: number;
  readonly deadlineSeconds: number | null;
  /** Predicted simulated seconds of a client's round (see deadline.ts). */
  readonly predictSeconds: (id: number) => number;
}

/** Availability (traces, dropout draws) → seeded sampling → deadline: who takes part this round. */
export function selectClients(s: SelectionInputs): Selection {
  const available = s.connected.filter((id) => isAvailable(s.profiles[id]!, s.round, id, s.seed, s.availability));
  const sampled = available.length ? sampleClients(available, s.sample, s.round, s.seed) : [];
  const deadline = s.deadlineSeconds;
  const stragglers = deadline === null ? [] : sampled.filter((id) => s.predictSeconds(id) > deadline);
  const chosen = new Set(sampled); // a set: a population run checks 100,000 ids against it
  return {
    available, sampled, stragglers,
    selected: sampled.filter((id) => !stragglers.includes(id)),
    notSelected: s.connected.filter((id) => !chosen.has(id)),
  };
}
