import { headerBytes } from '../codec/tensor-codec.ts';
import { float32Bytes } from '../model/shape.ts';
import { simulatedSeconds, type ClientProfile, type Traffic } from '../population/profiles.ts';

/** The tensors one training step moves between a client and the server (per-sample shapes). */
export interface StepShapes {
  /** Smashed data: the middle's input. */
  readonly smashed: readonly number[];
  /** The middle's output (and the gradient at it). */
  readonly middleOut: readonly number[];
}

/**
 * Traffic of `steps` training steps of `batch` samples, as the server counts it: the client sends
 * z and the gradient at the middle's output, and receives the middle's output and the gradient at
 * z — each one codec frame (its header included) and one message. `tripsPerStep` forward/backward
 * exchanges make one step (adversarial training: 1 + its PGD steps, `ClientDefences.roundTripsPerStep`). Dense
 * float32 frames: an upper bound for quantised and sparse ones, which are never larger.
 */
export function predictTraffic(shapes: StepShapes, batch: number, steps: number, tripsPerStep = 1): Traffic {
  const frame = (s: readonly number[]) => float32Bytes([batch, ...s]) + headerBytes(s.length + 1);
  const trips = steps * tripsPerStep;
  const perTrip = frame(shapes.smashed) + frame(shapes.middleOut);
  return { bytesUp: trips * perTrip, bytesDown: trips * perTrip, messages: 4 * trips };
}

/** A client's compute seconds per step: its own last measurement, else the fleet's median, else 0. */
export function secondsPerStepOf(id: number, measured: ReadonlyMap<number, number>): number {
  const own = measured.get(id);
  if (own !== undefined) return own;
  const known = [...measured.values()].sort((a, b) => a - b);
  return known[Math.floor(known.length / 2)] ?? 0;
}

/**
 * Predicted simulated seconds of a client's round: compute per step × steps plus its traffic over
 * its links (a measured step's seconds already include its crafting compute; its extra trips are
 * added here).
 */
export function predictRoundSeconds(profile: ClientProfile, secondsPerStep: number, shapes: StepShapes, batch: number, steps: number, tripsPerStep = 1): number {
  return simulatedSeconds(profile, secondsPerStep * steps, predictTraffic(shapes, batch, steps, tripsPerStep));
}
