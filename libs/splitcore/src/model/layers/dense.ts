import * as tf from '@tensorflow/tfjs-core';
import type { DenseLayer } from '../spec.ts';
import { sizeOf } from '../shape.ts';
import { noParams, type LayerKind } from './kind.ts';

export const dense: LayerKind<DenseLayer> = {
  outputShape: (_layer, s) => [s.units],
  params(layer, s, input) {
    const fin = sizeOf(input);
    return [
      { name: `${layer.name}/kernel`, shape: [fin, s.units], fanIn: fin, fanOut: s.units },
      { name: `${layer.name}/bias`, shape: [s.units], fanIn: 0, fanOut: 0 },
    ];
  },
  buffers: noParams,
  forward({ spec: s, x, params }) {
    const flat = x.rank > 2 ? tf.reshape(x, [x.shape[0]!, -1]) : x;
    const h = tf.add(tf.matMul(flat as tf.Tensor2D, params[0] as tf.Tensor2D), params[1]!);
    return s.activation === 'relu' ? tf.relu(h) : h;
  },
  flops: (s, input) => 2 * sizeOf(input) * s.units,
};
