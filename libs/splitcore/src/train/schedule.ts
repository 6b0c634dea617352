import { Rng } from '../rng/rng.ts';

/**
 * The order in which a client visits its samples in a round, seeded by (seed, client id, round):
 * independent of timing, worker placement and of which host runs the client.
 */
export function batchOrder(seed: number, clientId: number, round: number, indices: readonly number[]): number[] {
  return Rng.fromSeed(seed).fork(`client:${clientId}:round:${round}`).shuffle(indices);
}

/** Number of steps a client runs in a round: one local epoch, optionally capped. */
export function stepsPerRound(samples: number, batchSize: number, maxSteps: number | null): number {
  const epoch = Math.ceil(samples / batchSize);
  return maxSteps === null ? epoch : Math.min(epoch, maxSteps);
}
