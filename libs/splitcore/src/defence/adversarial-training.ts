import * as tf from '@tensorflow/tfjs-core';
import type { PartModel } from '../model/part-model.ts';
import type { Rng } from '../rng/rng.ts';
import { headForward, inputVjp, tailLossGradient } from '../train/split-step.ts';
import type { DefenceSpec } from './spec.ts';

export type AdversarialSpec = Extract<DefenceSpec, { kind: 'adversarial' }>;

/**
 * The server's half of one craft round trip, as the client sees it: the middle's output for the
 * smashed data sent, then the gradient at the smashed data for the gradient returned. The client
 * frames, defends and sends; `k` numbers the PGD step (its defences' randomness).
 */
export interface CraftLink {
  forward(z: tf.Tensor, k: number): Promise<tf.Tensor>;
  backward(gm: tf.Tensor, k: number): Promise<tf.Tensor>;
}

/** The PGD step size of a spec: given, or Madry et al.'s 2.5·ε/steps. */
export function adversarialStepSize(d: AdversarialSpec): number {
  return d.stepSize ?? (2.5 * d.epsilon) / d.steps;
}

/**
 * Untargeted L∞ PGD on the client's own labelled batch through the whole U-shaped model, for
 * adversarial training: a seeded uniform start in the ε-ball, then `steps` signed-gradient ascent
 * steps of the loss, each projected back to the ball and to [0, 1]. Head and tail run evaluation
 * forwards and are not updated; the middle's part is `link` (one round trip per step), which the
 * server answers without updating the middle. Returns x_adv (the caller owns it); `x` is untouched.
 */
export async function craftThroughSplit(
  parts: { head: PartModel; tail: PartModel },
  x: tf.Tensor,
  labels: tf.Tensor1D,
  classes: number,
  d: AdversarialSpec,
  rng: Rng,
  link: CraftLink,
): Promise<tf.Tensor> {
  const start = new Float32Array(x.size);
  for (let i = 0; i < start.length; i++) start[i] = (2 * rng.float() - 1) * d.epsilon;
  const alpha = adversarialStepSize(d);
  const lo = tf.tidy(() => tf.maximum(tf.sub(x, d.epsilon), 0));
  const hi = tf.tidy(() => tf.minimum(tf.add(x, d.epsilon), 1));
  let xAdv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor(start, x.shape, 'float32')), 0, 1));
  try {
    for (let k = 0; k < d.steps; k++) {
      const z = headForward(parts.head, xAdv);
      const m = await link.forward(z, k).finally(() => z.dispose());
      const gm = tailLossGradient(parts.tail, m, labels, classes);
      m.dispose();
      const gz = await link.backward(gm, k).finally(() => gm.dispose());
      const gx = inputVjp(parts.head, xAdv, gz);
      gz.dispose();
      const next = tf.tidy(() => tf.minimum(tf.maximum(tf.add(xAdv, tf.mul(tf.sign(gx), alpha)), lo), hi));
      gx.dispose();
      xAdv.dispose();
      xAdv = next;
    }
    return xAdv;
  } catch (e) {
    xAdv.dispose();
    throw e;
  } finally {
    lo.dispose();
    hi.dispose();
  }
}
