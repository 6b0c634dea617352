import { getKernel, registerKernel, unregisterKernel, Conv2DBackpropInput, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterWasmConfig } from './conv2d-backprop-filter-wasm.ts';
import { makeConv2DBackpropInputWasmConfig } from './conv2d-backprop-input-wasm.ts';

/** Kernels splitfleet adds where a backend lacks them. */
export const SPLITFLEET_KERNELS: readonly KernelConfig[] = [conv2DBackpropFilterWasmConfig];

const FAST_MARK = Symbol.for('splitfleet.fastKernel');

/**
 * Registers our kernels, skipping any the backend already has (a newer tfjs may ship them), and
 * replaces wasm's Conv2DBackpropInput with a fast path for stride 1 that defers to the shipped
 * kernel otherwise. Call once per process or worker, after `setBackend` resolved; importing
 * splitcore registers nothing. Returns what was registered.
 */
export function registerSplitfleetKernels(): string[] {
  const added: string[] = [];
  for (const k of SPLITFLEET_KERNELS) {
    if (getKernel(k.kernelName, k.backendName)) continue;
    registerKernel(k);
    added.push(`${k.kernelName}@${k.backendName}`);
  }
  const shipped = getKernel(Conv2DBackpropInput, 'wasm');
  if (!(shipped as unknown as Record<symbol, unknown> | undefined)?.[FAST_MARK]) {
    const fast = Object.assign(makeConv2DBackpropInputWasmConfig(shipped), { [FAST_MARK]: true });
    if (shipped) unregisterKernel(Conv2DBackpropInput, 'wasm');
    registerKernel(fast);
    added.push(`${Conv2DBackpropInput}@wasm (stride-1 fast path)`);
  }
  return added;
}
