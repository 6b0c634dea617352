import type { KernelBackend, KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { firstMax, heapOutput, heapView } from './wasm-heap.ts';

/** A fused kernel of splitfleet's own (cached-vjp.ts calls it where it is registered). */
export const ConvReluPoolFilterGrad = 'SplitfleetConvReluPoolFilterGrad';

/** Taps × input channels up to which the fused route wins (a first layer: 3×3×1, 3×3×3). */
export const CONV_RELU_POOL_MAX_TAPS = 32;

/**
 * Parameter gradients of conv (stride 1) → ReLU → disjoint max-pool when nobody needs the gradient
 * at the conv's input — a client's first layer, whose input is the raw data. Only one pixel per
 * pool window and channel passes a gradient (its first maximum, when > 0), so instead of writing the
 * dense pre-activation gradient (3 of 4 entries zero) and running a filter-gradient GEMM over it,
 * one pass visits each window once and adds g · x-patch into dW for that pixel:
 * B·OH·OW·Co windows × KH·KW·Ci taps of work, small for a first layer (Ci = 1: 9 taps). Values equal
 * the unfused route up to float summation order (accumulated in float64).
 *
 * inputs: x (the conv's input), y (the ReLU's output = the pool's input), dy (gradient at the pool's
 * output); attrs: size (pool), kh, kw, top, left (conv kernel and its padding). Returns [dW, dBias].
 */
function convReluPoolFilterGradWasm(args: { inputs: NamedTensorInfoMap; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const xI = inputs.x as TensorInfo;
  const yI = inputs.y as TensorInfo;
  const gI = inputs.dy as TensorInfo;
  const size = attrs.size as number;
  const KH = attrs.kh as number;
  const KW = attrs.kw as number;
  const top = attrs.top as number;
  const left = attrs.left as number;
  for (const t of [xI, yI, gI]) if (t.dtype !== 'float32' || t.shape.length !== 4) throw new Error(`${ConvReluPoolFilterGrad}: float32 NHWC tensors only`);
  const [B, H, W, Ci] = xI.shape as [number, number, number, number];
  const [, YH, YW, Co] = yI.shape as [number, number, number, number];
  const OH = Math.floor(YH / size);
  const OW = Math.floor(YW / size);
  if (gI.shape.join() !== [B, OH, OW, Co].join()) throw new Error(`${ConvReluPoolFilterGrad}: dy [${gI.shape}] does not match a ${size}×${size} pool of [${yI.shape}]`);
  const dW = heapOutput(backend, [KH, KW, Ci, Co]);
  const dB = heapOutput(backend, [Co]);
  const x = heapView(backend, xI);
  const y = heapView(backend, yI);
  const g = heapView(backend, gI);
  const taps = KH * KW * Ci;
  const accW = new Float64Array(taps * Co);
  const accB = new Float64Array(Co);
  const S2 = size * size;
  // per window: the x-patch of each of its size² pixels (0 in the conv's padding), read once and
  // shared by all Co channels
  const patch = new Float64Array(S2 * taps);
  const rowY = YW * Co;
  for (let b = 0; b < B; b++) {
    for (let ph = 0; ph < OH; ph++) {
      for (let pw = 0; pw < OW; pw++) {
        for (let r = 0, a = 0; r < size; r++) {
          for (let q = 0; q < size; q++, a++) {
            const i = ph * size + r;
            const j = pw * size + q;
            for (let kh = 0, t = a * taps; kh < KH; kh++) {
              const xi = i + kh - top;
              for (let kw = 0; kw < KW; kw++) {
                const xj = j + kw - left;
                const inside = xi >= 0 && xi < H && xj >= 0 && xj < W;
                const xo = ((b * H + xi) * W + xj) * Ci;
                for (let ci = 0; ci < Ci; ci++, t++) patch[t] = inside ? x[xo + ci]! : 0;
              }
            }
          }
        }
        const gBase = ((b * OH + ph) * OW + pw) * Co;
        const yBase = ((b * YH + ph * size) * YW + pw * size) * Co;
        for (let c = 0; c < Co; c++) {
          // the window's first maximum among values > 0 (a ReLU's output), as the unfused route
          const at = firstMax(y, yBase + c, size, size, rowY, Co, 0);
          if (at < 0) continue;
          const gv = g[gBase + c]!;
          accB[c]! += gv;
          for (let t = 0, o = at * taps, w = c; t < taps; t++, o++, w += Co) accW[w]! += patch[o]! * gv;
        }
      }
    }
  }
  heapView(backend, dW).set(accW);
  heapView(backend, dB).set(accB);
  return [dW, dB];
}

export const convReluPoolFilterGradWasmConfig: KernelConfig = {
  kernelName: ConvReluPoolFilterGrad,
  backendName: 'wasm',
  kernelFunc: convReluPoolFilterGradWasm as unknown as KernelFunc,
};
