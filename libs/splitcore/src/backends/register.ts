import { BatchMatMul, Conv2DBackpropInput, MaxPoolGrad, Slice, SplitV, Sum, getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { makeBatchMatMulWasmConfig } from './batch-matmul-wasm.ts';
import { makeMaxPoolGradWasmConfig, reluMaxPoolGradWasmConfig } from './maxpool-grad-wasm.ts';
import { convReluPoolFilterGradWasmConfig } from './conv-relu-pool-grad-wasm.ts';
import { makeSumWasmConfig } from './sum-wasm.ts';
import { makeSliceWasmConfig, makeSplitVWasmConfig } from './slice-wasm.ts';
import { conv2DBackpropFilterWasmConfig } from './conv2d-backprop-filter-wasm.ts';
import { makeConv2DBackpropInputWasmConfig } from './conv2d-backprop-input-wasm.ts';

/** Kernels splitfleet adds where a backend lacks them (the two fused backward kernels are its own). */
export const SPLITFLEET_KERNELS: readonly KernelConfig[] = [conv2DBackpropFilterWasmConfig, reluMaxPoolGradWasmConfig, convReluPoolFilterGradWasmConfig];

/**
 * Shipped wasm kernels splitfleet wraps with a fast path (each defers to the shipped kernel for the
 * cases it does not speed up), with the note `registerSplitfleetKernels` reports.
 */
const FAST_PATHS: readonly { name: string; note: string; make: (shipped: KernelConfig | undefined) => KernelConfig | undefined }[] = [
  { name: Conv2DBackpropInput, note: 'stride-1 fast path', make: makeConv2DBackpropInputWasmConfig },
  { name: BatchMatMul, note: 'transposed operands through XNNPACK', make: (s) => (s ? makeBatchMatMulWasmConfig(s) : undefined) },
  { name: Sum, note: 'leading-axis sums in one pass', make: (s) => (s ? makeSumWasmConfig(s) : undefined) },
  { name: MaxPoolGrad, note: 'non-overlapping windows in one pass', make: (s) => (s ? makeMaxPoolGradWasmConfig(s) : undefined) },
  { name: Slice, note: 'contiguous slices copy their own bytes, not the whole input', make: (s) => (s ? makeSliceWasmConfig(s) : undefined) },
  { name: SplitV, note: 'leading-axis splits in one copy per part', make: (s) => (s ? makeSplitVWasmConfig(s) : undefined) },
];

const FAST_MARK = Symbol.for('splitfleet.fastKernel');
const SHIPPED = Symbol.for('splitfleet.shippedKernel');

/**
 * Registers our kernels, skipping any the backend already has (a newer tfjs may ship them), and
 * wraps shipped wasm kernels with the fast paths above. Call once per process or worker, after
 * `setBackend` resolved; importing splitcore registers nothing. Returns what was registered.
 */
export function registerSplitfleetKernels(): string[] {
  const added: string[] = [];
  for (const k of SPLITFLEET_KERNELS) {
    if (getKernel(k.kernelName, k.backendName)) continue;
    registerKernel(k);
    added.push(`${k.kernelName}@${k.backendName}`);
  }
  for (const f of FAST_PATHS) {
    const shipped = getKernel(f.name, 'wasm');
    if ((shipped as unknown as Record<symbol, unknown> | undefined)?.[FAST_MARK]) continue;
    const made = f.make(shipped);
    if (!made) continue;
    if (shipped) unregisterKernel(f.name, 'wasm');
    registerKernel(Object.assign(made, { [FAST_MARK]: true, [SHIPPED]: shipped }));
    added.push(`${f.name}@wasm (${f.note})`);
  }
  return added;
}

/**
 * Puts back the shipped wasm kernels that `registerSplitfleetKernels` wrapped (the missing kernels
 * stay: without them wasm cannot train a conv net). For benchmarks that measure what the fast paths
 * gain in the same run; call `registerSplitfleetKernels` again to restore them.
 */
export function restoreShippedKernels(): string[] {
  const restored: string[] = [];
  for (const f of FAST_PATHS) {
    const k = getKernel(f.name, 'wasm') as unknown as Record<symbol, unknown> | undefined;
    if (!k?.[FAST_MARK]) continue;
    const shipped = k[SHIPPED] as KernelConfig | undefined;
    unregisterKernel(f.name, 'wasm');
    if (shipped) registerKernel(shipped);
    restored.push(f.name);
  }
  return restored;
}
