import type { GradientObservation, ServerTaps } from '@splitfleet/splitcore';

/** One client batch as the server saw it: smashed data z and the gradient gm returned for it. */
export interface ObservedBatch {
  readonly clientId: number;
  readonly round: number;
  readonly step: number;
  readonly batch: number;
  readonly z: Float32Array;
  readonly gm: Float32Array;
}

/**
 * A tap that keeps the most recent `capacity` (z, gm) batches the server handled — everything the
 * observation-based shadow objectives use, and nothing a server could not see.
 */
export class ObservationRecorder implements ServerTaps {
  readonly name = 'spadv-recorder';
  private readonly capacity: number;
  private readonly batches: ObservedBatch[] = [];
  seen = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`attack.observe.batches must be an integer ≥ 1, got ${capacity}`);
    this.capacity = capacity;
  }

  async onGradient(o: GradientObservation): Promise<void> {
    // copy: the server frees these tensors when the hook returns
    const [z, gm] = await Promise.all([o.z.data(), o.gm.data()]);
    this.batches.push({ clientId: o.clientId, round: o.round, step: o.step, batch: o.z.shape[0]!, z: z as Float32Array, gm: gm as Float32Array });
    this.seen++;
    if (this.batches.length > this.capacity) this.batches.shift();
  }

  /** Restores recorded batches (resume from a checkpoint). */
  restore(batches: readonly ObservedBatch[]): void {
    this.batches.splice(0, this.batches.length, ...batches.slice(-this.capacity));
  }

  get observed(): readonly ObservedBatch[] {
    return this.batches;
  }
}

/** Concatenates observed batches into row matrices. */
export function stackObservations(batches: readonly ObservedBatch[]): { n: number; z: Float32Array; gm: Float32Array } {
  const n = batches.reduce((a, b) => a + b.batch, 0);
  const zLen = batches.reduce((a, b) => a + b.z.length, 0);
  const gLen = batches.reduce((a, b) => a + b.gm.length, 0);
  const z = new Float32Array(zLen);
  const gm = new Float32Array(gLen);
  let zo = 0;
  let go = 0;
  for (const b of batches) {
    z.set(b.z, zo);
    gm.set(b.gm, go);
    zo += b.z.length;
    go += b.gm.length;
  }
  return { n, z, gm };
}
