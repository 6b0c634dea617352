import type { Ack, ErrorReply, PartModel, ServedTraining } from '@splitfleet/splitcore';
import type { FramePolicy } from '../frames.ts';
import type { TapQueue } from '../tap-queue.ts';

export type ForwardAck = Ack<{ type: 'middle'; m: Uint8Array }>;
export type BackwardAck = Ack<{ type: 'gradient'; gz: Uint8Array }>;

/** What a step engine reports back to the round it serves. */
export interface StepEvents {
  /** A client missed its part of a step: the round drops it. */
  readonly drop: (id: number, why: string) => void;
  /** Bytes a client sent (up) or received (down) in one message: the virtual clock's input. */
  readonly count: (id: number, up: number, down: number) => void;
  /** A lockstep step completed (progress bars). */
  readonly step: (round: number, step: number, steps: number) => void;
}

export interface StepServingDeps {
  /** The authoritative middle (evaluation, checkpoints and the attack read it). */
  readonly middle: PartModel;
  readonly frames: FramePolicy;
  readonly taps: TapQueue;
  readonly stepTimeoutMs: number;
  readonly events: StepEvents;
  /** The run's seed: the middle's per-step dropout masks derive from it. */
  readonly seed: number;
  /** Most rows the shared middle serves in one call (`server.middleChunkRows`); null: a step's rows at once. */
  readonly middleChunkRows: number | null;
}

/**
 * How the server serves the training steps of one phase of a round. The round strategy's `middle`
 * picks the engine: `shared` (lockstep, micro-batched over the phase's clients, one middle) or
 * `per-client` (a middle copy per client, averaged at round end).
 */
export interface StepServing {
  /** Starts a phase: these clients, each with its number of steps. */
  beginPhase(round: number, steps: ReadonlyMap<number, number>): Promise<void>;
  /** A training forward of client `id` (its smashed-data frame). An error reply is the client's fault. */
  forward(id: number, round: number, step: number, z: Uint8Array, ack: ForwardAck): ErrorReply | null;
  /** A backward of client `id` (the gradient frame is decoded against its forward in flight). */
  backward(id: number, round: number, step: number, gm: Uint8Array, ack: BackwardAck): ErrorReply | null;
  /**
   * The middle a client's craft round trips (adversarial training) for its coming step `step` are
   * answered with — the one its training step will meet — or why it may not craft now.
   */
  craftMiddle(id: number, round: number, step: number): PartModel | string;
  /** The client left or was dropped: forget its state and stop waiting for it. */
  drop(id: number): void;
  /** The steps (and rows) the server answered a client's backward for in this round: what its roundDone may claim. */
  served(id: number): ServedTraining;
  /** Whether a client is training in the current phase. */
  isActive(id: number): boolean;
  /** Ends the phase: nothing is in flight any more. */
  endPhase(): void;
  /**
   * Ends the round: the middle the round leaves behind, from the clients that completed it
   * (`per-client` averages their copies weighted by samples; `shared` has nothing to do).
   */
  endRound(completed: ReadonlyMap<number, number>): Promise<void>;
  close(): Promise<void>;
}
