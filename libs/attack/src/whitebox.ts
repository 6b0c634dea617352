import * as tf from '@tensorflow/tfjs-core';
import { ascend, checkCraft, keepBetter, logits, perSampleCrossEntropy, project, startPoint, type CraftOptions, type ThreePart } from './craft.ts';

/**
 * The white-box components of an AutoAttack-style upper bound (Croce & Hein 2020): PGD on the
 * margin (Carlini–Wagner) loss, and APGD — PGD with momentum and a step size that halves at
 * checkpoints where progress stalls. The evaluation keeps, per sample, the worst case over them.
 */

/** The margin loss per sample: max_{j≠y} z_j − z_y (positive exactly when the sample is misclassified). */
export function perSampleMargin(l: tf.Tensor, labels: tf.Tensor1D, classes: number): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(l, [l.shape[0]!, classes]);
    const onehot = tf.oneHot(labels, classes);
    const own = tf.sum(tf.mul(onehot, flat), -1);
    // the true class pushed far down so that the max is over the other classes
    const others = tf.max(tf.sub(flat, tf.mul(onehot, 1e9)), -1);
    return tf.sub(others, own) as tf.Tensor1D;
  });
}

/** PGD on the margin loss (untargeted), with the options of every craft (restarts, random start). */
export function pgdMargin(model: ThreePart, x: tf.Tensor, labels: tf.Tensor1D, classes: number, o: CraftOptions): tf.Tensor {
  return ascend(x, o, (v) => perSampleMargin(logits(model, v), labels, classes));
}

/**
 * APGD's checkpoints as AutoAttack's implementation places them (the paper's p_j schedule in whole
 * steps): the first after ⌊0.22 N⌋ steps, each next interval ⌊0.03 N⌋ shorter, never under ⌊0.06 N⌋
 * (each at least 1). For N = 100: 22, 41, 57, 70, 80, 87, 93, 99.
 */
export function apgdCheckpoints(steps: number): number[] {
  const decrease = Math.max(Math.floor(0.03 * steps), 1);
  const shortest = Math.max(Math.floor(0.06 * steps), 1);
  const out: number[] = [];
  for (let k = Math.max(Math.floor(0.22 * steps), 1), at = k; at < steps; k = Math.max(k - decrease, shortest), at += k) out.push(at);
  return out;
}

/** Per-sample state of one APGD run, as [B] / x-shaped tensors the loop replaces step by step. */
interface ApgdState {
  x: tf.Tensor;
  prev: tf.Tensor;
  f: tf.Tensor1D;
  best: tf.Tensor;
  fBest: tf.Tensor1D;
  eta: tf.Tensor1D;
  /** Steps since the last checkpoint whose objective rose. */
  rises: tf.Tensor1D;
  /** 1 where η was halved at the last checkpoint, and the best objective then (condition 2). */
  reducedLast: tf.Tensor1D;
  fBestAtCheck: tf.Tensor1D;
}

const RHO = 0.75;
const MOMENTUM = 0.75;

/**
 * APGD on a per-sample objective (maximised), L∞ ball ∩ pixel box, as Croce & Hein's Algorithm 1
 * and AutoAttack's implementation: η⁽⁰⁾ = 2ε, a first plain step, then steps with momentum 0.75; at
 * each checkpoint a sample's step size halves and it restarts from its best point when at most 75 %
 * of the steps since the last checkpoint raised its objective, or when its step size was not halved
 * at the last checkpoint and its best objective has not risen since.
 * Returns, per sample, the point with the highest objective seen. Restarts (random starts) keep the
 * best per sample, as in `ascend`.
 */
export function apgd(x: tf.Tensor, o: CraftOptions, objective: (xa: tf.Tensor) => tf.Tensor1D): tf.Tensor {
  checkCraft(o, x);
  if (o.epsilon === 0) return tf.clone(x);
  let best: tf.Tensor | null = null;
  let bestScore: tf.Tensor1D | null = null;
  for (let r = 0; r < (o.restarts ?? 1); r++) {
    const run = apgdRun(x, o, objective, r);
    if (!best || !bestScore) {
      [best, bestScore] = [run.x, run.f];
      continue;
    }
    const [nb, ns] = keepBetter(x, best, bestScore, run.x, run.f);
    tf.dispose([best, bestScore, run.x, run.f]);
    [best, bestScore] = [nb, ns];
  }
  bestScore!.dispose();
  return best!;
}

/** One APGD run from restart `r`'s start (the same start as PGD's run r: craft.ts startPoint). */
function apgdRun(x: tf.Tensor, o: CraftOptions, objective: (xa: tf.Tensor) => tf.Tensor1D, r: number): { x: tf.Tensor; f: tf.Tensor1D } {
  const clip = o.clip ?? [0, 1];
  const perSample = (t: tf.Tensor1D) => tf.reshape(t, [x.shape[0]!, ...x.shape.slice(1).map(() => 1)]);
  const gradStep = (xa: tf.Tensor, eta: tf.Tensor1D) => tf.tidy(() => project(tf.add(xa, tf.mul(tf.sign(tf.grad((v: tf.Tensor) => tf.sum(objective(v)))(xa)), perSample(eta))), x, o.epsilon, clip));
  const x0 = startPoint(x, o, r);
  const f0 = tf.tidy(() => objective(x0));
  const eta0 = tf.fill([x.shape[0]!], 2 * o.epsilon) as tf.Tensor1D;
  const x1 = gradStep(x0, eta0);
  const f1 = tf.tidy(() => objective(x1));
  const [best, fBest] = keepBetter(x, x0, f0, x1, f1);
  let s: ApgdState = {
    x: x1, prev: x0, f: f1, best, fBest, eta: eta0, rises: tf.tidy(() => tf.cast(tf.greater(f1, f0), 'float32')) as tf.Tensor1D,
    reducedLast: tf.zerosLike(eta0) as tf.Tensor1D, fBestAtCheck: tf.clone(fBest),
  };
  f0.dispose();
  const checks = apgdCheckpoints(o.steps);
  let lastCheck = 0;
  for (let k = 1; k < o.steps; k++) {
    s = apgdStep(s, x, o, objective, gradStep);
    if (checks.includes(k)) {
      s = apgdCheckpoint(s, k - lastCheck, perSample);
      lastCheck = k;
    }
  }
  const out = { x: s.best, f: s.fBest };
  tf.dispose([s.x, s.prev, s.f, s.eta, s.rises, s.reducedLast, s.fBestAtCheck]);
  return out;
}

/** z = P(x + η sign ∇f), x' = P(x + α(z − x) + (1 − α)(x − x_prev)); best point and rise count updated. */
function apgdStep(
  s: ApgdState, x: tf.Tensor, o: CraftOptions, objective: (xa: tf.Tensor) => tf.Tensor1D, gradStep: (xa: tf.Tensor, eta: tf.Tensor1D) => tf.Tensor,
): ApgdState {
  const z = gradStep(s.x, s.eta);
  const next = tf.tidy(() => project(tf.add(tf.add(s.x, tf.mul(tf.sub(z, s.x), MOMENTUM)), tf.mul(tf.sub(s.x, s.prev), 1 - MOMENTUM)), x, o.epsilon, o.clip ?? [0, 1]));
  const f = tf.tidy(() => objective(next));
  const [best, fBest] = keepBetter(x, s.best, s.fBest, next, f);
  const rises = tf.tidy(() => tf.add(s.rises, tf.cast(tf.greater(f, s.f), 'float32'))) as tf.Tensor1D;
  tf.dispose([z, s.prev, s.f, s.best, s.fBest, s.rises]);
  return { ...s, prev: s.x, x: next, f, best, fBest, rises };
}

/**
 * At a checkpoint: where progress stalled — condition 1, fewer than ρ of the steps since the last
 * checkpoint raised the objective; condition 2, η was not halved last time and the best objective
 * has not risen since — halve η and restart from the best point; then reset the counters.
 */
function apgdCheckpoint(s: ApgdState, span: number, perSample: (t: tf.Tensor1D) => tf.Tensor): ApgdState {
  const [eta, xNext, rises, reducedLast, fBestAtCheck] = tf.tidy(() => {
    const few = tf.lessEqual(s.rises, RHO * span);
    const stuck = tf.logicalAnd(tf.equal(s.reducedLast, 0), tf.greaterEqual(s.fBestAtCheck, s.fBest));
    const halve = tf.logicalOr(few, stuck);
    const eta = tf.where(halve, tf.div(s.eta, 2), s.eta);
    const mask = tf.broadcastTo(tf.cast(perSample(tf.cast(halve, 'float32') as tf.Tensor1D), 'bool'), s.x.shape);
    return [eta, tf.where(mask, s.best, s.x), tf.zerosLike(s.rises), tf.cast(halve, 'float32'), tf.clone(s.fBest)];
  });
  tf.dispose([s.eta, s.x, s.rises, s.reducedLast, s.fBestAtCheck]);
  return { ...s, eta: eta as tf.Tensor1D, x: xNext!, rises: rises as tf.Tensor1D, reducedLast: reducedLast as tf.Tensor1D, fBestAtCheck: fBestAtCheck as tf.Tensor1D };
}

/** APGD on the cross-entropy of the true labels (APGD-CE), untargeted. */
export function apgdCE(model: ThreePart, x: tf.Tensor, labels: tf.Tensor1D, classes: number, o: CraftOptions): tf.Tensor {
  return apgd(x, o, (v) => perSampleCrossEntropy(logits(model, v), labels, classes));
}
