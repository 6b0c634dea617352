import * as tf from '@tensorflow/tfjs-core';
import {
  applyGradients, crossEntropy, derivedSeed, disposeOptimizer, initWeights, makeOptimizer, PartModel, Rng, smashedChannel, stateShapes, trainMode, type ForwardMode,
  type PartSpec, type SmashedChannel,
} from '@splitfleet/splitcore';
import { featureMatchLoss, statsMatchLoss, type FeatureTarget, type SmashedStats } from './losses.ts';
import type { ShadowOptions } from './shadow.ts';

/** A part being trained, with its own optimiser. */
export interface Trainable {
  readonly model: PartModel;
  readonly opt: tf.Optimizer;
}

/** The sample indices 0..n-1 in a random order, cut into batches of `size` (the last may be short). */
export function batches(n: number, size: number, rng: Rng): number[][] {
  const order = rng.permutation(n);
  const out: number[][] = [];
  for (let i = 0; i < n; i += size) out.push(order.slice(i, i + size));
  return out;
}

/** Rows `idx` of the n-row matrix `data`, copied into one array. */
export function rowsOf(data: Float32Array, n: number, idx: readonly number[]): Float32Array {
  const d = data.length / n;
  const out = new Float32Array(idx.length * d);
  idx.forEach((r, i) => out.set(data.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/**
 * One optimiser step of `loss` on the variables of the given parts (each with its own optimiser);
 * `loss` receives the parameters part by part so gradients flow to exactly those. Returns the loss.
 */
export async function stepParts(parts: readonly Trainable[], loss: (...ps: tf.Tensor[][]) => tf.Scalar): Promise<number> {
  const vars = parts.flatMap((p) => p.model.vars);
  const value = tf.tidy(() => {
    const split = (flat: tf.Tensor[]) => {
      let k = 0;
      return parts.map((p) => flat.slice(k, (k += p.model.vars.length)));
    };
    const { value: v, grads } = tf.valueAndGrads((...flat: tf.Tensor[]) => loss(...split(flat)))(vars);
    split(grads).forEach((g, i) => applyGradients(parts[i]!.opt, parts[i]!.model.vars, g));
    return v;
  });
  const out = (await value.data())[0]!;
  value.dispose();
  return out;
}

const adam = (lr: number) => makeOptimizer({ name: 'adam', lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });

/**
 * One shadow training run: ĥ and t̂ with their optimisers, the one random stream every batch is
 * drawn from (so the objectives' draws interleave in a fixed order), the progress count, and the
 * training loops the objectives share.
 */
export class ShadowSession {
  readonly o: ShadowOptions;
  readonly rng: Rng;
  readonly head: Trainable;
  /** null with attack.shadow.tail none: only ĥ is trained. */
  readonly tail: Trainable | null;
  readonly log: (line: string) => void;
  /** Loss of the latest optimiser step: the shadow's final loss once the objective is done. */
  last = NaN;
  private done = 0;
  private readonly totalSteps: number;
  /**
   * The clients' smashed-data defences between ĥ and the middle, for an adaptive attacker: ĥ is
   * trained so that what it sends *through the defence* looks like what the server observed (which
   * the defence has already touched), so ĥ itself imitates the undefended head. null: none.
   */
  private readonly channel: SmashedChannel | null;

  /** `headSpec`: the shadow head's architecture (shadowHeadSpec of the real one). */
  constructor(o: ShadowOptions, headSpec: PartSpec) {
    this.o = o;
    this.log = o.log ?? (() => {});
    // forks in this order: 'head', then 'tail', then the batch draws on `rng` itself; the tail's
    // fork is taken without a tail too, so both settings draw the same D_aux batches
    this.rng = Rng.fromSeed(o.seed).fork('shadow');
    const head = new PartModel(headSpec, initWeights(stateShapes(headSpec), this.rng.fork('head')));
    const tailRng = this.rng.fork('tail');
    this.head = { model: head, opt: adam(o.lr) };
    this.tail = o.tail === 'none' ? null : { model: new PartModel(o.tailSpec, initWeights(stateShapes(o.tailSpec), tailRng)), opt: adam(o.lr) };
    // infomax and every head-only training run `steps` optimiser steps; the others 2 × `steps`
    this.totalSteps = o.objective === 'infomax' || o.tail === 'none' ? o.steps : 2 * o.steps;
    // its own stream: the batch draws above stay what they are with or without a defence
    this.channel = smashedChannel(o.defence ?? [], Rng.fromSeed(o.seed).fork('shadow-channel'));
  }

  /** What ĥ sends for x: ĥ(x), through the defence when there is one (a training forward with `params`). */
  smashed(x: tf.Tensor, params?: tf.Tensor[], mode?: ForwardMode): tf.Tensor {
    const z = params ? this.head.model.apply(x, params, mode) : this.head.model.apply(x);
    return this.channel ? this.channel(z) : z;
  }

  /** The shadow tail; the objectives that need one are refused with attack.shadow.tail none. */
  learnedTail(): Trainable {
    if (!this.tail) throw new Error(`attack.objective=${this.o.objective} needs a shadow tail (attack.shadow.tail none)`);
    return this.tail;
  }

  /** `stepParts`, counted for onProgress; its loss becomes `last`. */
  async step(parts: readonly Trainable[], loss: (...ps: tf.Tensor[][]) => tf.Scalar): Promise<number> {
    const v = await stepParts(parts, loss);
    this.o.onProgress?.(Math.min(++this.done, this.totalSteps), this.totalSteps);
    this.last = v;
    return v;
  }

  /** The first batch of a fresh shuffle of D_aux (one permutation drawn per call). */
  auxIndices(): number[] {
    return batches(this.o.aux.n, this.o.batchSize, this.rng)[0]!;
  }

  /** Rows `idx` of D_aux as an image batch. */
  auxBatch(idx: readonly number[]): tf.Tensor {
    return tf.tensor(rowsOf(this.o.aux.x, this.o.aux.n, idx), [idx.length, ...this.o.headSpec.inputShape]);
  }

  /**
   * The mode of a shadow part in the step being taken: training (batch statistics, moving running
   * statistics, dropout drawn per step) — the real middle stays in evaluation mode, frozen.
   */
  trainMode(): ForwardMode {
    return trainMode(derivedSeed(this.o.seed, 'shadow-step', this.done));
  }

  /** t̂∘m∘ĥ(x): with parameters of ĥ and t̂ given, a training forward of both; without, evaluation. */
  logits(x: tf.Tensor, headParams?: tf.Tensor[], tailParams?: tf.Tensor[]): tf.Tensor {
    const tail = this.learnedTail().model;
    if (!headParams || !tailParams) return tail.apply(this.o.middle.apply(this.smashed(x)));
    const mode = this.trainMode();
    return tail.apply(this.o.middle.apply(this.smashed(x, headParams, mode)), tailParams, mode);
  }

  /** m∘ĥ(x), read back. */
  async middleFeatures(x: tf.Tensor): Promise<Float32Array> {
    const m = tf.tidy(() => this.o.middle.apply(this.smashed(x)));
    const v = (await m.data()) as Float32Array;
    m.dispose();
    return v;
  }

  /** log softmax of t̂ on feature rows (n × classes, row-major). */
  async tailLogProbs(feats: Float32Array, n: number): Promise<Float32Array> {
    const x = tf.tensor2d(feats, [n, feats.length / n]);
    const lp = tf.tidy(() => tf.logSoftmax(this.learnedTail().model.apply(x)));
    const v = (await lp.data()) as Float32Array;
    tf.dispose([x, lp]);
    return v;
  }

  /** Fits t̂ alone by cross-entropy to (feature row, label) pairs, one batch of 2 × batchSize a step. */
  async trainTailCE(feats: Float32Array, n: number, labels: Int32Array, steps: number): Promise<void> {
    const d = feats.length / n;
    for (let s = 0; s < steps; s++) {
      for (const idx of batches(n, this.o.batchSize * 2, this.rng).slice(0, 1)) {
        const x = tf.tensor2d(rowsOf(feats, n, idx), [idx.length, d]);
        const y = tf.tensor1d(Int32Array.from(idx, (i) => labels[i]!), 'int32');
        const tail = this.learnedTail();
        await this.step([tail], (pt) => crossEntropy(tail.model.apply(x, pt, this.trainMode()), y, this.o.classes));
        tf.dispose([x, y]);
      }
    }
  }

  /** Trains ĥ alone to match `stats`; assignments come from `assign(x)` (constant per step). */
  async trainHeadMatch(stats: SmashedStats, steps: number, assign: (x: tf.Tensor) => tf.Tensor2D): Promise<void> {
    for (let s = 0; s < steps; s++) {
      const x = this.auxBatch(this.auxIndices());
      const a = assign(x);
      await this.step([this.head], (ph) => statsMatchLoss(this.smashed(x, ph, this.trainMode()), a, stats));
      tf.dispose([x, a]);
      if (s % 50 === 0) this.log(`shadow head step ${s}/${steps} loss ${this.last.toFixed(4)}`);
    }
  }

  /**
   * Trains ĥ alone so that the middle's outputs on ĥ(D_aux) match the observed ones (`target`):
   * each step draws a D_aux batch and as many observed rows.
   */
  async trainHeadFeatures(target: FeatureTarget, steps: number): Promise<void> {
    const d = target.rows.length / target.n;
    for (let s = 0; s < steps; s++) {
      const x = this.auxBatch(this.auxIndices());
      const idx = batches(target.n, this.o.batchSize, this.rng)[0]!;
      const fb = tf.tensor2d(rowsOf(target.rows, target.n, idx), [idx.length, d]);
      await this.step([this.head], (ph) => {
        const f = this.o.middle.apply(this.smashed(x, ph, this.trainMode()));
        return featureMatchLoss(tf.reshape(f, [x.shape[0]!, d]) as tf.Tensor2D, fb, target);
      });
      tf.dispose([x, fb]);
      if (s % 50 === 0) this.log(`shadow head (middle matching) step ${s}/${steps} loss ${this.last.toFixed(4)}`);
    }
  }

  /** Frees the optimisers' state; ĥ and t̂ themselves go to the caller. */
  disposeOptimisers(): void {
    disposeOptimizer(this.head.opt);
    if (this.tail) disposeOptimizer(this.tail.opt);
  }
}
