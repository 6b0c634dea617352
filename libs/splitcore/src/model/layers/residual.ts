import * as tf from '@tensorflow/tfjs-core';
import type { NamedLayer, ResidualLayer } from '../spec.ts';
import { conv2dFilterGrad, conv2dInputGrad, convOut, kernelParam } from './conv2d.ts';
import { batchNormalise, batchNormTrain, batchNormVjp, normBuffers, normParams, type NormState } from './batchnorm.ts';
import { imageInput, type LayerKind } from './kind.ts';

/** Norm i of the block (0: after conv1, 1: after conv2, 2: the shortcut's): its γ β and running statistics. */
const normOf = (p: readonly tf.Tensor[], b: readonly tf.Tensor[], i: number): NormState => ({
  gamma: p[3 * i + 1]!, beta: p[3 * i + 2]!, runningMean: b[2 * i]!, runningVar: b[2 * i + 1]!,
});
const conv = (t: tf.Tensor, kernel: tf.Tensor, stride: number, pad: number) => tf.conv2d(t as tf.Tensor4D, kernel as tf.Tensor4D, stride, pad);

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
    const norm = (t: tf.Tensor, i: number) => batchNormalise(t, normOf(p, b, i), mode, s.momentum);
    const h = tf.relu(norm(conv(x, p[0]!, s.stride, 1), 0));
    const main = norm(conv(h, p[3]!, 1, 1), 1);
    const shortcut = p.length > 6 ? norm(conv(x, p[6]!, s.stride, 0), 2) : x;
    return tf.relu(tf.add(main, shortcut));
  },
  forwardKept({ spec: s, x, params: p, buffers: b, mode }) {
    const norm = (t: tf.Tensor, i: number) => batchNormTrain(t, normOf(p, b, i), mode, s.momentum);
    const n1 = norm(conv(x, p[0]!, s.stride, 1), 0);
    const h = tf.relu(n1.y);
    const n2 = norm(conv(h, p[3]!, 1, 1), 1);
    const proj = p.length > 6 ? norm(conv(x, p[6]!, s.stride, 0), 2) : null;
    const y = tf.relu(tf.add(n2.y, proj ? proj.y : x));
    return { y, saved: [h, n1.saved.xhat, n1.saved.invStd, n2.saved.xhat, n2.saved.invStd, ...(proj ? [proj.saved.xhat, proj.saved.invStd] : [])] };
  },
  vjpKept({ spec: s, x, params: p }, y, saved, dy, needGx) {
    const [h, xh1, inv1, xh2, inv2, xhp, invp] = saved as tf.Tensor[];
    // the block's ReLU from its kept output, then the main branch backwards, then the shortcut
    const g = tf.mul(dy, tf.step(y));
    const n2 = batchNormVjp(g, { xhat: xh2!, invStd: inv2! }, p[4]!);
    const dh = tf.mul(conv2dInputGrad(n2.dx, p[3]!, h!.shape, 1, 1), tf.step(h!));
    const n1 = batchNormVjp(dh, { xhat: xh1!, invStd: inv1! }, p[1]!);
    const grads = [conv2dFilterGrad(x, n1.dx, s.stride, 1, p[0]!.shape), n1.dgamma, n1.dbeta, conv2dFilterGrad(h!, n2.dx, 1, 1, p[3]!.shape), n2.dgamma, n2.dbeta];
    let dx = needGx ? conv2dInputGrad(n1.dx, p[0]!, x.shape, s.stride, 1) : null;
    if (xhp && invp) {
      const np = batchNormVjp(g, { xhat: xhp, invStd: invp }, p[7]!);
      grads.push(conv2dFilterGrad(x, np.dx, s.stride, 0, p[6]!.shape), np.dgamma, np.dbeta);
      if (dx) dx = tf.add(dx, conv2dInputGrad(np.dx, p[6]!, x.shape, s.stride, 0));
    } else if (dx) dx = tf.add(dx, g);
    return { dx, grads };
  },
  flops(s, input, output) {
    const cin = input[2]!;
    const px = output[0]! * output[1]!;
    return 2 * px * s.filters * (9 * cin + 9 * s.filters + (projects(s, cin) ? cin : 0));
  },
};
