import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng/rng.ts';
import { defencesAt, isIdentity, type DefenceSpec } from './spec.ts';

/**
 * The smashed-data defences as the deployed model applies them between head and middle, in tfjs
 * ops, for evaluating attacks against a defended fleet (issue #21). The client's own frames are
 * made on plain arrays (client-defence.ts); this is the same arithmetic on tensors — noise drawn
 * fresh on every forward from `rng`, quantisation on the batch's min/max grid, top-k per sample —
 * so it runs on any backend inside a gradient tape. Gradients pass straight through (BPDA, Athalye
 * et al. 2018): noise is additive, quantisation's derivative is taken as 1, top-k's as its mask —
 * what an adaptive white-box attacker uses. null when no smashed-data defence is active.
 */
export type SmashedChannel = (z: tf.Tensor) => tf.Tensor;

export function smashedChannel(defences: readonly DefenceSpec[], rng: Rng): SmashedChannel | null {
  const ds = defencesAt(defences, 'smashed').filter((d) => !isIdentity(d));
  if (!ds.length) return null;
  return (z: tf.Tensor) => {
    const seeds = ds.map(() => rng.int(2 ** 31 - 1));
    const forward = (x: tf.Tensor, save: tf.GradSaveFunc) => {
      const masks: tf.Tensor[] = [];
      const value = ds.reduce((v, d, i) => apply(v, d, seeds[i]!, masks), x);
      save(masks);
      return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => saved.reduce((g, m) => tf.mul(g, m), dy) };
    };
    const f = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(z);
  };
}

function apply(v: tf.Tensor, d: DefenceSpec, seed: number, masks: tf.Tensor[]): tf.Tensor {
  switch (d.kind) {
    case 'smashed-noise': {
      const sigma = d.scale === 'relative' ? tf.mul(d.sigma, tf.sqrt(tf.moments(v).variance)) : tf.scalar(d.sigma);
      const n = d.distribution === 'laplace' ? laplace(v.shape, seed) : tf.randomNormal(v.shape, 0, 1, 'float32', seed);
      return tf.add(v, tf.mul(sigma, n));
    }
    case 'quantise': {
      if (d.bits === null) return v;
      const lo = tf.min(v);
      const top = 2 ** d.bits - 1;
      const step = tf.div(tf.sub(tf.max(v), lo), top);
      const safe = tf.maximum(step, 1e-30);
      const levels = tf.clipByValue(tf.round(tf.div(tf.sub(v, lo), safe)), 0, top);
      return tf.add(lo, tf.mul(levels, step));
    }
    case 'topk': {
      const [b, ...rest] = v.shape;
      const dim = rest.reduce((a, x) => a * x, 1);
      const dropped = Math.floor(d.drop * dim);
      if (dropped === 0) return v;
      const flat = tf.reshape(v, [b!, dim]);
      // the smallest kept magnitude per sample; ties at it are kept (the client drops exactly
      // `dropped`; with continuous values ties do not occur)
      const kth = tf.slice(tf.topk(tf.abs(flat), dim - dropped).values, [0, dim - dropped - 1], [b!, 1]);
      const mask = tf.reshape(tf.cast(tf.greaterEqual(tf.abs(flat), kth), 'float32'), v.shape);
      masks.push(mask);
      return tf.mul(v, mask);
    }
    default:
      return v;
  }
}

/** Unit-variance Laplace noise from a seeded uniform. */
function laplace(shape: number[], seed: number): tf.Tensor {
  const u = tf.sub(tf.randomUniform(shape, 0, 1, 'float32', seed), 0.5);
  return tf.div(tf.neg(tf.mul(tf.sign(u), tf.log(tf.maximum(tf.sub(1, tf.mul(2, tf.abs(u))), 1e-30)))), Math.SQRT2);
}
