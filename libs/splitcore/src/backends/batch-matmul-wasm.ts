import {
  BatchMatMul,
  Transpose,
  type BatchMatMulAttrs,
  type BatchMatMulInputs,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { runWasmKernel } from './wasm-kernel-call.ts';

/**
 * A faster BatchMatMul for wasm when an operand is transposed. The shipped kernel hands the
 * untransposed case to XNNPACK but runs transposed operands through a scalar loop, ~12× slower
 * (measured, 256×3136 · 3136×128: 10 ms plain, 167 ms with transposeA, 143 ms with transposeB).
 * Every dense layer's backward pass is two transposed products (xᵀ·dy, dy·Wᵀ), so training spent
 * more time there than in all of its convolutions. Transposing the operand explicitly (a memory
 * pass) and calling the shipped kernel untransposed gives the same sums in XNNPACK's order.
 */
function transposeLast2(x: TensorInfo, backend: KernelBackend): TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return runWasmKernel(Transpose, backend, { x }, { perm }, 'BatchMatMul');
}

export function makeBatchMatMulWasmConfig(shipped: KernelConfig): KernelConfig {
  const plain = shipped.kernelFunc;
  const kernelFunc = (args: { inputs: BatchMatMulInputs; backend: KernelBackend; attrs: BatchMatMulAttrs }): TensorInfo => {
    const { inputs, backend, attrs } = args;
    if (!attrs.transposeA && !attrs.transposeB) return plain(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    const temps: TensorInfo[] = [];
    try {
      let a = inputs.a as TensorInfo;
      let b = inputs.b as TensorInfo;
      if (attrs.transposeA) temps.push((a = transposeLast2(a, backend)));
      if (attrs.transposeB) temps.push((b = transposeLast2(b, backend)));
      return plain({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}
