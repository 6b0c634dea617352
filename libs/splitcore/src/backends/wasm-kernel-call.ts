import { getKernel, type KernelBackend, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Runs a kernel the wasm backend already has, from inside another wasm kernel (the way tfjs
 * backends compose kernels). The caller frees what it does not return with backend.disposeData.
 */
export function runWasmKernel(name: string, backend: KernelBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap, caller: string): TensorInfo {
  const k = getKernel(name, 'wasm');
  if (!k) throw new Error(`${caller}(wasm) needs the wasm kernel ${name}, which is not registered`);
  return k.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}
