import * as tf from '@tensorflow/tfjs-core';
import type { Conv2dLayer, NamedLayer, Padding, ParamShape } from '../spec.ts';
import { imageInput, noParams, type LayerKind } from './kind.ts';

/** Output length of a convolution along one axis, or ≤ 0 when the input is too small. */
export function convOut(n: number, kernel: number, stride: number, padding: Padding): number {
  if (padding === 'same') return Math.ceil(n / stride);
  const p = padding === 'valid' ? 0 : padding;
  return Math.floor((n + 2 * p - kernel) / stride) + 1;
}

/** A kernel's parameter shape (Glorot fans); shared with the residual block's convolutions. */
export function kernelParam(name: string, kernel: number, cin: number, filters: number): ParamShape {
  return { name, shape: [kernel, kernel, cin, filters], fanIn: kernel * kernel * cin, fanOut: kernel * kernel * filters };
}

export const hasBias = (s: Conv2dLayer): boolean => s.bias !== false;

/** ∂loss/∂kernel of a convolution from its input and output gradient (the backend's Conv2DBackpropFilter). */
export function conv2dFilterGrad(x: tf.Tensor, dy: tf.Tensor, stride: number, padding: Padding, filterShape: readonly number[]): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [stride, stride], pad: padding, dataFormat: 'NHWC', filterShape: [...filterShape] }) as tf.Tensor;
}

/** ∂loss/∂input of a convolution from its output gradient. */
export function conv2dInputGrad(dy: tf.Tensor, kernel: tf.Tensor, inputShape: readonly number[], stride: number, padding: Padding): tf.Tensor {
  return tf.conv2dTranspose(dy as tf.Tensor4D, kernel as tf.Tensor4D, inputShape as [number, number, number, number], stride, padding);
}

export const conv2d: LayerKind<Conv2dLayer> = {
  outputShape(layer: NamedLayer, s, input) {
    const [h, w] = imageInput(layer, input);
    const oh = convOut(h, s.kernel, s.stride, s.padding);
    const ow = convOut(w, s.kernel, s.stride, s.padding);
    if (oh <= 0 || ow <= 0) throw new Error(`layer ${layer.name}: input [${input}] is smaller than the ${s.kernel}×${s.kernel} kernel`);
    return [oh, ow, s.filters];
  },
  params(layer, s, input) {
    const cin = imageInput(layer, input)[2];
    const kernel = kernelParam(`${layer.name}/kernel`, s.kernel, cin, s.filters);
    return hasBias(s) ? [kernel, { name: `${layer.name}/bias`, shape: [s.filters], fanIn: 0, fanOut: 0 }] : [kernel];
  },
  buffers: noParams,
  forward({ spec: s, x, params }) {
    // not tf.fused.conv2d: under tf.grads tfjs unfuses a ReLU anyway, and a fused forward rounds
    // differently (bias inside the accumulation), which flips ReLU and max-pool decisions and
    // breaks the exact equivalence of split and composed training (test/equivalence.spec.ts)
    let h = tf.conv2d(x as tf.Tensor4D, params[0] as tf.Tensor4D, s.stride, s.padding);
    if (hasBias(s)) h = tf.add(h, params[1]!);
    return s.activation === 'relu' ? tf.relu(h) : h;
  },
  flops(s, input, output) {
    return 2 * output[0]! * output[1]! * output[2]! * s.kernel * s.kernel * input[2]!;
  },
};
