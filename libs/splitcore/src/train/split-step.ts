import * as tf from '@tensorflow/tfjs-core';
// The gradients these steps need are registered by the host at backend set-up (client-sim's
// node/backend.ts and browser/backend.ts, the lib tests' vitest setup), never on import of a lib.
import type { PartModel } from '../model/part-model.ts';
import { applyGradients } from './optimizer.ts';
import { paramGradsFromCache, type ForwardCache } from './cached-vjp.ts';
import { trainMode } from '../model/layers/kind.ts';

/**
 * The U-shaped training step, cut into the pieces each party runs. These functions are the one
 * training loop of splitfleet: the client, the server, the attack and the benchmarks all call them.
 * tfjs cannot keep a tape open across an async network hop, so the head and the middle keep their
 * layers' activations from the forward (cached-vjp.ts) and run the backward from them.
 */

/** Mean softmax cross-entropy of logits against integer labels. */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D, classes: number): tf.Scalar {
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}

/**
 * Training forwards run in training mode (batch statistics, dropout with the step's `seed`) and
 * move running statistics once per step; `headForward`/`middleForward` are evaluation forwards.
 */

/** Client: head forward for evaluation (running statistics), producing the smashed data. */
export function headForward(head: PartModel, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => head.apply(x));
}

/**
 * Client: head backward from the gradient at the smashed data, and update. `cache` is the step's
 * training forward (`forwardKeep(head, x)`): the backward runs from its activations instead of a
 * second forward pass, and skips the gradient at the raw input, which nobody uses.
 */
export function headBackward(head: PartModel, opt: tf.Optimizer, cache: ForwardCache, gz: tf.Tensor): void {
  const grads = paramGradsFromCache(head, cache, gz);
  applyGradients(opt, head.vars, grads);
  tf.dispose(grads);
}

/** Server: middle forward for evaluation. */
export function middleForward(middle: PartModel, z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => middle.apply(z));
}

/**
 * Server: vector–Jacobian product of the middle at z with gm, re-running the step's training
 * forward (same `seed`; running statistics left alone: the forward that served the step moved them).
 * Returns the gradient at z and the gradients of the middle's parameters (caller owns all of them).
 */
export function middleVjp(middle: PartModel, z: tf.Tensor, gm: tf.Tensor, seed = 0): { gz: tf.Tensor; grads: tf.Tensor[] } {
  const mode = trainMode(seed, false);
  const all = tf.grads((zz: tf.Tensor, ...ps: tf.Tensor[]) => middle.apply(zz, ps, mode))([z, ...middle.vars], gm);
  return { gz: all[0]!, grads: all.slice(1) };
}

/**
 * The gradient at a part's input of ⟨part(x), g⟩, with an evaluation forward and no parameter
 * gradients: the head's and the middle's backward while a client crafts an adversarial example
 * (U-shaped adversarial training), which updates nothing.
 */
export function inputVjp(part: PartModel, x: tf.Tensor, g: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(part.apply(xx), g)))(x));
}

/** Client, crafting: the gradient of the mean loss at the tail's input (evaluation forward, no update). */
export function tailLossGradient(tail: PartModel, m: tf.Tensor, labels: tf.Tensor1D, classes: number): tf.Tensor {
  return tf.tidy(() => tf.grad((mm: tf.Tensor) => crossEntropy(tail.apply(mm), labels, classes))(m));
}

/** Client: tail forward, loss, backward; updates the tail and returns the gradient at its input. */
export async function tailStep(
  tail: PartModel,
  opt: tf.Optimizer,
  m: tf.Tensor,
  labels: tf.Tensor1D,
  classes: number,
  seed = 0,
): Promise<{ loss: number; gm: tf.Tensor }> {
  const mode = trainMode(seed);
  const out = tf.tidy(() => {
    const f = (mm: tf.Tensor, ...ps: tf.Tensor[]) => crossEntropy(tail.apply(mm, ps, mode), labels, classes);
    const { value, grads } = tf.valueAndGrads(f)([m, ...tail.vars]);
    applyGradients(opt, tail.vars, grads.slice(1));
    return { loss: value, gm: grads[0]! };
  });
  // data(), not dataSync(): the webgpu backend cannot read synchronously in Node
  const loss = (await out.loss.data())[0] as number;
  out.loss.dispose();
  return { loss, gm: out.gm };
}

/** Client: tail forward only, for evaluation: summed loss and per-class correct/total counts. */
export async function tailEvaluate(
  tail: PartModel,
  m: tf.Tensor,
  labels: Int32Array,
  classes: number,
): Promise<{ lossSum: number; correctByClass: number[]; totalByClass: number[] }> {
  const [logp, pred] = tf.tidy(() => {
    const logits = tail.apply(m);
    return [tf.logSoftmax(logits), tf.argMax(logits, -1)] as const;
  });
  const lp = await logp.data();
  const pr = await pred.data();
  logp.dispose();
  pred.dispose();
  const correctByClass = new Array<number>(classes).fill(0);
  const totalByClass = new Array<number>(classes).fill(0);
  let lossSum = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    lossSum -= lp[i * classes + y]!;
    totalByClass[y]!++;
    if (pr[i] === y) correctByClass[y]!++;
  }
  return { lossSum, correctByClass, totalByClass };
}

/**
 * Reference: one step of ordinary training of the composed model in one process. Used to prove that
 * split training computes the same thing, and as the monolithic baseline in benchmarks.
 */
export async function composedStep(
  parts: readonly PartModel[],
  opt: tf.Optimizer,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  classes: number,
  seed = 0,
): Promise<number> {
  const vars = parts.flatMap((p) => p.vars);
  const mode = trainMode(seed);
  const loss = tf.tidy(() => {
    const f = (...ps: tf.Tensor[]) => {
      let h = x;
      let k = 0;
      for (const p of parts) {
        h = p.apply(h, ps.slice(k, k + p.vars.length), mode);
        k += p.vars.length;
      }
      return crossEntropy(h, labels, classes);
    };
    const { value, grads } = tf.valueAndGrads(f)(vars);
    applyGradients(opt, vars, grads);
    return value;
  });
  const v = (await loss.data())[0] as number;
  loss.dispose();
  return v;
}
