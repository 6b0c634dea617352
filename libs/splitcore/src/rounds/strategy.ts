import type { WeightArray } from '../model/split.ts';

/** What a client sent back at the end of its part of a round (its head+tail and how much data it used). */
export interface ClientUpdate {
  readonly id: number;
  readonly weights: readonly WeightArray[];
  readonly samples: number;
}

/** Combines at least one update into one set of weights (rounds/aggregate.ts). */
export type Combine = (updates: readonly ClientUpdate[]) => readonly WeightArray[];

/** The client-side (head+tail) weights the server holds between rounds. */
export interface HeadTailState {
  /** The shared model of the modes that share one; the initial weights in `local`. */
  readonly global: readonly WeightArray[];
  /** Each client's head+tail at the end of its last completed round. */
  readonly perClient: ReadonlyMap<number, readonly WeightArray[]>;
}

/**
 * A training mode, in the spirit of Flower's `Strategy`: the server's round loop is the same for every
 * mode and asks the strategy each question below. Pure: no sockets, tensors or clocks.
 *
 * A round is a list of phases run one after another; a phase's clients train together, their steps
 * served in lockstep by the server.
 */
export interface RoundStrategy {
  readonly mode: string;
  /** One line for docs and logs. */
  readonly summary: string;
  /**
   * How the server serves a phase's steps: `shared`: one middle, each step micro-batched over the
   * phase's clients (one VJP, one update); `per-client`: the server keeps one middle copy per client
   * for the round, each client's steps update its own copy, and the copies are averaged at round end
   * weighted by samples.
   */
  readonly middle: 'shared' | 'per-client';
  /** Client groups, trained one after another; `selected` is sorted. */
  phases(selected: readonly number[], round: number, seed: number): number[][];
  /**
   * Head+tail a client starts its phase with. `earlier` holds the updates of the phases already run
   * in this round, in order (what `sequential` passes from client to client).
   */
  startWeights(id: number, state: HeadTailState, earlier: readonly ClientUpdate[]): readonly WeightArray[];
  /**
   * The shared head+tail after the round, from the round's updates in the order they completed;
   * `combine` is the configured aggregation rule (training.aggregation: FedAvg or a robust rule).
   */
  aggregate(state: HeadTailState, updates: readonly ClientUpdate[], combine: Combine): readonly WeightArray[];
  /** `global`: one evaluation of the shared model; `per-client`: every client evaluates its own. */
  readonly evaluate: 'global' | 'per-client';
  /**
   * The head+tail each client holds when training ends (what an attack on "that client's model" is
   * run against): `own`: its own last update (clients never synchronise, or hand the model on and keep
   * their copy); `global`: the shared model every client received at the last round end.
   */
  readonly clientsHold: 'own' | 'global';
  /** Virtual clock of a round: clients in parallel (the slowest counts) or one after another (sum). */
  readonly clock: 'parallel' | 'serial';
}
