import type * as tf from '@tensorflow/tfjs-core';
import type { PartSpec, WeightArray } from '../model/split.ts';

/**
 * What an honest-but-curious split-learning server legitimately sees, as hook payloads. These types
 * are the whole capability of an attack: client heads, tails, raw inputs and labels are not
 * reachable from them, and neither is the socket, the io server or the protocol.
 *
 * Tensor ownership: the tensors a hook is given are views (clones) made for it: disposing them cannot
 * free the server's own tensors, and they are freed after every hook has seen them, so a hook copies
 * (`await t.data()` or `tf.clone`) anything it keeps. Hooks run after the clients' acknowledgements,
 * from a bounded queue (server.taps): a slow hook delays observations, not training.
 */
export interface SmashedObservation {
  readonly clientId: number;
  readonly round: number;
  readonly step: number;
  /** The smashed data (head output) of one client's batch. */
  readonly z: tf.Tensor;
}

export interface GradientObservation {
  readonly clientId: number;
  readonly round: number;
  readonly step: number;
  /** The smashed data this gradient belongs to. */
  readonly z: tf.Tensor;
  /** The gradient of the client's loss at the middle's output, as the client returned it. */
  readonly gm: tf.Tensor;
}

/** The server's own middle: its architecture and a snapshot of its weights. */
export interface MiddleView {
  readonly spec: PartSpec;
  weights(): Promise<WeightArray[]>;
}

export interface RoundEndObservation {
  readonly round: number;
  readonly middle: MiddleView;
}

/** Taps observe only (like socket.io onAny); they cannot change what the server does. */
export interface ServerTaps {
  readonly name: string;
  onSmashed?(o: SmashedObservation): void | Promise<void>;
  onGradient?(o: GradientObservation): void | Promise<void>;
  onRoundEnd?(o: RoundEndObservation): void | Promise<void>;
}

/** The tap events, derived from the hook map (no hand-typed list to fall out of step). */
export type TapEvent = Exclude<keyof ServerTaps, 'name'>;
export type TapPayload<E extends TapEvent> = Parameters<NonNullable<ServerTaps[E]>>[0];
