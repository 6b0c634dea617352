import * as tf from '@tensorflow/tfjs-core';
import type { LayerSlot, PartModel } from '../model/part-model.ts';
import type { Conv2dLayer, DenseLayer } from '../model/spec.ts';
import { applyLayer, applyLayerKept, layerVjpKept } from '../model/layers/registry.ts';
import { trainMode, type ForwardMode } from '../model/layers/kind.ts';
import { conv2dFilterGrad, conv2dInputGrad, hasBias } from '../model/layers/conv2d.ts';
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
  /** The forward's mode: a layer differentiated by re-running it sees the same batch statistics and dropout masks. */
  readonly mode: ForwardMode;
  /** Per layer: what its own VJP needs (composite kinds with `forwardKept`), else null. */
  readonly saved: readonly (readonly tf.Tensor[] | null)[];
}

/**
 * A training forward through `part`, keeping per-layer activations; it moves the part's running
 * statistics (`mode.updateStats`). The caller owns `y` and the cache.
 */
export function forwardKeep(part: PartModel, x: tf.Tensor, mode: ForwardMode = trainMode(0)): { y: tf.Tensor; cache: ForwardCache } {
  const inputs: tf.Tensor[] = [];
  const outputs: tf.Tensor[] = [];
  const saved: (tf.Tensor[] | null)[] = [];
  let h = x;
  part.slots.forEach((slot, i) => {
    inputs.push(h === x ? tf.clone(x) : h);
    const input = h;
    const ps = part.vars.slice(...slot.params);
    const bs = part.buffers.slice(...slot.buffers);
    // one layer at a time through the same forward code as PartModel.apply (or its kept variant)
    const r = tf.tidy(() => applyLayerKept(slot.layer, input, ps, bs, mode, i) ?? { y: applyLayer(slot.layer, input, ps, bs, mode, i), saved: [] as tf.Tensor[] });
    h = r.y;
    saved.push(r.saved.length > 0 ? r.saved : null);
    outputs.push(h);
  });
  return { y: tf.clone(h), cache: { inputs, outputs, mode, saved } };
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

/** A pending ReLU → max-pool gradient, computed in one fused pass (see ReluMaxPoolGrad). */
interface PreActivation {
  readonly g: tf.Tensor;
  readonly bias: tf.Tensor;
}

function vjpFromCache(part: PartModel, cache: ForwardCache, gy: tf.Tensor, inputGradient: boolean): { gx: tf.Tensor | null; grads: tf.Tensor[] } {
  return tf.tidy(() => {
    const grads: tf.Tensor[] = new Array(part.vars.length);
    const fused = tf.getKernel(ReluMaxPoolGrad, tf.getBackend()) !== undefined;
    const fusedFirst = tf.getKernel(ConvReluPoolFilterGrad, tf.getBackend()) !== undefined;
    let g = gy;
    let pre: PreActivation | null = null;
    for (let i = part.slots.length - 1; i >= 0; i--) {
      const slot = part.slots[i]!;
      const s = slot.layer.spec;
      const x = cache.inputs[i]!;
      const needGx = inputGradient || i > 0;
      const before = i > 0 ? part.slots[i - 1]! : null;
      const bs = before?.layer.spec;
      if (s.kind === 'maxpool' && bs?.kind === 'conv2d' && bs.activation === 'relu' && hasBias(bs)) {
        // a first conv → ReLU → pool whose input gradient nobody needs (a client's head): its
        // parameter gradients straight from the pool windows, see ConvReluPoolFilterGrad
        if (fusedFirst && i === 1 && !inputGradient && bs.stride === 1 && firstConvPoolGrads(part, before!, cache, x, g, s.size, grads)) break;
        if (fused) {
          const [gp, gb] = tf.engine().runKernel(ReluMaxPoolGrad, { y: x, dy: g }, { size: s.size }) as tf.Tensor[];
          pre = { g: gp!, bias: gb! };
          continue;
        }
      }
      if (s.kind === 'conv2d' || s.kind === 'dense') {
        g = linearVjp(part, slot, x, cache.outputs[i]!, g, pre, needGx, grads);
        pre = null;
        continue;
      }
      const ps = part.vars.slice(...slot.params);
      const kept = cache.saved[i];
      if (kept) {
        const r = layerVjpKept(slot.layer, x, cache.outputs[i]!, ps, kept, g, needGx, cache.mode, i);
        r.grads.forEach((t, j) => (grads[slot.params[0] + j] = t));
        if (r.dx) g = r.dx;
        continue;
      }
      if (!needGx && ps.length === 0) continue;
      // every other kind: differentiate the layer by re-running it on its kept input (same mode:
      // same batch statistics and dropout mask; running statistics untouched)
      const mode: ForwardMode = { ...cache.mode, updateStats: false };
      const bufs = part.buffers.slice(...slot.buffers);
      const all = tf.grads((xx: tf.Tensor, ...pp: tf.Tensor[]) => applyLayer(slot.layer, xx, pp, bufs, mode, i))([x, ...ps], g);
      all.slice(1).forEach((t, j) => (grads[slot.params[0] + j] = t));
      g = all[0]!;
    }
    return inputGradient ? { gx: g, grads } : { grads };
  }) as { gx: tf.Tensor | null; grads: tf.Tensor[] };
}

/** conv2d and dense by hand: ReLU's gradient from the kept output, the kernel's and bias's gradients; returns the input's. */
function linearVjp(part: PartModel, slot: LayerSlot, x: tf.Tensor, y: tf.Tensor, g: tf.Tensor, pre: PreActivation | null, needGx: boolean, grads: tf.Tensor[]): tf.Tensor {
  const s = slot.layer.spec as Conv2dLayer | DenseLayer;
  const p = slot.params[0];
  const k = part.vars[p]!;
  // ReLU's gradient from its output: y > 0 exactly where its input was > 0
  const gPre = pre ? pre.g : s.activation === 'relu' ? tf.mul(g, tf.step(y)) : g;
  if (s.kind === 'conv2d') {
    grads[p] = conv2dFilterGrad(x, gPre, s.stride, s.padding, k.shape);
    if (hasBias(s)) grads[p + 1] = pre ? pre.bias : tf.sum(gPre, [0, 1, 2]);
    return needGx ? conv2dInputGrad(gPre, k, x.shape, s.stride, s.padding) : g;
  }
  const flat = x.rank > 2 ? tf.reshape(x, [x.shape[0]!, -1]) : x;
  grads[p] = tf.matMul(flat as tf.Tensor2D, gPre as tf.Tensor2D, true, false);
  grads[p + 1] = tf.sum(gPre, 0);
  return needGx ? tf.reshape(tf.matMul(gPre as tf.Tensor2D, k as tf.Tensor2D, false, true), x.shape) : g;
}

/** The fused first conv → ReLU → pool parameter gradients; false when the kernel is too large for it. */
function firstConvPoolGrads(part: PartModel, conv: LayerSlot, cache: ForwardCache, y: tf.Tensor, g: tf.Tensor, size: number, grads: tf.Tensor[]): boolean {
  const s = conv.layer.spec as Conv2dLayer;
  const p = conv.params[0];
  const kernel = part.vars[p]!;
  const [KH, KW, Ci] = kernel.shape as [number, number, number, number];
  if (KH * KW * Ci > CONV_RELU_POOL_MAX_TAPS) return false;
  const cx = cache.inputs[0]!;
  const info = tf.backend_util.computeConv2DInfo(cx.shape as [number, number, number, number], kernel.shape as [number, number, number, number], 1, 1, s.padding);
  const [dW, dB] = tf.engine().runKernel(ConvReluPoolFilterGrad, { x: cx, y, dy: g }, { size, kh: KH, kw: KW, top: info.padInfo.top, left: info.padInfo.left }) as tf.Tensor[];
  grads[p] = dW!;
  grads[p + 1] = dB!;
  return true;
}

export function disposeCache(cache: ForwardCache): void {
  tf.dispose([...cache.inputs, ...cache.outputs, ...cache.saved.flatMap((s) => s ?? [])]);
}
