import type { EvalResult, RoundDone } from '../protocol/protocol.ts';

/**
 * What a client may claim is bounded by what the server assigned and served. These checks run on
 * every roundDone/evalDone before it can reach shared state (aggregation weights, results.json);
 * each returns null or one line saying what is wrong.
 */

/** The training the server itself served a client this round. */
export interface ServedTraining {
  /** Steps whose backward the server answered. */
  readonly steps: number;
  /** Rows of those steps' smashed data. */
  readonly samples: number;
}

const finiteNonNegative = (v: number) => Number.isFinite(v) && v >= 0;

/** `assignedSteps`: the steps roundStart gave the client; a roundDone comes only after all were served. */
export function roundDoneProblem(msg: Pick<RoundDone, 'steps' | 'samples' | 'lossSum' | 'computeMs'>, served: ServedTraining, assignedSteps: number): string | null {
  if (msg.steps !== assignedSteps || served.steps !== assignedSteps) return `steps ${msg.steps} but the server assigned ${assignedSteps} and served ${served.steps}`;
  if (msg.samples !== served.samples) return `samples ${msg.samples} but the server served ${served.samples} rows`;
  if (!finiteNonNegative(msg.lossSum)) return `lossSum ${msg.lossSum} is not a finite non-negative number`;
  if (!finiteNonNegative(msg.computeMs)) return `computeMs ${msg.computeMs} is not a finite non-negative number`;
  return null;
}

/** The evaluation the server assigned: how many test samples, and how many of each class. */
export interface AssignedEvaluation {
  readonly samples: number;
  readonly totalByClass: readonly number[];
}

export function evalResultProblem(msg: Pick<EvalResult, 'samples' | 'lossSum' | 'correctByClass' | 'totalByClass'>, assigned: AssignedEvaluation): string | null {
  const classes = assigned.totalByClass.length;
  if (msg.samples !== assigned.samples) return `samples ${msg.samples} but the server assigned ${assigned.samples}`;
  if (msg.totalByClass.length !== classes || msg.correctByClass.length !== classes) return `per-class counts must have ${classes} entries`;
  const k = msg.totalByClass.findIndex((t, c) => t !== assigned.totalByClass[c]);
  if (k >= 0) return `totalByClass[${k}] ${msg.totalByClass[k]} but the assigned test samples hold ${assigned.totalByClass[k]}`;
  const c = msg.correctByClass.findIndex((v, i) => !(Number.isInteger(v) && v >= 0 && v <= msg.totalByClass[i]!));
  if (c >= 0) return `correctByClass[${c}] ${msg.correctByClass[c]} is outside [0, ${msg.totalByClass[c]}]`;
  if (!finiteNonNegative(msg.lossSum)) return `lossSum ${msg.lossSum} is not a finite non-negative number`;
  return null;
}
