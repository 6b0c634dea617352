import * as tf from '@tensorflow/tfjs-core';
import {
  crossEntropy, derivedSeed, disposeOptimizer, initWeights, stateShapes, trainMode, makeOptimizer, PartModel, Rng,
  partSpec, type DefenceSpec, type NamedLayer, type PartSpec,
} from '@splitfleet/splitcore';
import { HEAD_ONLY_OBJECTIVES, type InferClasses, type ShadowArchitecture, type ShadowObjective } from './config.ts';
import { objectiveTraining } from './shadow-objectives.ts';
import { batches, rowsOf, ShadowSession, stepParts } from './shadow-session.ts';

export interface ShadowOptions {
  readonly objective: ShadowObjective;
  readonly architecture: ShadowArchitecture;
  /** learned: train t̂ too; none: ĥ only (the SPADV authors' head-only shadow). Default learned. */
  readonly tail?: 'learned' | 'none';
  /** The server's own middle, frozen (never updated here). */
  readonly middle: PartModel;
  /** Architectures of the real head and tail (the server knows the model family and the cut). */
  readonly headSpec: PartSpec;
  readonly tailSpec: PartSpec;
  readonly classes: number;
  /**
   * Label inference from the returned gradients ('observe'): cluster their directions into `all`
   * classes, or into as many as the best silhouette says the observations hold (2…classes) — a
   * client of a non-IID fleet may hold two classes, and ten clusters would split each of them.
   * Default all.
   */
  readonly inferClasses?: InferClasses;
  /**
   * The clients' defences, known to an adaptive attacker (attack.adaptive): label inference then
   * inverts randomised response (adaptive-labels.ts).
   */
  readonly defence?: readonly DefenceSpec[];
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
  /** null for a head-only shadow (attack.shadow.tail none). */
  readonly tail: PartModel | null;
  /** For 'observe': labels inferred from the observed gradients (attacker's label space). */
  readonly inferredLabels: Int32Array | null;
  readonly finalLoss: number;
  dispose(): void;
}

/**
 * The shadow head (`attack.shadow.architecture`): the real head's layers (`same`), one strided 3×3
 * conv + ReLU (`small`), or the SPADV authors' get_shadow_model heads: `single`, one conv without bias
 * whose output has the smashed shape (3×3, pad 1, stride 1 or 2 where the size halves or stays, as
 * theirs for ResNet-18 split 1–3; otherwise a kernel = stride = input ÷ output, where theirs is a
 * hand-picked 9×9 stride 3 for split 4), and `multi`, residual basic blocks — one stride-1 block, then
 * one stride-2 block per halving, channels doubling up to the smashed data's (their stacks start with
 * two stride-1 blocks from split 2 on; this one with one).
 */
export function shadowHeadSpec(real: PartSpec, arch: ShadowArchitecture): PartSpec {
  if (arch === 'same') return real;
  const [h] = real.inputShape as [number, number, number];
  const out = real.outputShape;
  if (out.length !== 3) throw new Error(`attack.shadow.architecture=${arch} needs an image head with a [h,w,c] output, got [${out}]`);
  const [oh, , oc] = out as [number, number, number];
  const stride = h / oh;
  if (!Number.isInteger(stride)) throw new Error(`attack.shadow.architecture=${arch}: input height ${h} is not a multiple of the smashed height ${oh}`);
  const layers: NamedLayer[] =
    arch === 'small' ? [{ name: 'shadow-conv', spec: { kind: 'conv2d', filters: oc, kernel: 3, stride, padding: 'same', activation: 'relu' } }]
    : arch === 'single' ? [{ name: 'shadow-conv', spec: stride <= 2
      ? { kind: 'conv2d', filters: oc, kernel: 3, stride, padding: 1, activation: 'linear', bias: false }
      : { kind: 'conv2d', filters: oc, kernel: stride, stride, padding: 'valid', activation: 'linear', bias: false } }]
    : residualStack(stride, oc);
  const spec = partSpec('head', layers, real.inputShape);
  if (spec.outputShape.join() !== out.join()) throw new Error(`attack.shadow.architecture=${arch}: cannot reach the smashed shape [${out}] from [${real.inputShape}] (got [${spec.outputShape}])`);
  return spec;
}

/** `multi`: a stride-1 block, then one stride-2 block per halving; channels double up to `channels`. */
function residualStack(stride: number, channels: number): NamedLayer[] {
  const halvings = Math.log2(stride);
  if (!Number.isInteger(halvings)) throw new Error(`attack.shadow.architecture=multi needs the smashed size to halve a whole number of times, got a factor of ${stride}`);
  const widths = Array.from({ length: halvings + 1 }, (_, i) => Math.max(1, Math.round(channels / 2 ** (halvings - i))));
  return widths.map((filters, i) => ({ name: `shadow-block${i + 1}`, spec: { kind: 'residual', filters, stride: i === 0 ? 1 : 2 } }));
}

/**
 * Stage 1 of SPADV: a shadow head ĥ and tail t̂ around the frozen middle m, from a few unlabelled
 * samples and (objectives match/cluster/observe) what the server recorded during training.
 * See docs/spadv.md for what is the paper's and what is our reconstruction; shadow-objectives.ts
 * for each objective's training.
 */
export async function trainShadow(o: ShadowOptions): Promise<ShadowModel> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new Error(`attack.shadow.steps must be an integer ≥ 1, got ${o.steps}`);
  if (o.aux.n < 2) throw new Error(`attack.aux.size must be ≥ 2, got ${o.aux.n}`);
  if (o.tail === 'none' && !HEAD_ONLY_OBJECTIVES.includes(o.objective))
    throw new Error(`attack.objective=${o.objective} needs a shadow tail; with attack.shadow.tail none use ${HEAD_ONLY_OBJECTIVES.join(', ')}`);
  const train = objectiveTraining(o);
  const session = new ShadowSession(o, shadowHeadSpec(o.headSpec, o.architecture));
  const inferredLabels = await train(session);
  session.disposeOptimisers();
  const head = session.head.model;
  const tail = session.tail?.model ?? null;
  return {
    head, tail, inferredLabels, finalLoss: session.last,
    dispose() {
      head.dispose();
      tail?.dispose();
    },
  };
}

export interface SurrogateOptions {
  /** Architectures of the whole model (head, middle, tail): the surrogate copies them. */
  readonly specs: readonly [PartSpec, PartSpec, PartSpec];
  /** The server's real middle, kept frozen (the labelled-shadow baseline); absent: a middle of specs[1] is trained too. */
  readonly frozenMiddle?: PartModel;
  /** Name of the random stream (each labelled model its own). */
  readonly stream?: string;
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
  const stream = o.stream ?? 'surrogate';
  const rng = Rng.fromSeed(o.seed).fork(stream);
  const fresh = (i: number) => new PartModel(o.specs[i]!, initWeights(stateShapes(o.specs[i]!), rng.fork(`p${i}`)));
  const parts: [PartModel, PartModel, PartModel] = [fresh(0), o.frozenMiddle ?? fresh(1), fresh(2)];
  const trained = o.frozenMiddle ? [parts[0], parts[2]] : parts;
  const opts = trained.map((model) => ({ model, opt: makeOptimizer({ name: 'adam', lr: o.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }) }));
  const inShape = o.specs[0].inputShape;
  let last = NaN;
  for (let s = 0; s < o.steps; s++) {
    const idx = batches(o.aux.n, o.batchSize, rng)[0]!;
    const x = tf.tensor(rowsOf(o.aux.x, o.aux.n, idx), [idx.length, ...inShape]);
    const y = tf.tensor1d(Int32Array.from(idx, (i) => o.aux.labels[i]!), 'int32');
    // a training forward (batch statistics, dropout) of the parts being trained; a frozen middle runs as served
    const mode = trainMode(derivedSeed(o.seed, `${stream}-step`, s));
    last = await stepParts(opts, (...ps) => {
      const [ph, pm, pt] = o.frozenMiddle ? [ps[0], undefined, ps[1]] : ps;
      const h = parts[0].apply(x, ph, mode);
      return crossEntropy(parts[2].apply(o.frozenMiddle ? parts[1].apply(h) : parts[1].apply(h, pm, mode), pt, mode), y, o.classes);
    });
    tf.dispose([x, y]);
  }
  opts.forEach((p) => disposeOptimizer(p.opt));
  return { parts, finalLoss: last };
}
