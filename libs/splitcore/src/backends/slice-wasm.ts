import {
  Slice, SplitV, slice_util, util,
  type KernelBackend, type KernelConfig, type KernelFunc, type SliceAttrs, type SliceInputs, type SplitVAttrs, type SplitVInputs, type TensorInfo,
} from '@tensorflow/tfjs-core';
import { heapOutput, heapView } from './wasm-heap.ts';

/**
 * The shipped wasm Slice copies its WHOLE input out of the heap (readSync) before taking the slice,
 * and SplitV calls it once per part: splitting a step's concatenated rows back into k clients' parts
 * copied the whole tensor k times. With the server's gradient at the smashed data of 300 clients
 * (4,800 × 14 × 14 × 32 floats) that was ≈ 400 s of a 220 s round's main thread — the per-client
 * overhead that grew as clients² (measured with --cpu-prof). A contiguous float32 slice is one copy
 * of its own bytes inside the heap; other slices go to the shipped kernel.
 */
function contiguousSlice(backend: KernelBackend, x: TensorInfo, begin: readonly number[], size: readonly number[]): TensorInfo | null {
  if (x.dtype !== 'float32' || !slice_util.isSliceContinous(x.shape, [...begin], [...size])) return null;
  const offset = slice_util.computeFlatOffset([...begin], util.computeStrides(x.shape));
  const n = util.sizeFromShape([...size]);
  const out = heapOutput(backend, size);
  // views after the allocation: growing the heap detaches earlier ones
  heapView(backend, out).set(heapView(backend, x).subarray(offset, offset + n));
  return out;
}

export function makeSliceWasmConfig(shipped: KernelConfig): KernelConfig {
  const plain = shipped.kernelFunc;
  const kernelFunc = (args: { inputs: SliceInputs; backend: KernelBackend; attrs: SliceAttrs }): TensorInfo => {
    const x = args.inputs.x as TensorInfo;
    const [begin, size] = slice_util.parseSliceParams(x, args.attrs.begin, args.attrs.size) as [number[], number[]];
    return contiguousSlice(args.backend, x, begin, size) ?? (plain(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo);
  };
  return { kernelName: Slice, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

/** SplitV along the leading axis: every part is contiguous, one copy each (other axes: the shipped kernel). */
export function makeSplitVWasmConfig(shipped: KernelConfig): KernelConfig {
  const plain = shipped.kernelFunc;
  const kernelFunc = (args: { inputs: SplitVInputs; backend: KernelBackend; attrs: SplitVAttrs }): TensorInfo[] => {
    const x = args.inputs.x as TensorInfo;
    const axis = util.parseAxisParam(args.attrs.axis, x.shape)[0]!;
    if (axis !== 0 || x.dtype !== 'float32') return plain(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo[];
    const sizes = typeof args.attrs.numOrSizeSplits === 'number'
      ? new Array<number>(args.attrs.numOrSizeSplits).fill(x.shape[0]! / args.attrs.numOrSizeSplits)
      : args.attrs.numOrSizeSplits;
    const rest = x.shape.slice(1);
    let row = 0;
    return sizes.map((rows) => {
      const part = contiguousSlice(args.backend, x, [row, ...rest.map(() => 0)], [rows, ...rest])!;
      row += rows;
      return part;
    });
  };
  return { kernelName: SplitV, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}
