import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, Rng, type PartModel } from '@splitfleet/splitcore';

/** A full model as three parts: a real client model with the server's middle, or a shadow. */
export interface ThreePart {
  readonly head: PartModel;
  readonly middle: PartModel;
  readonly tail: PartModel;
}

export type CraftMethod = 'pgd' | 'feature' | 'ila';

export interface CraftOptions {
  /** L∞ budget in pixel units ([0,1] images). */
  readonly epsilon: number;
  readonly steps: number;
  /** Step size; default 2.5·ε/steps (Madry et al.). */
  readonly stepSize?: number;
  readonly randomStart?: boolean;
  readonly seed?: number;
  /**
   * MI-FGSM momentum μ (Dong et al. 2018): accumulate L1-normalised gradients and step along the
   * sign of the accumulation; improves transfer from a surrogate. 0 = plain PGD.
   */
  readonly momentum?: number;
}

export function logits(m: ThreePart, x: tf.Tensor): tf.Tensor {
  return m.tail.apply(m.middle.apply(m.head.apply(x)));
}

function check(o: CraftOptions): void {
  if (!(o.epsilon >= 0) || !Number.isFinite(o.epsilon)) throw new Error(`attack.epsilon must be a finite number ≥ 0, got ${o.epsilon}`);
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`attack.steps must be an integer ≥ 1, got ${o.steps}`);
  if (o.stepSize !== undefined && !(o.stepSize > 0)) throw new Error(`attack.stepSize must be > 0, got ${o.stepSize}`);
}

/** Projection onto the L∞ ball around x intersected with the pixel box [0,1]. */
export function project(xAdv: tf.Tensor, x: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.minimum(tf.maximum(xAdv, tf.sub(x, eps)), tf.add(x, eps)), 0, 1));
}

function start(x: tf.Tensor, o: CraftOptions): tf.Tensor {
  if (!o.randomStart || o.epsilon === 0) return tf.clone(x);
  const r = Rng.fromSeed(o.seed ?? 0).fork('pgd-start');
  const noise = tf.tensor(Float32Array.from({ length: x.size }, () => (2 * r.float() - 1) * o.epsilon), x.shape);
  const out = project(tf.add(x, noise), x, o.epsilon);
  noise.dispose();
  return out;
}

/** Generic L∞ PGD ascent on `objective(xAdv)`. */
function ascend(x: tf.Tensor, o: CraftOptions, objective: (xa: tf.Tensor) => tf.Scalar): tf.Tensor {
  check(o);
  if (o.epsilon === 0) return tf.clone(x);
  const alpha = o.stepSize ?? (2.5 * o.epsilon) / o.steps;
  const mu = o.momentum ?? 0;
  let xa = start(x, o);
  let acc: tf.Tensor | null = mu > 0 ? tf.zerosLike(x) : null;
  for (let s = 0; s < o.steps; s++) {
    const { next, nextAcc } = tf.tidy(() => {
      let g = tf.grad((v: tf.Tensor) => objective(v))(xa);
      let a: tf.Tensor | null = null;
      if (acc) {
        // per-sample L1 normalisation, then momentum
        const l1 = tf.add(tf.sum(tf.abs(g), [1, 2, 3], true), 1e-12);
        a = tf.add(tf.mul(acc, mu), tf.div(g, l1));
        g = a;
      }
      return { next: project(tf.add(xa, tf.mul(tf.sign(g), alpha)), x, o.epsilon), nextAcc: a ?? undefined };
    }) as { next: tf.Tensor; nextAcc: tf.Tensor | undefined };
    xa.dispose();
    xa = next;
    if (acc) {
      acc.dispose();
      acc = nextAcc ?? null;
    }
  }
  acc?.dispose();
  return xa;
}

/** Untargeted PGD (maximise cross-entropy w.r.t. `labels`) or targeted (minimise it w.r.t. `target`). */
export function pgd(model: ThreePart, x: tf.Tensor, labels: tf.Tensor1D, classes: number, o: CraftOptions & { targeted?: boolean }): tf.Tensor {
  const sign = o.targeted ? -1 : 1;
  return ascend(x, o, (v) => tf.mul(sign, crossEntropy(logits(model, v), labels, classes)) as tf.Scalar);
}

/**
 * SPADV's local attack on the intermediate output (our reconstruction): first find an adversarial
 * smashed representation z* = ĥ(x)+δ that maximises the shadow's loss, with |δ| bounded relative to
 * the feature scale; then find x' in the L∞ ball whose ĥ(x') realises it — by feature distance
 * ('feature') or by projection on the direction z*−ĥ(x) (ILA-style, 'ila').
 */
export function intermediateAttack(model: ThreePart, x: tf.Tensor, labels: tf.Tensor1D, classes: number, o: CraftOptions & { variant: 'feature' | 'ila'; latentScale?: number }): tf.Tensor {
  check(o);
  if (o.epsilon === 0) return tf.clone(x);
  const z0 = tf.tidy(() => model.head.apply(x));
  const scale = tf.tidy(() => tf.mul(tf.add(tf.moments(z0).variance, 1e-12).sqrt(), (o.latentScale ?? 2) * o.epsilon * 4));
  const zb = (scale.dataSync()[0] as number) || o.epsilon;
  scale.dispose();
  let z = tf.clone(z0);
  const latentAlpha = (2.5 * zb) / o.steps;
  for (let s = 0; s < o.steps; s++) {
    const next = tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => crossEntropy(model.tail.apply(model.middle.apply(v)), labels, classes))(z);
      const moved = tf.add(z, tf.mul(tf.sign(g), latentAlpha));
      return tf.relu(tf.minimum(tf.maximum(moved, tf.sub(z0, zb)), tf.add(z0, zb)));
    });
    z.dispose();
    z = next;
  }
  const dir = tf.sub(z, z0);
  const out =
    o.variant === 'feature'
      ? ascend(x, o, (v) => tf.neg(tf.mean(tf.square(tf.sub(model.head.apply(v), z)))) as tf.Scalar)
      : ascend(x, o, (v) => tf.mean(tf.mul(tf.sub(model.head.apply(v), z0), dir)) as tf.Scalar);
  tf.dispose([z0, z, dir]);
  return out;
}

/** Random-sign noise of size ε (a sanity baseline every attack must beat). */
export function noise(x: tf.Tensor, epsilon: number, seed: number): tf.Tensor {
  const r = Rng.fromSeed(seed).fork('noise');
  const n = tf.tensor(Float32Array.from({ length: x.size }, () => (r.float() < 0.5 ? -epsilon : epsilon)), x.shape);
  const out = project(tf.add(x, n), x, epsilon);
  n.dispose();
  return out;
}
