import {
  Add,
  backend_util,
  BatchMatMul,
  Conv2D,
  Reshape,
  Conv2DBackpropFilter,
  Slice,
  Transpose,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { runWasmKernel } from './wasm-kernel-call.ts';
import { heapOutput, heapView } from './wasm-heap.ts';

/**
 * Conv2DBackpropFilter for the wasm backend, which tfjs-backend-wasm 4.22 does not ship
 * (tensorflow/tfjs#8474). The filter gradient
 *   dW[kh,kw,ci,co] = Σ_{b,i,j} x[b, i·s+kh−pt, j·s+kw−pl, ci] · dy[b,i,j,co]
 * is itself a convolution with the batch as the reduction channel: convolve xᵀ = [Ci,H,W,B] with
 * dyᵀ = [OH,OW,B,Co] at stride 1 and dilation s, giving [Ci,KH,KW,Co], then transpose to
 * [KH,KW,Ci,Co]. That runs on the backend's own XNNPACK Conv2D, so it is as fast as the forward pass
 * instead of a naive loop. Layers with few input channels take an im2col + GEMM route instead (below).
 * Only existing wasm kernels are called; intermediates are freed here.
 */
const run = (name: string, backend: KernelBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo =>
  runWasmKernel(name, backend, inputs, attrs, 'Conv2DBackpropFilter');

function conv2DBackpropFilterWasm(args: {
  inputs: Conv2DBackpropFilterInputs;
  backend: KernelBackend;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32')
    throw new Error(`Conv2DBackpropFilter(wasm) supports float32 only, got x:${x.dtype} dy:${dy.dtype}`);
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') throw new Error(`Conv2DBackpropFilter(wasm) supports NHWC only, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const { inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (KH * KW * Ci <= IM2COL_MAX_ROWS) return im2colGrad(backend, x, dy, info);
  const temps: TensorInfo[] = [];
  try {
    let xt = run(Transpose, backend, { x }, { perm: [3, 1, 2, 0] });
    temps.push(xt);
    const dyt = run(Transpose, backend, { x: dy }, { perm: [1, 2, 0, 3] });
    temps.push(dyt);
    // Rows/columns of the padded input the gradient actually reads; crop any slack (valid padding
    // with stride > 1 can leave input rows that no output touches).
    let bottom = (OH - 1) * sh + KH - top - H;
    let right = (OW - 1) * sw + KW - left - W;
    if (bottom < 0 || right < 0) {
      xt = run(Slice, backend, { x: xt }, { begin: [0, 0, 0, 0], size: [Ci, H + Math.min(bottom, 0), W + Math.min(right, 0), -1] });
      temps.push(xt);
      bottom = Math.max(bottom, 0);
      right = Math.max(right, 0);
    }
    const g = run(Conv2D, backend, { x: xt, filter: dyt }, {
      strides: [1, 1],
      pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      dataFormat: 'NHWC',
      dilations: [sh, sw],
      dimRoundingMode: undefined,
    } as unknown as NamedAttrMap);
    temps.push(g);
    return run(Transpose, backend, { x: g }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as KernelFunc,
};


/**
 * Few input channels (a first layer: Ci = 1 or 3) make the convolution route a huge "filter" of
 * OH×OW×B with a tiny output, which XNNPACK runs poorly (measured, 64×28×28×1 → 32: 23 ms); there
 * one GEMM over an im2col of x is ~3× faster (8 ms). With many channels (Ci = 32) the im2col buffer
 * costs more to fill than it saves, and the convolution route stays.
 */
const IM2COL_MAX_ROWS = 32;

/** Bound on the im2col buffer (floats): 4 M = 16 MB of wasm heap, whatever the batch. */
const CHUNK_FLOATS = 4 * 1024 * 1024;

/**
 * dW as one GEMM over an im2col of x: A[(kh,kw,ci), n] is x at the pixel that output position
 * n = (b, oh, ow) reads through tap (kh, kw) (0 in the padding); dW[(kh,kw,ci), co] = A · dy[n, co]
 * is already the [KH,KW,Ci,Co] layout. A is written in JS straight into the wasm heap, in batch
 * chunks, so it stays ≤ CHUNK_FLOATS whatever the batch.
 */
function im2colGrad(backend: KernelBackend, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co, strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const K = KH * KW * Ci;
  const P = OH * OW;
  const chunk = Math.max(1, Math.min(B, Math.floor(CHUNK_FLOATS / (K * P))));
  let acc: TensorInfo | null = null;
  const dy2 = run(Reshape, backend, { x: dy }, { shape: [B * P, Co] });
  try {
    for (let b0 = 0; b0 < B; b0 += chunk) {
      const nb = Math.min(chunk, B - b0);
      const N = nb * P;
      const a = heapOutput(backend, [K, N]);
      const xs = heapView(backend, x);
      const av = heapView(backend, a);
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          for (let ci = 0; ci < Ci; ci++) {
            let o = ((kh * KW + kw) * Ci + ci) * N;
            for (let b = b0; b < b0 + nb; b++) {
              for (let oh = 0; oh < OH; oh++) {
                const ih = oh * sh + kh - top;
                if (ih < 0 || ih >= H) {
                  av.fill(0, o, o + OW);
                  o += OW;
                  continue;
                }
                const rowBase = (b * H + ih) * W;
                for (let ow = 0; ow < OW; ow++) {
                  const iw = ow * sw + kw - left;
                  av[o++] = iw >= 0 && iw < W ? xs[(rowBase + iw) * Ci + ci]! : 0;
                }
              }
            }
          }
        }
      }
      const dyc = nb === B ? dy2 : run(Slice, backend, { x: dy2 }, { begin: [b0 * P, 0], size: [N, Co] });
      const g = run(BatchMatMul, backend, { a, b: dyc }, { transposeA: false, transposeB: false });
      backend.disposeData(a.dataId);
      if (dyc !== dy2) backend.disposeData(dyc.dataId);
      if (acc) {
        const sum = run(Add, backend, { a: acc, b: g }, {});
        backend.disposeData(acc.dataId);
        backend.disposeData(g.dataId);
        acc = sum;
      } else acc = g;
    }
  } finally {
    backend.disposeData(dy2.dataId);
  }
  const out = run(Reshape, backend, { x: acc! }, { shape: [KH, KW, Ci, Co] });
  backend.disposeData(acc!.dataId);
  return out;
}
