import * as tf from '@tensorflow/tfjs-core';
import type { AvgPoolLayer, FlattenLayer, GlobalAvgPoolLayer, MaxPoolLayer, NamedLayer } from '../spec.ts';
import { sizeOf } from '../shape.ts';
import { imageInput, noParams, type LayerKind } from './kind.ts';

function pooledShape(layer: NamedLayer, size: number, input: readonly number[]): number[] {
  const [h, w, c] = imageInput(layer, input);
  if (h < size || w < size) throw new Error(`layer ${layer.name}: input [${input}] is smaller than the ${size}×${size} window`);
  return [Math.floor(h / size), Math.floor(w / size), c];
}

export const maxpool: LayerKind<MaxPoolLayer> = {
  outputShape: (layer, s, input) => pooledShape(layer, s.size, input),
  params: noParams,
  buffers: noParams,
  forward: ({ spec: s, x }) => tf.maxPool(x as tf.Tensor4D, s.size, s.size, 'valid'),
  flops: () => 0,
};

export const avgpool: LayerKind<AvgPoolLayer> = {
  outputShape: (layer, s, input) => pooledShape(layer, s.size, input),
  params: noParams,
  buffers: noParams,
  forward: ({ spec: s, x }) => tf.avgPool(x as tf.Tensor4D, s.size, s.size, 'valid'),
  flops: (_s, input) => sizeOf(input),
};

export const gap: LayerKind<GlobalAvgPoolLayer> = {
  outputShape: (layer, _s, input) => [imageInput(layer, input)[2]],
  params: noParams,
  buffers: noParams,
  forward: ({ x }) => tf.mean(x, [1, 2]),
  flops: (_s, input) => sizeOf(input),
};

export const flatten: LayerKind<FlattenLayer> = {
  outputShape: (_layer, _s, input) => [sizeOf(input)],
  params: noParams,
  buffers: noParams,
  forward: ({ x }) => tf.reshape(x, [x.shape[0]!, -1]),
  flops: () => 0,
};
