import * as tf from '@tensorflow/tfjs-core';
import type { NamedLayer } from './spec.ts';
import { stateShapes, type PartSpec, type WeightArray } from './split.ts';
import { sizeOf } from './shape.ts';
import { applyLayer } from './layers/registry.ts';
import { EVAL_MODE, type ForwardMode } from './layers/kind.ts';

/** Where each layer's parameters and buffers start in a part's lists. */
export interface LayerSlot {
  readonly layer: NamedLayer;
  readonly params: readonly [number, number];
  readonly buffers: readonly [number, number];
}

export function layerSlotsOf(spec: PartSpec): LayerSlot[] {
  let p = 0;
  let b = 0;
  return spec.layers.map((layer, i) => {
    const s = spec.slots[i]!;
    const slot: LayerSlot = { layer, params: [p, p + s.params], buffers: [b, b + s.buffers] };
    p += s.params;
    b += s.buffers;
    return slot;
  });
}

/**
 * A runtime part (head, middle or tail): its spec, its trainable weights as tf variables (`vars`,
 * what optimisers update) and its running statistics (`buffers`, moved only by training forwards).
 * Variables are left unnamed so many clients can live in one tfjs engine.
 */
export class PartModel {
  readonly spec: PartSpec;
  readonly vars: tf.Variable[];
  readonly buffers: tf.Variable[];
  readonly slots: readonly LayerSlot[];

  /** `weights`: the part's state, parameters then buffers (stateShapes order). */
  constructor(spec: PartSpec, weights: readonly WeightArray[]) {
    this.spec = spec;
    checkWeights(spec, weights);
    this.slots = layerSlotsOf(spec);
    const variable = (w: WeightArray, trainable: boolean) => {
      // tf.variable shares the initial tensor's data; free the tensor object itself
      const t = tf.tensor(w.values, [...w.shape], 'float32');
      const v = tf.variable(t, trainable);
      t.dispose();
      return v;
    };
    const n = spec.params.length;
    this.vars = weights.slice(0, n).map((w) => variable(w, true));
    this.buffers = weights.slice(n).map((w) => variable(w, false));
  }

  /**
   * The part's forward, functional in `params` (its trainable parameters in layer order; default its
   * variables); evaluation mode unless told otherwise. Running statistics are this part's buffers,
   * updated in place when `mode.updateStats`.
   */
  apply(x: tf.Tensor, params: readonly tf.Tensor[] = this.vars, mode: ForwardMode = EVAL_MODE): tf.Tensor {
    if (params.length !== this.spec.params.length) throw new Error(`PartModel.apply: ${params.length} parameters given, ${this.spec.part} uses ${this.spec.params.length}`);
    let h = x;
    this.slots.forEach((s, i) => {
      h = applyLayer(s.layer, h, params.slice(...s.params), this.buffers.slice(...s.buffers), mode, i);
    });
    return h;
  }

  /** The part's state: parameters then buffers. */
  async getWeights(): Promise<WeightArray[]> {
    const shapes = stateShapes(this.spec);
    return Promise.all(
      this.state().map(async (v, i) => ({ name: shapes[i]!.name, shape: v.shape, values: (await v.data()) as Float32Array })),
    );
  }

  setWeights(weights: readonly WeightArray[]): void {
    checkWeights(this.spec, weights);
    const state = this.state();
    weights.forEach((w, i) => {
      tf.tidy(() => state[i]!.assign(tf.tensor(w.values, [...w.shape], 'float32')));
    });
  }

  /** Parameters then buffers, as variables. */
  state(): tf.Variable[] {
    return this.buffers.length === 0 ? this.vars : [...this.vars, ...this.buffers];
  }

  dispose(): void {
    for (const v of this.state()) v.dispose();
  }
}

export function checkWeights(spec: PartSpec, weights: readonly WeightArray[]): void {
  const shapes = stateShapes(spec);
  if (weights.length !== shapes.length)
    throw new Error(`${spec.part}: expected ${shapes.length} weight arrays, got ${weights.length}`);
  shapes.forEach((p, i) => {
    const w = weights[i]!;
    const size = sizeOf(p.shape);
    if (w.values.length !== size || w.shape.join('x') !== p.shape.join('x'))
      throw new Error(`${spec.part}: weight ${p.name} must have shape [${p.shape}], got [${w.shape}] with ${w.values.length} values`);
    for (let j = 0; j < w.values.length; j++)
      if (!Number.isFinite(w.values[j])) throw new Error(`${spec.part}: weight ${p.name} holds a non-finite value at ${j}`);
  });
}
