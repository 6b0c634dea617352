import * as tf from '@tensorflow/tfjs-core';
import type { DropoutLayer } from '../spec.ts';
import { noParams, type LayerKind } from './kind.ts';

export const dropout: LayerKind<DropoutLayer> = {
  outputShape(layer, s, input) {
    if (!(s.rate >= 0 && s.rate < 1)) throw new Error(`layer ${layer.name}: dropout rate must be in [0, 1), got ${s.rate}`);
    return [...input];
  },
  params: noParams,
  buffers: noParams,
  forward({ spec: s, x, mode, index }) {
    if (!mode.training || s.rate === 0) return tf.clone(x);
    // the mask is a function of (step seed, layer position): the cached backward's re-run draws it again
    const keep = tf.less(tf.randomUniform(x.shape, 0, 1, 'float32', mode.seed * 1009 + index), 1 - s.rate);
    return tf.mul(x, tf.mul(tf.cast(keep, 'float32'), 1 / (1 - s.rate)));
  },
  flops: () => 0,
};
