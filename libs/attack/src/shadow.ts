import * as tf from '@tensorflow/tfjs-core';
import {
  applyGradients, crossEntropy, disposeOptimizer, initWeights, makeOptimizer, PartModel, Rng,
  type NamedLayer, type PartSpec, type ParamShape,
} from '@splitfleet/splitcore';
import type { ShadowArchitecture, ShadowObjective } from './config.ts';
import { kmeans } from './kmeans.ts';
import { infomaxLoss, smashedStats, statsMatchLoss, type SmashedStats } from './losses.ts';

export interface ShadowOptions {
  readonly objective: ShadowObjective;
  readonly architecture: ShadowArchitecture;
  /** The server's own middle, frozen (never updated here). */
  readonly middle: PartModel;
  /** Architectures of the real head and tail (the server knows the model family and the cut). */
  readonly headSpec: PartSpec;
  readonly tailSpec: PartSpec;
  readonly classes: number;
  /** Unlabelled auxiliary samples, N × inputShape, pixels in [0,1]. */
  readonly aux: { readonly x: Float32Array; readonly n: number };
  /** Smashed data z (n × D) and gradients at the middle output gm (n × M) the server recorded. */
  readonly observed: { readonly n: number; readonly z: Float32Array; readonly gm: Float32Array } | null;
  readonly steps: number;
  readonly lr: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly log?: (line: string) => void;
  /** Called after every optimiser step (progress bars). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ShadowModel {
  readonly head: PartModel;
  readonly tail: PartModel;
  /** For 'observe': labels inferred from the observed gradients (attacker's label space). */
  readonly inferredLabels: Int32Array | null;
  readonly finalLoss: number;
  dispose(): void;
}

/** The shadow head: same layers as the real one, or a single strided conv with the same output. */
export function shadowHeadSpec(real: PartSpec, arch: ShadowArchitecture): PartSpec {
  if (arch === 'same') return real;
  const [h, , cin] = real.inputShape as [number, number, number];
  const out = real.outputShape;
  if (out.length !== 3 || cin === undefined) throw new Error(`attack.shadow.architecture=small needs an image head with a [h,w,c] output, got [${out}]`);
  const stride = h / out[0]!;
  if (!Number.isInteger(stride)) throw new Error(`attack.shadow.architecture=small: input height ${h} is not a multiple of the smashed height ${out[0]}`);
  const layer: NamedLayer = { name: 'shadow-conv', spec: { kind: 'conv2d', filters: out[2]!, kernel: 3, stride, padding: 'same', activation: 'relu' } };
  const params: ParamShape[] = [
    { name: 'shadow-conv/kernel', shape: [3, 3, cin, out[2]!], fanIn: 9 * cin, fanOut: 9 * out[2]! },
    { name: 'shadow-conv/bias', shape: [out[2]!], fanIn: 0, fanOut: 0 },
  ];
  return { part: 'head', layers: [layer], inputShape: real.inputShape, outputShape: out, params };
}

function batches(n: number, size: number, rng: Rng): number[][] {
  const order = rng.permutation(n);
  const out: number[][] = [];
  for (let i = 0; i < n; i += size) out.push(order.slice(i, i + size));
  return out;
}

function rowsOf(data: Float32Array, n: number, idx: readonly number[]): Float32Array {
  const d = data.length / n;
  const out = new Float32Array(idx.length * d);
  idx.forEach((r, i) => out.set(data.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/**
 * One optimiser step of `loss` on the variables of the given parts (each with its own optimiser);
 * `loss` receives the parameters part by part so gradients flow to exactly those. Returns the loss.
 */
async function stepParts(parts: readonly { readonly model: PartModel; readonly opt: tf.Optimizer }[], loss: (...ps: tf.Tensor[][]) => tf.Scalar): Promise<number> {
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

/**
 * Stage 1 of SPADV: a shadow head ĥ and tail t̂ around the frozen middle m, from a few unlabelled
 * samples and (objectives match/cluster/observe) what the server recorded during training.
 * See docs/spadv.md for what is the paper's and what is our reconstruction.
 */
export async function trainShadow(o: ShadowOptions): Promise<ShadowModel> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`attack.shadow.steps must be an integer ≥ 1, got ${o.steps}`);
  if (o.aux.n < 2) throw new Error(`attack.aux.size must be ≥ 2, got ${o.aux.n}`);
  if (o.objective !== 'infomax' && !o.observed) throw new Error(`attack.objective=${o.objective} needs recorded observations (run the attack during training)`);
  const log = o.log ?? (() => {});
  const rng = Rng.fromSeed(o.seed).fork('shadow');
  const headSpec = shadowHeadSpec(o.headSpec, o.architecture);
  const head = new PartModel(headSpec, initWeights(headSpec.params, rng.fork('head')));
  const tail = new PartModel(o.tailSpec, initWeights(o.tailSpec.params, rng.fork('tail')));
  const adam = () => makeOptimizer({ name: 'adam', lr: o.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
  const inShape = o.headSpec.inputShape;
  const zShape = o.headSpec.outputShape;
  const channels = zShape[zShape.length - 1]!;
  const K = o.classes;
  const auxBatch = (idx: number[]) => tf.tensor(rowsOf(o.aux.x, o.aux.n, idx), [idx.length, ...inShape]);
  let inferred: Int32Array | null = null;
  let last = NaN;
  const headOpt = adam();
  const tailOpt = adam();
  const H = { model: head, opt: headOpt };
  const T = { model: tail, opt: tailOpt };
  // every objective runs `steps` (infomax) or 2 × `steps` optimiser steps in all
  const totalSteps = o.objective === 'infomax' ? o.steps : 2 * o.steps;
  let done = 0;
  const step: typeof stepParts = async (ps, loss) => {
    const v = await stepParts(ps, loss);
    o.onProgress?.(Math.min(++done, totalSteps), totalSteps);
    return v;
  };

  // --- helpers ---------------------------------------------------------------------------------
  const trainTailCE = async (feats: Float32Array, n: number, labels: Int32Array, steps: number) => {
    const d = feats.length / n;
    for (let s = 0; s < steps; s++) {
      for (const idx of batches(n, o.batchSize * 2, rng).slice(0, 1)) {
        const x = tf.tensor2d(rowsOf(feats, n, idx), [idx.length, d]);
        const y = tf.tensor1d(Int32Array.from(idx, (i) => labels[i]!), 'int32');
        last = await step([T], (pt) => crossEntropy(tail.apply(x, pt), y, K));
        tf.dispose([x, y]);
      }
    }
  };
  const middleFeatures = async (x: tf.Tensor) => {
    const m = tf.tidy(() => o.middle.apply(head.apply(x)));
    const v = (await m.data()) as Float32Array;
    m.dispose();
    return v;
  };
  /** Trains ĥ to match `stats`; assignments come from `assign(x)` (constant per step). */
  const trainHeadMatch = async (stats: SmashedStats, steps: number, assign: (x: tf.Tensor) => tf.Tensor2D, infomaxWeight: number) => {
    for (let s = 0; s < steps; s++) {
      const idx = batches(o.aux.n, o.batchSize, rng)[0]!;
      const x = auxBatch(idx);
      const a = assign(x);
      last = await step(infomaxWeight > 0 ? [H, T] : [H], (ph, pt) => {
        const z = head.apply(x, ph);
        const l = statsMatchLoss(z, a, stats);
        return (infomaxWeight > 0 ? tf.add(l, tf.mul(infomaxWeight, infomaxLoss(tail.apply(o.middle.apply(z), pt)))) : l) as tf.Scalar;
      });
      tf.dispose([x, a]);
      if (s % 50 === 0) log(`shadow head step ${s}/${steps} loss ${last.toFixed(4)}`);
    }
  };
  const uniform = (x: tf.Tensor) => tf.ones([x.shape[0]!, 1]) as tf.Tensor2D;
  const tailAssign = (x: tf.Tensor) => tf.tidy(() => tf.softmax(tail.apply(o.middle.apply(head.apply(x)))) as tf.Tensor2D);

  // --- objectives --------------------------------------------------------------------------------
  switch (o.objective) {
    case 'infomax': {
      for (let s = 0; s < o.steps; s++) {
        const idx = batches(o.aux.n, o.batchSize, rng)[0]!;
        const x = auxBatch(idx);
        last = await step([H, T], (ph, pt) => infomaxLoss(tail.apply(o.middle.apply(head.apply(x, ph)), pt)));
        x.dispose();
      }
      break;
    }
    case 'match': {
      const obs = o.observed!;
      const global = smashedStats(obs.z, obs.n, channels, new Int32Array(obs.n), 1);
      await trainHeadMatch(global, o.steps, uniform, 0);
      // t̂ by information maximisation on the middle's features of ĥ(D_aux)
      for (let s = 0; s < o.steps; s++) {
        const idx = batches(o.aux.n, o.batchSize, rng)[0]!;
        const x = auxBatch(idx);
        const m = tf.tidy(() => o.middle.apply(head.apply(x)));
        last = await step([T], (pt) => infomaxLoss(tail.apply(m, pt)));
        tf.dispose([x, m]);
      }
      break;
    }
    case 'cluster': {
      const obs = o.observed!;
      const global = smashedStats(obs.z, obs.n, channels, new Int32Array(obs.n), 1);
      await trainHeadMatch(global, Math.ceil(o.steps / 2), uniform, 0);
      const all = Array.from({ length: o.aux.n }, (_, i) => i);
      const x = auxBatch(all);
      const feats = await middleFeatures(x);
      x.dispose();
      const d = feats.length / o.aux.n;
      const { labels } = kmeans(feats, o.aux.n, d, Math.min(K, o.aux.n), o.seed);
      await trainTailCE(feats, o.aux.n, labels, o.steps);
      // fine-tune ĥ and t̂ together on the pseudo-labels
      for (let s = 0; s < Math.ceil(o.steps / 2); s++) {
        const idx = batches(o.aux.n, o.batchSize, rng)[0]!;
        const xb = auxBatch(idx);
        const y = tf.tensor1d(Int32Array.from(idx, (i) => labels[i]!), 'int32');
        last = await step([H, T], (ph, pt) => crossEntropy(tail.apply(o.middle.apply(head.apply(xb, ph)), pt), y, K));
        tf.dispose([xb, y]);
      }
      break;
    }
    case 'observe': {
      const obs = o.observed!;
      const gDim = obs.gm.length / obs.n;
      // (1) labels up to a relabelling: directions of the returned gradients cluster by class
      inferred = kmeans(obs.gm, obs.n, gDim, K, o.seed, { spherical: true }).labels;
      // (2) t̂ fitted to (m(z), inferred label) pairs of the recorded batches
      const zt = tf.tensor(obs.z, [obs.n, ...zShape]);
      const mObs = tf.tidy(() => o.middle.apply(zt));
      const feats = (await mObs.data()) as Float32Array;
      tf.dispose([zt, mObs]);
      await trainTailCE(feats, obs.n, inferred, o.steps);
      log(`shadow tail fitted to ${obs.n} observed samples, loss ${last.toFixed(4)}`);
      // (3) ĥ matches the observed smashed data class by class, classes assigned by t̂∘m∘ĥ
      const stats = smashedStats(obs.z, obs.n, channels, inferred, K);
      await trainHeadMatch(stats, o.steps, tailAssign, 0);
      break;
    }
  }
  disposeOptimizer(headOpt);
  disposeOptimizer(tailOpt);
  return {
    head, tail, inferredLabels: inferred, finalLoss: last,
    dispose() {
      head.dispose();
      tail.dispose();
    },
  };
}

export interface SurrogateOptions {
  /** Architectures of the whole model (head, middle, tail): the surrogate copies them. */
  readonly specs: readonly [PartSpec, PartSpec, PartSpec];
  readonly classes: number;
  /** D_aux with its true labels: a stronger attacker than SPADV assumes. */
  readonly aux: { readonly x: Float32Array; readonly n: number; readonly labels: Int32Array };
  readonly steps: number;
  readonly lr: number;
  readonly batchSize: number;
  readonly seed: number;
}

/**
 * The transfer baseline's surrogate: a fresh model of the same architecture trained from scratch
 * (middle included, the server's own middle unused) on the labelled D_aux.
 */
export async function trainSurrogate(o: SurrogateOptions): Promise<{ readonly parts: [PartModel, PartModel, PartModel]; readonly finalLoss: number }> {
  const rng = Rng.fromSeed(o.seed).fork('surrogate');
  const parts = o.specs.map((sp, i) => new PartModel(sp, initWeights(sp.params, rng.fork(`p${i}`)))) as [PartModel, PartModel, PartModel];
  const opts = parts.map((model) => ({ model, opt: makeOptimizer({ name: 'adam', lr: o.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }) }));
  const inShape = o.specs[0].inputShape;
  let last = NaN;
  for (let s = 0; s < o.steps; s++) {
    const idx = batches(o.aux.n, o.batchSize, rng)[0]!;
    const x = tf.tensor(rowsOf(o.aux.x, o.aux.n, idx), [idx.length, ...inShape]);
    const y = tf.tensor1d(Int32Array.from(idx, (i) => o.aux.labels[i]!), 'int32');
    last = await stepParts(opts, (ph, pm, pt) => crossEntropy(parts[2].apply(parts[1].apply(parts[0].apply(x, ph), pm), pt), y, o.classes));
    tf.dispose([x, y]);
  }
  opts.forEach((p) => disposeOptimizer(p.opt));
  return { parts, finalLoss: last };
}
