import * as tf from '@tensorflow/tfjs-core';
import { applyLayers, type PartModel } from '../model/part-model.ts';
import { ReluMaxPoolGrad } from '../backends/maxpool-grad-wasm.ts';
import { CONV_RELU_POOL_MAX_TAPS, ConvReluPoolFilterGrad } from '../backends/conv-relu-pool-grad-wasm.ts';

/**
 * A part's forward pass that keeps each layer's input and output, so its vector–Jacobian product can
 * run without a second forward pass. tfjs records a gradient tape only inside tf.grads, and in split
 * training the gradient arrives a network round trip after the forward: the plain route (middleVjp)
 * re-runs the middle's forward, ~1/3 more work on the part that holds most of the FLOPs.
 */
export interface ForwardCache {
  readonly inputs: readonly tf.Tensor[];
  readonly outputs: readonly tf.Tensor[];
}

/** Forward through `part`, keeping per-layer activations. The caller owns `y` and the cache. */
export function forwardKeep(part: PartModel, x: tf.Tensor): { y: tf.Tensor; cache: ForwardCache } {
  const inputs: tf.Tensor[] = [];
  const outputs: tf.Tensor[] = [];
  let h = x;
  let p = 0;
  for (const layer of part.spec.layers) {
    const n = layer.spec.kind === 'maxpool' ? 0 : 2; // kernel and bias
    inputs.push(h === x ? tf.clone(x) : h);
    const input = h;
    // one layer at a time through the same forward code as PartModel.apply
    h = tf.tidy(() => applyLayers([layer], part.vars.slice(p, p + n), input));
    p += n;
    outputs.push(h);
  }
  return { y: tf.clone(h), cache: { inputs, outputs } };
}

/**
 * The VJP of `part` at the cached forward with output gradient `gy`: the gradient at the part's
 * input and at each parameter (in `part.vars` order). Same values as tf.grads up to float rounding.
 */
export function backwardFromCache(part: PartModel, cache: ForwardCache, gy: tf.Tensor): { gx: tf.Tensor; grads: tf.Tensor[] } {
  return vjpFromCache(part, cache, gy, true) as { gx: tf.Tensor; grads: tf.Tensor[] };
}

/**
 * Only the parameter gradients of `part` at the cached forward: what a client's head needs (its
 * input is the raw data, whose gradient nobody uses), skipping the first layer's input gradient.
 */
export function paramGradsFromCache(part: PartModel, cache: ForwardCache, gy: tf.Tensor): tf.Tensor[] {
  return vjpFromCache(part, cache, gy, false).grads;
}

function vjpFromCache(part: PartModel, cache: ForwardCache, gy: tf.Tensor, inputGradient: boolean): { gx: tf.Tensor | null; grads: tf.Tensor[] } {
  return tf.tidy(() => {
    const layers = part.spec.layers;
    const grads: tf.Tensor[] = new Array(part.vars.length);
    let p = part.vars.length;
    let g = gy;
    // where the backend has it, a ReLU layer followed by a max-pool is differentiated in one fused
    // pass (gradient at the pre-activation and its bias sum); see ReluMaxPoolGrad
    const fused = tf.getKernel(ReluMaxPoolGrad, tf.getBackend()) !== undefined;
    const fusedFirst = tf.getKernel(ConvReluPoolFilterGrad, tf.getBackend()) !== undefined;
    let pre: { g: tf.Tensor; bias: tf.Tensor } | null = null;
    for (let i = layers.length - 1; i >= 0; i--) {
      const s = layers[i]!.spec;
      const x = cache.inputs[i]!;
      const y = cache.outputs[i]!;
      const needGx = inputGradient || i > 0;
      if (s.kind === 'maxpool') {
        const before = i > 0 ? layers[i - 1]!.spec : null;
        // a first conv → ReLU → pool whose input gradient nobody needs (a client's head): its
        // parameter gradients straight from the pool windows, see ConvReluPoolFilterGrad
        if (fusedFirst && i === 1 && !inputGradient && before?.kind === 'conv2d' && before.activation === 'relu' && before.stride === 1) {
          const kernel = part.vars[p - 2]!;
          const [KH, KW, Ci] = kernel.shape as [number, number, number, number];
          if (KH * KW * Ci <= CONV_RELU_POOL_MAX_TAPS) {
            const cx = cache.inputs[0]!;
            const info = tf.backend_util.computeConv2DInfo(cx.shape as [number, number, number, number], kernel.shape as [number, number, number, number], 1, 1, before.padding);
            const [dW, dB] = tf.engine().runKernel(ConvReluPoolFilterGrad, { x: cx, y: x, dy: g }, { size: s.size, kh: KH, kw: KW, top: info.padInfo.top, left: info.padInfo.left }) as tf.Tensor[];
            grads[p - 2] = dW!;
            grads[p - 1] = dB!;
            break;
          }
        }
        if (fused && before?.kind === 'conv2d' && before.activation === 'relu') {
          const [gp, gb] = tf.engine().runKernel(ReluMaxPoolGrad, { y: x, dy: g }, { size: s.size }) as tf.Tensor[];
          pre = { g: gp!, bias: gb! };
          continue;
        }
        if (!needGx) continue;
        g = tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, s.size, s.size, 'valid'))(x, g);
        continue;
      }
      p -= 2;
      const k = part.vars[p]!;
      // ReLU's gradient from its output: y > 0 exactly where its input was > 0
      const gPre = pre ? pre.g : s.activation === 'relu' ? tf.mul(g, tf.step(y)) : g;
      if (s.kind === 'conv2d') {
        grads[p] = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: gPre }, { strides: [s.stride, s.stride], pad: s.padding, dataFormat: 'NHWC', filterShape: k.shape }) as tf.Tensor;
        grads[p + 1] = pre ? pre.bias : tf.sum(gPre, [0, 1, 2]);
        pre = null;
        if (needGx) g = tf.conv2dTranspose(gPre as tf.Tensor4D, k as tf.Tensor4D, x.shape as [number, number, number, number], s.stride, s.padding);
      } else {
        const flat = x.rank > 2 ? tf.reshape(x, [x.shape[0]!, -1]) : x;
        grads[p] = tf.matMul(flat as tf.Tensor2D, gPre as tf.Tensor2D, true, false);
        grads[p + 1] = tf.sum(gPre, 0);
        if (needGx) g = tf.reshape(tf.matMul(gPre as tf.Tensor2D, k as tf.Tensor2D, false, true), x.shape);
      }
    }
    return inputGradient ? { gx: g, grads } : { grads };
  }) as { gx: tf.Tensor | null; grads: tf.Tensor[] };
}

export function disposeCache(cache: ForwardCache): void {
  tf.dispose([...cache.inputs, ...cache.outputs]);
}
