import { z } from 'zod';
import { Rng } from '../rng/rng.ts';

/**
 * Generated availability for populations too large for trace files (issue #22): whether client i is
 * online in round r is a pure function of (spec, seed, i, r) — nothing is stored per client, so a
 * 100,000-client population costs no memory here. `diurnal`: a day of `period` rounds, each client
 * online for the fraction `online` of it, starting at its own seeded phase (time zones, habits), so
 * at any round about `online` of the population is on. Traces (`fleet.profiles.trace`,
 * `onlineRounds`) and per-round dropout still apply on top.
 */
export const AvailabilitySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('always') }).strict(),
  z.object({
    kind: z.literal('diurnal'),
    /** Rounds in one day. */
    period: z.number().int().min(2).default(24),
    /** Fraction of the day a client is online, in (0, 1]. */
    online: z.number().gt(0).max(1).default(0.5),
  }).strict(),
]);
export type Availability = z.infer<typeof AvailabilitySchema>;

/** Client `id`'s phase in [0, 1): where in the day its online window starts. */
export function diurnalPhase(seed: number, id: number): number {
  return Rng.fromSeed(seed).fork(`diurnal:${id}`).float();
}

/** Whether the generator says client `id` is online in `round`. */
export function isOnline(a: Availability, seed: number, id: number, round: number): boolean {
  if (a.kind === 'always') return true;
  // position in the client's own day, measured from the start of its online window
  const t = (round / a.period - diurnalPhase(seed, id)) % 1;
  return (t < 0 ? t + 1 : t) < a.online;
}
