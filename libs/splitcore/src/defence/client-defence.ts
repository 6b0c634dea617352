import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng/rng.ts';
import { noPeekGradient } from './distance-correlation.ts';
import { defencesAt, isIdentity, type DefenceSite, type DefenceSpec } from './spec.ts';
import type { AdversarialSpec } from './adversarial-training.ts';
import { maxNormGradient, noisyGradient, noisySmashed, randomisedLabels, sparsified } from './transforms.ts';
import { encodeQuantised, encodeSparse, encodeTensor } from '../codec/tensor-codec.ts';
import { tensorToFrame } from '../codec/tf-frames.ts';

/**
 * A client's defences at each site of its training step, in the order configured. Sites without an
 * active defence hand their input back untouched (no copy, no draw): a defence at its identity
 * strength leaves a run byte-identical to one without it. Randomness comes from `rng`, which the
 * caller derives from (run seed, client, round, step), so runs replay exactly.
 */
export class ClientDefences {
  private readonly active: readonly DefenceSpec[];
  private readonly classes: number;

  constructor(defences: readonly DefenceSpec[], classes: number) {
    this.active = defences.filter((d) => !isIdentity(d));
    this.classes = classes;
  }

  /** Whether anything acts at `site`. */
  at(site: DefenceSite): boolean {
    return defencesAt(this.active, site).length > 0;
  }

  /** Adversarial training's settings when it is on (the client then trains on PGD examples it crafts through the split). */
  adversarial(): AdversarialSpec | null {
    const d = defencesAt(this.active, 'inputs').find((s) => s.kind === 'adversarial');
    return d?.kind === 'adversarial' ? d : null;
  }

  /** Forward/backward exchanges with the server per training step: 1, plus one per PGD step with adversarial training on. */
  roundTripsPerStep(): number {
    return 1 + (this.adversarial()?.steps ?? 0);
  }

  /** The labels the client trains on (label-rr). */
  labels(y: Int32Array, rng: Rng): Int32Array {
    let out = y;
    for (const d of defencesAt(this.active, 'labels')) if (d.kind === 'label-rr') out = randomisedLabels(out, this.classes, d, rng.fork(d.kind));
    return out;
  }

  /**
   * The frame of smashed data the client sends: noise and sparsification applied in the order
   * configured, then quantised (codec dtype 5) or sparse (dtype 6, when smaller than dense) — the
   * bytes on the wire are the compressed ones. Without a smashed-data defence: exactly tensorToFrame(z).
   */
  async smashedFrame(z: tf.Tensor, rng: Rng): Promise<Uint8Array> {
    const ds = defencesAt(this.active, 'smashed');
    if (!ds.length) return tensorToFrame(z);
    const batch = z.shape[0]!;
    // the transforms return new arrays and never write to their input: no copy of z's values first
    let v: Float32Array = (await z.data()) as Float32Array;
    for (const d of ds) {
      if (d.kind === 'smashed-noise') v = noisySmashed(v, d, rng.fork(d.kind));
      else if (d.kind === 'topk') v = sparsified(v, batch, d);
    }
    const q = ds.find((d) => d.kind === 'quantise');
    if (q?.kind === 'quantise' && q.bits !== null) return encodeQuantised(z.shape, v, q.bits);
    const dense = encodeTensor({ dtype: 'float32', shape: z.shape, data: v });
    if (!ds.some((d) => d.kind === 'topk')) return dense;
    const sparse = encodeSparse(z.shape, v);
    return sparse.byteLength < dense.byteLength ? sparse : dense;
  }

  /** The gradient the client returns at the middle's output; `gm` itself when nothing acts. */
  async gradient(gm: tf.Tensor, rng: Rng): Promise<tf.Tensor> {
    const ds = defencesAt(this.active, 'gradient');
    if (!ds.length) return gm;
    const batch = gm.shape[0]!;
    let v = (await gm.data()) as Float32Array;
    for (const d of ds) {
      if (d.kind === 'gradient-noise') v = noisyGradient(v, batch, d, rng.fork(d.kind));
      else if (d.kind === 'maxnorm') v = maxNormGradient(v, batch, d, rng.fork(d.kind));
    }
    return tf.tensor(v, gm.shape, 'float32');
  }

  /** The frame of the gradient the client returns: `gradient(gm)` encoded; `gm` stays the caller's. */
  async gradientFrame(gm: tf.Tensor, rng: Rng): Promise<Uint8Array> {
    const returned = await this.gradient(gm, rng);
    try {
      return await tensorToFrame(returned);
    } finally {
      if (returned !== gm) returned.dispose();
    }
  }

  /** The gradient the head's backward starts from: the server's gz plus NoPeek's λ·∂dCor(x, z)/∂z; `gz` itself when nothing acts. */
  headGradient(x: tf.Tensor, z: tf.Tensor, gz: tf.Tensor): tf.Tensor {
    const ds = defencesAt(this.active, 'loss');
    if (!ds.length) return gz;
    return tf.tidy(() => ds.reduce((g, d) => (d.kind === 'nopeek' ? tf.add(g, noPeekGradient(x, z, d.lambda)) : g), gz));
  }
}

/** The generator of one step's defences: a pure function of (run seed, client, round, step, purpose). */
export function defenceRng(seed: number, client: number, round: number, step: number, purpose: 'train' | 'eval' | 'craft'): Rng {
  return Rng.fromSeed(seed).fork(`defence:${purpose}:${client}:${round}:${step}`);
}
