import type { KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * A Float32Array over a wasm tensor's bytes in the module heap, for kernels written in JS. Take it
 * after every allocation the kernel makes: growing the heap detaches earlier views.
 */
export function heapView(backend: KernelBackend, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`heapView: float32 only, got ${t.dtype}`);
  return (backend as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array }).typedArrayFromHeap(t);
}

/** A new float32 output tensor of `shape` in the wasm heap (uninitialised), for kernels written in JS. */
export function heapOutput(backend: KernelBackend, shape: readonly number[]): TensorInfo {
  return (backend as unknown as { makeOutput(s: number[], d: string): TensorInfo }).makeOutput([...shape], 'float32');
}

/**
 * Index (row-major, r·cols + q) of the first maximum of a rows×cols window starting at `base` with
 * the given strides, among values > `floor` (strict >, as tfjs's cpu reference picks a max-pool's
 * maximum); −1 when none is (all ≤ floor, or NaN). One definition for every pool-backward kernel.
 */
export function firstMax(v: Float32Array, base: number, rows: number, cols: number, rowStride: number, colStride: number, floor: number): number {
  let best = floor;
  let at = -1;
  for (let r = 0, a = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++, a++) {
      const x = v[base + r * rowStride + q * colStride]!;
      if (x > best) {
        best = x;
        at = a;
      }
    }
  }
  return at;
}
