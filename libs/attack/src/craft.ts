import * as tf from '@tensorflow/tfjs-core';
import { Rng, type PartModel, type SmashedChannel } from '@splitfleet/splitcore';
import type { IntermediateLayer } from './config.ts';

/** A full model as three parts: a real client model with the server's middle, or a shadow. */
export interface ThreePart {
  readonly head: PartModel;
  readonly middle: PartModel;
  readonly tail: PartModel;
  /**
   * What the deployed model does to the smashed data between head and middle (the clients'
   * smashed-data defences: noise, quantisation, top-k; splitcore defence/channel.ts); absent: nothing.
   */
  readonly channel?: SmashedChannel | null;
}

export interface CraftOptions {
  /** L∞ budget in pixel units ([0,1] images). */
  readonly epsilon: number;
  readonly steps: number;
  /** Step size; default 2.5·ε/steps (Madry et al.). */
  readonly stepSize?: number;
  /** Start from a uniform point in the ε-ball (restarts after the first always do). */
  readonly randomStart?: boolean;
  /**
   * This craft's own random stream (evaluateSuite gives every method and batch one:
   * perturbationStream); restart k starts from its fork `start-k`. Default: a stream seeded with 0.
   */
  readonly rng?: Rng;
  /**
   * MI-FGSM momentum μ (Dong et al. 2018): accumulate L1-normalised gradients and step along the
   * sign of the accumulation; improves transfer from a surrogate. 0 = plain PGD.
   */
  readonly momentum?: number;
  /** Independent runs; per sample the one with the highest attacked objective wins (as in torchattacks). */
  readonly restarts?: number;
  /** Valid pixel range [lo, hi]; inputs must lie in it and x_adv is clipped to it. Default [0, 1]. */
  readonly clip?: readonly [number, number];
  /**
   * Input diversity (DI-FGSM, Xie et al. 2019), a transfer booster: at each step, with `probability`,
   * the gradient is taken through a random shrink of the batch to r ∈ [resizeRate·H, H) pixels and a
   * random zero pad back to H × W (torchattacks' DIFGSM). Restarts still compare untransformed scores.
   */
  readonly diversity?: { readonly probability: number; readonly resizeRate: number };
}

/**
 * DI-FGSM's random transform of an NHWC batch, drawn from `rng` (the identity with 1 − probability).
 * Keeps the H × W shape, so fixed-shape models take it.
 */
export function diverseInput(x: tf.Tensor, d: NonNullable<CraftOptions['diversity']>, rng: Rng): tf.Tensor {
  const [, h, w] = x.shape as [number, number, number, number];
  if (rng.float() >= d.probability) return x;
  const lo = Math.max(1, Math.floor(d.resizeRate * h));
  const rh = lo + rng.int(Math.max(1, h - lo));
  const rw = Math.max(1, Math.round((rh * w) / h));
  const top = rng.int(h - rh + 1);
  const left = rng.int(w - rw + 1);
  return tf.tidy(() => tf.pad(tf.image.resizeBilinear(x as tf.Tensor4D, [rh, rw]), [[0, 0], [top, h - rh - top], [left, w - rw - left], [0, 0]]));
}

export function logits(m: ThreePart, x: tf.Tensor): tf.Tensor {
  const z = m.head.apply(x);
  return m.tail.apply(m.middle.apply(m.channel ? m.channel(z) : z));
}

/** Cross-entropy per sample (a [B] vector): restarts pick the best run per sample. */
export function perSampleCrossEntropy(l: tf.Tensor, labels: tf.Tensor1D, classes: number): tf.Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(l, [l.shape[0]!, classes]);
    return tf.sub(tf.logSumExp(flat, -1), tf.sum(tf.mul(tf.oneHot(labels, classes), flat), -1)) as tf.Tensor1D;
  });
}

function clipOf(o: CraftOptions): readonly [number, number] {
  return o.clip ?? [0, 1];
}

/** Validates the options and the input; every message names the option and its allowed range. */
export function checkCraft(o: CraftOptions, x: tf.Tensor): void {
  if (!(o.epsilon >= 0) || !Number.isFinite(o.epsilon)) throw new Error(`attack.epsilon must be a finite number ≥ 0, got ${o.epsilon}`);
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`attack.steps must be an integer ≥ 1, got ${o.steps}`);
  if (o.stepSize !== undefined && !(o.stepSize > 0 && Number.isFinite(o.stepSize))) throw new Error(`attack.stepSize must be a finite number > 0, got ${o.stepSize}`);
  if (o.restarts !== undefined && (!Number.isInteger(o.restarts) || o.restarts < 1)) throw new Error(`attack.restarts must be an integer ≥ 1, got ${o.restarts}`);
  if (o.momentum !== undefined && !(o.momentum >= 0)) throw new Error(`attack.momentum must be ≥ 0, got ${o.momentum}`);
  if (o.diversity && !(o.diversity.probability >= 0 && o.diversity.probability <= 1 && o.diversity.resizeRate > 0 && o.diversity.resizeRate <= 1))
    throw new Error(`attack.diversity must have probability in [0, 1] and resizeRate in (0, 1], got ${JSON.stringify(o.diversity)}`);
  const [lo, hi] = clipOf(o);
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new Error(`attack clip bounds must be finite with lo < hi, got [${lo}, ${hi}]`);
  const [mn, mx, bad] = tf.tidy(() => [tf.min(x), tf.max(x), tf.sum(tf.cast(tf.logicalNot(tf.isFinite(x)), 'int32'))]).map((t) => {
    const v = t.dataSync()[0]!;
    t.dispose();
    return v;
  }) as [number, number, number];
  if (bad > 0) throw new Error(`attack input has ${bad} NaN/Inf values`);
  if (x.size > 0 && (mn < lo || mx > hi)) throw new Error(`attack input must lie in the pixel range [${lo}, ${hi}], got values in [${mn}, ${mx}]`);
}

/** Projection onto the L∞ ball around x intersected with the pixel box (default [0,1]). */
export function project(xAdv: tf.Tensor, x: tf.Tensor, eps: number, clip: readonly [number, number] = [0, 1]): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.minimum(tf.maximum(xAdv, tf.sub(x, eps)), tf.add(x, eps)), clip[0], clip[1]));
}

/** Where run `restart` of an ascent starts: x itself for the first run unless randomStart, else a seeded uniform point of the ball. */
export function startPoint(x: tf.Tensor, o: CraftOptions, restart: number): tf.Tensor {
  if ((!o.randomStart && restart === 0) || o.epsilon === 0) return tf.clone(x);
  const r = (o.rng ?? Rng.fromSeed(0)).fork(`start-${restart}`);
  const offsets = Float32Array.from({ length: x.size }, () => (2 * r.float() - 1) * o.epsilon);
  return tf.tidy(() => project(tf.add(x, tf.tensor(offsets, x.shape)), x, o.epsilon, clipOf(o)));
}

/** Per sample, the point with the higher score (ties keep `a`): how restarts keep their best run. */
export function keepBetter(x: tf.Tensor, a: tf.Tensor, fa: tf.Tensor1D, b: tf.Tensor, fb: tf.Tensor1D): [tf.Tensor, tf.Tensor1D] {
  return tf.tidy(() => {
    const better = tf.greater(fb, fa);
    const mask = tf.broadcastTo(tf.reshape(better, [x.shape[0]!, ...x.shape.slice(1).map(() => 1)]), x.shape);
    return [tf.where(mask, b, a), tf.maximum(fa, fb) as tf.Tensor1D];
  });
}

/**
 * L∞ PGD ascent on a per-sample objective (a [B] vector, maximised), with restarts: per sample the
 * run reaching the highest objective is kept. Samples are independent, so ∇ of the sum is the
 * per-sample gradient.
 */
export function ascend(x: tf.Tensor, o: CraftOptions, objective: (xa: tf.Tensor) => tf.Tensor1D): tf.Tensor {
  checkCraft(o, x);
  return ascendChecked(x, o, objective);
}

/** ascend for callers that validated `o` and `x` already (each check reads the whole input). */
function ascendChecked(x: tf.Tensor, o: CraftOptions, objective: (xa: tf.Tensor) => tf.Tensor1D): tf.Tensor {
  if (o.epsilon === 0) return tf.clone(x);
  const alpha = o.stepSize ?? (2.5 * o.epsilon) / o.steps;
  const mu = o.momentum ?? 0;
  const clip = clipOf(o);
  const axes = x.shape.slice(1).map((_, i) => i + 1);
  let best: tf.Tensor | null = null;
  let bestScore: tf.Tensor1D | null = null;
  for (let restart = 0; restart < (o.restarts ?? 1); restart++) {
    let xa = startPoint(x, o, restart);
    let acc: tf.Tensor | null = mu > 0 ? tf.zerosLike(x) : null;
    const di = o.diversity && o.diversity.probability > 0 ? { d: o.diversity, rng: (o.rng ?? Rng.fromSeed(0)).fork(`diversity-${restart}`) } : null;
    for (let s = 0; s < o.steps; s++) {
      const { next, nextAcc } = tf.tidy(() => {
        let g = tf.grad((v: tf.Tensor) => tf.sum(objective(di ? diverseInput(v, di.d, di.rng) : v)))(xa);
        let a: tf.Tensor | null = null;
        if (acc) {
          a = tf.add(tf.mul(acc, mu), tf.div(g, tf.add(tf.sum(tf.abs(g), axes, true), 1e-12)));
          g = a;
        }
        return { next: project(tf.add(xa, tf.mul(tf.sign(g), alpha)), x, o.epsilon, clip), nextAcc: a ?? undefined };
      }) as { next: tf.Tensor; nextAcc: tf.Tensor | undefined };
      xa.dispose();
      xa = next;
      if (acc) {
        acc.dispose();
        acc = nextAcc ?? null;
      }
    }
    acc?.dispose();
    if ((o.restarts ?? 1) === 1) return xa;
    const score = tf.tidy(() => objective(xa));
    if (!best || !bestScore) {
      best = xa;
      bestScore = score;
      continue;
    }
    const [nb, ns] = keepBetter(x, best, bestScore, xa, score);
    tf.dispose([best, bestScore, xa, score]);
    best = nb;
    bestScore = ns;
  }
  bestScore?.dispose();
  return best!;
}

/**
 * PGD on x: untargeted maximises the cross-entropy w.r.t. `labels`; targeted (`targeted: true`)
 * minimises it w.r.t. the target classes given in `labels`.
 */
export function pgd(model: ThreePart, x: tf.Tensor, labels: tf.Tensor1D, classes: number, o: CraftOptions & { targeted?: boolean }): tf.Tensor {
  const sign = o.targeted ? -1 : 1;
  return ascend(x, o, (v) => tf.mul(sign, perSampleCrossEntropy(logits(model, v), labels, classes)) as tf.Tensor1D);
}

/**
 * SPADV's local attack on the intermediate output (our reconstruction): first find an adversarial
 * smashed representation z* = ĥ(x)+δ that maximises the shadow's loss (or, targeted, minimises it
 * for the target), with |δ| bounded relative to the feature scale; then find x' in the L∞ ball whose
 * ĥ(x') realises it — by feature distance ('feature') or by projection on z*−ĥ(x) (ILA-style, 'ila').
 */
export function intermediateAttack(
  model: ThreePart, x: tf.Tensor, labels: tf.Tensor1D, classes: number,
  o: CraftOptions & { variant: 'feature' | 'ila'; targeted?: boolean; latentScale?: number; layer?: IntermediateLayer },
): tf.Tensor {
  checkCraft(o, x);
  if (o.epsilon === 0) return tf.clone(x);
  const sign = o.targeted ? -1 : 1;
  // the representation perturbed: the smashed data ĥ(x) (default) or the middle's output m(ĥ(x))
  const features = o.layer === 'middle' ? (v: tf.Tensor) => model.middle.apply(model.head.apply(v)) : (v: tf.Tensor) => model.head.apply(v);
  const rest = o.layer === 'middle' ? (z: tf.Tensor) => model.tail.apply(z) : (z: tf.Tensor) => model.tail.apply(model.middle.apply(z));
  const z0 = tf.tidy(() => features(x));
  const scale = tf.tidy(() => tf.mul(tf.sqrt(tf.add(tf.moments(z0).variance, 1e-12)), (o.latentScale ?? 2) * o.epsilon * 4));
  const zb = (scale.dataSync()[0] as number) || o.epsilon;
  scale.dispose();
  let z = tf.clone(z0);
  const latentAlpha = (2.5 * zb) / o.steps;
  for (let s = 0; s < o.steps; s++) {
    const next = tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => tf.mul(sign, tf.sum(perSampleCrossEntropy(rest(v), labels, classes))))(z);
      const moved = tf.add(z, tf.mul(tf.sign(g), latentAlpha));
      // cnn-small's cut points follow a ReLU or a max-pool of one: keep z* non-negative, reachable
      return tf.relu(tf.minimum(tf.maximum(moved, tf.sub(z0, zb)), tf.add(z0, zb)));
    });
    z.dispose();
    z = next;
  }
  const dir = tf.sub(z, z0);
  const axes = z0.shape.slice(1).map((_, i) => i + 1);
  const out =
    o.variant === 'feature'
      ? ascendChecked(x, o, (v) => tf.neg(tf.mean(tf.square(tf.sub(features(v), z)), axes)) as tf.Tensor1D)
      : ascendChecked(x, o, (v) => tf.sum(tf.mul(tf.sub(features(v), z0), dir), axes) as tf.Tensor1D);
  tf.dispose([z0, z, dir]);
  return out;
}

/**
 * The SPADV authors' head-only stage 2 (our reading of it): x' in the L∞ ball maximising how far the
 * middle's output m(ĥ(x')) moves from m(ĥ(x)) — mean squared distance (`l2`) or 1 − cosine similarity
 * (`cosine`). Uses only the head and the middle; no labels, no tail. The objective's gradient is 0 at
 * x' = x, so the first run always starts from a random point of the ball.
 */
export function middleOutputAttack(model: Pick<ThreePart, 'head' | 'middle'>, x: tf.Tensor, o: CraftOptions & { distance: 'l2' | 'cosine' }): tf.Tensor {
  checkCraft(o, x);
  if (o.epsilon === 0) return tf.clone(x);
  const out = (v: tf.Tensor) => tf.reshape(model.middle.apply(model.head.apply(v)), [v.shape[0]!, -1]);
  const m0 = tf.tidy(() => out(x));
  const n0 = tf.tidy(() => tf.norm(m0, 'euclidean', 1));
  const objective = (v: tf.Tensor) => {
    const m = out(v);
    if (o.distance === 'l2') return tf.mean(tf.square(tf.sub(m, m0)), 1) as tf.Tensor1D;
    const cos = tf.div(tf.sum(tf.mul(m, m0), 1), tf.add(tf.mul(tf.norm(m, 'euclidean', 1), n0), 1e-12));
    return tf.sub(1, cos) as tf.Tensor1D;
  };
  const adv = ascendChecked(x, { ...o, randomStart: true }, objective);
  tf.dispose([m0, n0]);
  return adv;
}

/** Random-sign noise of size ε drawn from `rng`'s fork `noise` (a sanity baseline every attack must beat). */
export function noise(x: tf.Tensor, epsilon: number, rng: Rng, clip: readonly [number, number] = [0, 1]): tf.Tensor {
  checkCraft({ epsilon, steps: 1, clip }, x);
  const r = rng.fork('noise');
  const signs = Float32Array.from({ length: x.size }, () => (r.float() < 0.5 ? -epsilon : epsilon));
  return tf.tidy(() => project(tf.add(x, tf.tensor(signs, x.shape)), x, epsilon, clip));
}
