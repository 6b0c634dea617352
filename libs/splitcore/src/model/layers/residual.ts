import * as tf from '@tensorflow/tfjs-core';
import type { NamedLayer, ResidualLayer } from '../spec.ts';
import { convOut, kernelParam } from './conv2d.ts';
import { batchNormalise, normBuffers, normParams } from './batchnorm.ts';
import { imageInput, type LayerKind } from './kind.ts';

/** Whether the block needs the 1×1 projection shortcut (its output differs from its input in size or channels). */
const projects = (s: ResidualLayer, cin: number): boolean => s.stride !== 1 || cin !== s.filters;

/**
 * Parameters in order: conv1 kernel, bn1 γ β, conv2 kernel, bn2 γ β, then (projection) shortcut
 * kernel and its norm's γ β; buffers: the three norms' running mean and variance, same order.
 */
export const residual: LayerKind<ResidualLayer> = {
  outputShape(layer: NamedLayer, s, input) {
    const [h, w] = imageInput(layer, input);
    const oh = convOut(h, 3, s.stride, 1);
    const ow = convOut(w, 3, s.stride, 1);
    if (oh <= 0 || ow <= 0) throw new Error(`layer ${layer.name}: input [${input}] is too small for stride ${s.stride}`);
    return [oh, ow, s.filters];
  },
  params(layer, s, input) {
    const cin = imageInput(layer, input)[2];
    const n = layer.name;
    return [
      kernelParam(`${n}/conv1/kernel`, 3, cin, s.filters), ...normParams(`${n}/bn1`, s.filters),
      kernelParam(`${n}/conv2/kernel`, 3, s.filters, s.filters), ...normParams(`${n}/bn2`, s.filters),
      ...(projects(s, cin) ? [kernelParam(`${n}/shortcut/kernel`, 1, cin, s.filters), ...normParams(`${n}/shortcut/bn`, s.filters)] : []),
    ];
  },
  buffers(layer, s, input) {
    const cin = imageInput(layer, input)[2];
    const n = layer.name;
    return [...normBuffers(`${n}/bn1`, s.filters), ...normBuffers(`${n}/bn2`, s.filters), ...(projects(s, cin) ? normBuffers(`${n}/shortcut/bn`, s.filters) : [])];
  },
  forward({ spec: s, x, params: p, buffers: b, mode }) {
    const norm = (t: tf.Tensor, i: number) =>
      batchNormalise(t, { gamma: p[3 * i + 1]!, beta: p[3 * i + 2]!, runningMean: b[2 * i]!, runningVar: b[2 * i + 1]! }, mode, s.momentum);
    const conv = (t: tf.Tensor, i: number, stride: number, pad: number) => tf.conv2d(t as tf.Tensor4D, p[3 * i] as tf.Tensor4D, stride, pad);
    const h = tf.relu(norm(conv(x, 0, s.stride, 1), 0));
    const main = norm(conv(h, 1, 1, 1), 1);
    const shortcut = p.length > 6 ? norm(conv(x, 2, s.stride, 0), 2) : x;
    return tf.relu(tf.add(main, shortcut));
  },
  flops(s, input, output) {
    const cin = input[2]!;
    const px = output[0]! * output[1]!;
    return 2 * px * s.filters * (9 * cin + 9 * s.filters + (projects(s, cin) ? cin : 0));
  },
};
