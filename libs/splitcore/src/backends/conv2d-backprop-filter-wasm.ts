import {
  backend_util,
  Conv2D,
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

/**
 * Conv2DBackpropFilter for the wasm backend, which tfjs-backend-wasm 4.22 does not ship
 * (tensorflow/tfjs#8474). The filter gradient
 *   dW[kh,kw,ci,co] = Σ_{b,i,j} x[b, i·s+kh−pt, j·s+kw−pl, ci] · dy[b,i,j,co]
 * is itself a convolution with the batch as the reduction channel: convolve xᵀ = [Ci,H,W,B] with
 * dyᵀ = [OH,OW,B,Co] at stride 1 and dilation s, giving [Ci,KH,KW,Co], then transpose to
 * [KH,KW,Ci,Co]. That runs on the backend's own XNNPACK Conv2D, so it is as fast as the forward pass
 * instead of a naive loop. Only existing wasm kernels are called; intermediates are freed here.
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
