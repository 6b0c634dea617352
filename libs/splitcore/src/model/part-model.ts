import * as tf from '@tensorflow/tfjs-core';
import type { NamedLayer } from './spec.ts';
import type { PartSpec, WeightArray } from './split.ts';
import { sizeOf } from './shape.ts';

/** Applies a list of layers functionally; `params` are consumed in layer order (kernel, bias, ...). */
export function applyLayers(layers: readonly NamedLayer[], params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor {
  let h = x;
  let p = 0;
  const next = (): tf.Tensor => {
    const t = params[p++];
    if (!t) throw new Error('applyLayers: fewer parameters than the layers need');
    return t;
  };
  for (const layer of layers) {
    const s = layer.spec;
    switch (s.kind) {
      case 'conv2d': {
        const k = next() as tf.Tensor4D;
        const b = next();
        // not tf.fused.conv2d: under tf.grads tfjs unfuses a ReLU anyway, and a fused forward rounds
        // differently (bias inside the accumulation), which flips ReLU and max-pool decisions and
        // breaks the exact equivalence of split and composed training (test/equivalence.spec.ts)
        h = tf.add(tf.conv2d(h as tf.Tensor4D, k, s.stride, s.padding), b);
        if (s.activation === 'relu') h = tf.relu(h);
        break;
      }
      case 'maxpool':
        h = tf.maxPool(h as tf.Tensor4D, s.size, s.size, 'valid');
        break;
      case 'dense': {
        const k = next() as tf.Tensor2D;
        const b = next();
        const flat = h.rank > 2 ? tf.reshape(h, [h.shape[0] as number, -1]) : h;
        h = tf.add(tf.matMul(flat as tf.Tensor2D, k), b);
        if (s.activation === 'relu') h = tf.relu(h);
        break;
      }
    }
  }
  if (p !== params.length) throw new Error(`applyLayers: ${params.length} parameters given, layers use ${p}`);
  return h;
}

/**
 * A runtime part (head, middle or tail): its spec and its weights as tf variables.
 * Variables are left unnamed so many clients can live in one tfjs engine.
 */
export class PartModel {
  readonly spec: PartSpec;
  readonly vars: tf.Variable[];

  constructor(spec: PartSpec, weights: readonly WeightArray[]) {
    this.spec = spec;
    checkWeights(spec, weights);
    this.vars = weights.map((w) => {
      // tf.variable shares the initial tensor's data; free the tensor object itself
      const t = tf.tensor(w.values, [...w.shape], 'float32');
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    });
  }

  apply(x: tf.Tensor, params: readonly tf.Tensor[] = this.vars): tf.Tensor {
    return applyLayers(this.spec.layers, params, x);
  }

  async getWeights(): Promise<WeightArray[]> {
    return Promise.all(
      this.vars.map(async (v, i) => ({
        name: this.spec.params[i]!.name,
        shape: v.shape,
        values: (await v.data()) as Float32Array,
      })),
    );
  }

  setWeights(weights: readonly WeightArray[]): void {
    checkWeights(this.spec, weights);
    weights.forEach((w, i) => {
      tf.tidy(() => this.vars[i]!.assign(tf.tensor(w.values, [...w.shape], 'float32')));
    });
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

export function checkWeights(spec: PartSpec, weights: readonly WeightArray[]): void {
  if (weights.length !== spec.params.length)
    throw new Error(`${spec.part}: expected ${spec.params.length} weight arrays, got ${weights.length}`);
  spec.params.forEach((p, i) => {
    const w = weights[i]!;
    const size = sizeOf(p.shape);
    if (w.values.length !== size || w.shape.join('x') !== p.shape.join('x'))
      throw new Error(`${spec.part}: weight ${p.name} must have shape [${p.shape}], got [${w.shape}] with ${w.values.length} values`);
    for (let j = 0; j < w.values.length; j++)
      if (!Number.isFinite(w.values[j])) throw new Error(`${spec.part}: weight ${p.name} holds a non-finite value at ${j}`);
  });
}
