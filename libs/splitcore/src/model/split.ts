import { Rng } from '../rng/rng.ts';
import type { Cut, ModelSpec, NamedLayer, ParamShape } from './spec.ts';
import { layerBufferShapes, layerOutputShape, layerParamShapes } from './layers/registry.ts';
import { sizeOf } from './shape.ts';

export type PartName = 'head' | 'middle' | 'tail';

/** Plain-data weights: one entry per parameter, in layer order, then one per buffer (a part's state). */
export interface WeightArray {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface PartSpec {
  readonly part: PartName;
  readonly layers: readonly NamedLayer[];
  /** Per-sample shapes (no batch dimension). */
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** Trainable parameters, in layer order. */
  readonly params: readonly ParamShape[];
  /** Non-trainable state (batch-norm running statistics), in layer order; travels with the weights. */
  readonly buffers: readonly ParamShape[];
  /** Per layer: how many of `params` and of `buffers` it owns (in order). */
  readonly slots: readonly { readonly params: number; readonly buffers: number }[];
}

/** A part's whole state: its parameters, then its buffers (what getWeights returns and weights lists hold). */
export function stateShapes(spec: PartSpec): readonly ParamShape[] {
  return spec.buffers.length === 0 ? spec.params : [...spec.params, ...spec.buffers];
}

/** What a client holds and sends: the head's state, then the tail's (roundStart/roundDone/evaluate weights, checkpoints). */
export function headTailShapes(s: Pick<SplitSpecs, 'head' | 'tail'>): ParamShape[] {
  return [...stateShapes(s.head), ...stateShapes(s.tail)];
}

/** The three parts' layers and shapes, without weights (what a client needs: weights come from the server). */
export interface SplitSpecs {
  readonly model: ModelSpec;
  readonly cut: Cut;
  readonly head: PartSpec;
  readonly middle: PartSpec;
  readonly tail: PartSpec;
}

export interface SplitModel extends SplitSpecs {
  /** Seeded initial weights for each part. */
  readonly init: Readonly<Record<PartName, readonly WeightArray[]>>;
}

/** Valid cut positions: every layer boundary that leaves head, middle and tail non-empty. */
export function validateCut(model: ModelSpec, cut: Cut): void {
  const n = model.layers.length;
  const names = model.layers.map((l, i) => `${i + 1}=${l.name}`).join(', ');
  if (!Number.isInteger(cut.headEnd) || cut.headEnd < 1 || cut.headEnd > n - 2)
    throw new Error(`cut.headEnd must be an integer in [1, ${n - 2}] for model ${model.name} (cut after layer: ${names}), got ${cut.headEnd}`);
  if (!Number.isInteger(cut.tailStart) || cut.tailStart <= cut.headEnd || cut.tailStart > n - 1)
    throw new Error(`cut.tailStart must be an integer in [headEnd+1=${cut.headEnd + 1}, ${n - 1}] for model ${model.name}, got ${cut.tailStart}`);
}

/** The spec of a part made of `layers` fed with `inputShape`; throws naming the first layer that does not fit. */
export function partSpec(part: PartName, layers: readonly NamedLayer[], inputShape: readonly number[]): PartSpec {
  let shape = inputShape.slice();
  const params: ParamShape[] = [];
  const buffers: ParamShape[] = [];
  const slots: { params: number; buffers: number }[] = [];
  for (const layer of layers) {
    const p = layerParamShapes(layer, shape);
    const b = layerBufferShapes(layer, shape);
    params.push(...p);
    buffers.push(...b);
    slots.push({ params: p.length, buffers: b.length });
    shape = layerOutputShape(layer, shape);
  }
  return { part, layers, inputShape, outputShape: shape, params, buffers, slots };
}

/**
 * Glorot-uniform kernels, zero biases, ones where `init` says so (batch-norm scales, running
 * variances), drawn from a stream forked per parameter name.
 */
export function initWeights(params: readonly ParamShape[], rng: Rng): WeightArray[] {
  return params.map((p) => {
    const size = sizeOf(p.shape);
    const values = new Float32Array(size);
    if (p.init === 'ones') values.fill(1);
    else if (p.fanIn > 0) {
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      const r = rng.fork(p.name);
      for (let i = 0; i < size; i++) values[i] = (2 * r.float() - 1) * limit;
    }
    return { name: p.name, shape: p.shape, values };
  });
}

/** Cut a model twice: the parts' specs only (no weights drawn: cheap, and nothing held). */
export function splitSpecs(model: ModelSpec, cut: Cut): SplitSpecs {
  validateCut(model, cut);
  const head = partSpec('head', model.layers.slice(0, cut.headEnd), model.inputShape);
  const middle = partSpec('middle', model.layers.slice(cut.headEnd, cut.tailStart), head.outputShape);
  const tail = partSpec('tail', model.layers.slice(cut.tailStart), middle.outputShape);
  return { model, cut, head, middle, tail };
}

/** Cut a model twice; the same (model, cut, seed) always gives the same parts and weights. */
export function split(model: ModelSpec, cut: Cut, seed: number): SplitModel {
  const s = splitSpecs(model, cut);
  const rng = Rng.fromSeed(seed).fork('init');
  const init = (p: PartSpec) => initWeights(stateShapes(p), rng);
  return { ...s, init: { head: init(s.head), middle: init(s.middle), tail: init(s.tail) } };
}
