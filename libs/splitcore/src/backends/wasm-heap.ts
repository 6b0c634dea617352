import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * A Float32Array over a wasm tensor's bytes in the module heap, for kernels written in JS. Take it
 * after every allocation the kernel makes: growing the heap detaches earlier views.
 */
export function heapView(backend: KernelBackend, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`heapView: float32 only, got ${t.dtype}`);
  return (backend as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array }).typedArrayFromHeap(t);
}
