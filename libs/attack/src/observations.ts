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
 * A tap that keeps the most recent (z, gm) batches the server handled, in arrival order — everything
 * the observation-based shadow objectives use, and nothing a server could not see. A server knows
 * which client sent each smashed batch: with `perClient` it keeps a ring of `capacity` batches for
 * every client (what per-client and per-cluster shadows need); without, one ring of `capacity`
 * batches for the whole fleet (the fleet shadow's budget, `capacity` × one batch of memory).
 */
export class ObservationRecorder implements ServerTaps {
  readonly name = 'spadv-recorder';
  private readonly capacity: number;
  private readonly batches: ObservedBatch[] = [];
  private readonly counts = new Map<number, number>();
  private readonly perClient: boolean;
  seen = 0;

  constructor(capacity: number, opts: { perClient?: boolean } = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`attack.observe.batches must be an integer ≥ 1, got ${capacity}`);
    this.capacity = capacity;
    this.perClient = opts.perClient ?? false;
  }

  async onGradient(o: GradientObservation): Promise<void> {
    // copy: the server frees these tensors when the hook returns
    const [z, gm] = await Promise.all([o.z.data(), o.gm.data()]);
    this.keep({ clientId: o.clientId, round: o.round, step: o.step, batch: o.z.shape[0]!, z: z as Float32Array, gm: gm as Float32Array });
    this.seen++;
  }

  /** Appends a batch; drops the oldest one of its ring (the client's, or the fleet's) when over capacity. */
  private keep(b: ObservedBatch): void {
    this.batches.push(b);
    if (!this.perClient) {
      if (this.batches.length > this.capacity) this.batches.shift();
      return;
    }
    const count = (this.counts.get(b.clientId) ?? 0) + 1;
    if (count <= this.capacity) {
      this.counts.set(b.clientId, count);
      return;
    }
    this.batches.splice(this.batches.findIndex((x) => x.clientId === b.clientId), 1);
  }

  /** Restores recorded batches in their arrival order (resume from a checkpoint). */
  restore(batches: readonly ObservedBatch[]): void {
    this.batches.length = 0;
    this.counts.clear();
    for (const b of batches) this.keep(b);
  }

  /** Every kept batch (with perClient, every client's ring) in arrival order. */
  get observed(): readonly ObservedBatch[] {
    return this.batches;
  }

  /** Bytes of smashed data and gradients held. */
  get bytes(): number {
    return observedBytes(this.batches);
  }
}

/** Bytes of the smashed data and gradients that observed batches hold (float32). */
export function observedBytes(batches: readonly ObservedBatch[]): number {
  return batches.reduce((s, b) => s + 4 * (b.z.length + b.gm.length), 0);
}

/** The fleet-wide observation budget: the last `capacity` batches of all clients, in arrival order. */
export function fleetView(observed: readonly ObservedBatch[], capacity: number): readonly ObservedBatch[] {
  return observed.slice(-capacity);
}

/** Bytes per observed batch of `batchSize` samples: the smashed data and the gradient at the middle's output, float32. */
export function observationBytes(batchSize: number, smashedSize: number, middleOutSize: number): number {
  return 4 * batchSize * (smashedSize + middleOutSize);
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
