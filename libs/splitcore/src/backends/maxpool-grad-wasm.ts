import {
  backend_util,
  MaxPoolGrad,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type MaxPoolGradInputs,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { firstMax, heapOutput, heapView } from './wasm-heap.ts';

/** A fused kernel of splitfleet's own (no tfjs op calls it; cached-vjp.ts does where it is registered). */
export const ReluMaxPoolGrad = 'SplitfleetReluMaxPoolGrad';

/**
 * A faster MaxPoolGrad for wasm when windows do not overlap (filter = stride, no padding: every
 * pooling layer of the zoo). Each input pixel then belongs to at most one window, so dx is dy at the
 * window's first maximum (row-major, strict >, as tfjs's cpu reference picks it) and 0 elsewhere —
 * one pass in JS over the heap, ~10× faster than the shipped general kernel (measured 62 ms →
 * ≈6 ms for 256×14×14×64). Overlapping or padded windows go to the shipped kernel.
 */
export function makeMaxPoolGradWasmConfig(shipped: KernelConfig): KernelConfig {
  const plain = shipped.kernelFunc;
  const kernelFunc = (args: { inputs: MaxPoolGradInputs; backend: KernelBackend; attrs: MaxPoolGradAttrs }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const input = inputs.input as TensorInfo;
    const dy = inputs.dy as TensorInfo;
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
    const fh = info.effectiveFilterHeight;
    const fw = info.effectiveFilterWidth;
    const disjoint = fh === sh && fw === sw && info.padInfo.top === 0 && info.padInfo.left === 0 && OH * sh <= H && OW * sw <= W;
    if (!disjoint || input.dtype !== 'float32' || dy.dtype !== 'float32') return plain(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    const out = heapOutput(backend, input.shape);
    const x = heapView(backend, input);
    const g = heapView(backend, dy);
    const dx = heapView(backend, out);
    disjointPoolGrad(x, g, dx, { B, H, W, C, OH, OW, fh, fw }, null);
    return out;
  };
  return { kernelName: MaxPoolGrad, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

interface PoolDims {
  readonly B: number;
  readonly H: number;
  readonly W: number;
  readonly C: number;
  readonly OH: number;
  readonly OW: number;
  readonly fh: number;
  readonly fw: number;
}

/**
 * The backward of a ReLU followed by a disjoint max-pool, in one pass (wasm): with y the ReLU's
 * output (the pool's input) and dy the gradient at the pool's output, returns the gradient at the
 * ReLU's input — dy at each window's first maximum where that maximum is > 0, else 0 — and its sum
 * over batch, rows and columns (the bias gradient of the layer before the ReLU). Unfused that is
 * MaxPoolGrad, Step, Multiply and Sum: four passes over the largest activation of the model. The
 * values are identical to the unfused ops (a window whose maximum is 0 gets 0 either way).
 */
function reluMaxPoolGradWasm(args: { inputs: NamedTensorInfoMap; backend: KernelBackend; attrs: NamedAttrMap }): TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const y = inputs.y as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const size = attrs.size as number;
  if (y.dtype !== 'float32' || dy.dtype !== 'float32' || y.shape.length !== 4) throw new Error(`${ReluMaxPoolGrad}: float32 NHWC tensors only`);
  const [B, H, W, C] = y.shape as [number, number, number, number];
  const OH = Math.floor(H / size);
  const OW = Math.floor(W / size);
  if (dy.shape.join() !== [B, OH, OW, C].join()) throw new Error(`${ReluMaxPoolGrad}: dy shape [${dy.shape}] does not match a ${size}×${size} pool of [${y.shape}]`);
  const dPre = heapOutput(backend, [B, H, W, C]);
  const dBias = heapOutput(backend, [C]);
  const bias = new Float64Array(C);
  disjointPoolGrad(heapView(backend, y), heapView(backend, dy), heapView(backend, dPre), { B, H, W, C, OH, OW, fh: size, fw: size }, bias);
  heapView(backend, dBias).set(bias);
  return [dPre, dBias];
}

export const reluMaxPoolGradWasmConfig: KernelConfig = {
  kernelName: ReluMaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: reluMaxPoolGradWasm as unknown as KernelFunc,
};

/**
 * dx = dy at each disjoint window's first maximum (row-major, strict >, as tfjs's cpu reference
 * picks it; a window of NaNs has none), 0 elsewhere. With `reluBias`, the input is a ReLU's output:
 * windows whose maximum is not > 0 pass no gradient, and the gradient passed is summed per channel.
 */
function disjointPoolGrad(x: Float32Array, g: Float32Array, dx: Float32Array, d: PoolDims, reluBias: Float64Array | null): void {
  const { B, H, W, C, OH, OW, fh, fw } = d;
  const relu = reluBias !== null;
  const floor = relu ? 0 : -Infinity;
  const two = fh === 2 && fw === 2;
  // the 2×2 path writes every element it covers; rows/columns no window reads, and the general
  // path, need zeros first
  if (!two || OH * 2 < H || OW * 2 < W) dx.fill(0);
  const WC = W * C;
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const gBase = ((b * OH + oh) * OW + ow) * C;
        const p0 = ((b * H + oh * fh) * W + ow * fw) * C;
        for (let c = 0; c < C; c++) {
          const p = p0 + c;
          const gv = g[gBase + c]!;
          if (two) {
            // firstMax unrolled for the zoo's 2×2 pools (the hot case; the loop version measured
            // ~20 % slower here), writing all four entries so dx needs no zero-fill pass
            const v0 = x[p]!;
            const v1 = x[p + C]!;
            const v2 = x[p + WC]!;
            const v3 = x[p + WC + C]!;
            let at = v0 > floor ? 0 : -1;
            let best = at === 0 ? v0 : floor;
            if (v1 > best) { best = v1; at = 1; }
            if (v2 > best) { best = v2; at = 2; }
            if (v3 > best) at = 3;
            dx[p] = at === 0 ? gv : 0;
            dx[p + C] = at === 1 ? gv : 0;
            dx[p + WC] = at === 2 ? gv : 0;
            dx[p + WC + C] = at === 3 ? gv : 0;
            if (relu && at >= 0) reluBias[c]! += gv;
            continue;
          }
          const a = firstMax(x, p, fh, fw, WC, C, floor);
          if (a >= 0) {
            dx[p + Math.floor(a / fw) * WC + (a % fw) * C] = gv;
            if (relu) reluBias[c]! += gv;
          }
        }
      }
    }
  }
}
