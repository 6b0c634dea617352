import { layerOutputShape, type ModelSpec } from './spec.ts';
import { sizeOf } from './shape.ts';

/**
 * Floating-point operations of one forward pass of one sample (a multiply-add counts 2; pooling,
 * activations and biases are left out: they are a rounding error next to the convolutions).
 */
export function forwardFlopsPerSample(spec: ModelSpec): number {
  let shape: readonly number[] = spec.inputShape;
  let flops = 0;
  for (const l of spec.layers) {
    const out = layerOutputShape(l, shape);
    const s = l.spec;
    if (s.kind === 'conv2d') flops += 2 * out[0]! * out[1]! * out[2]! * s.kernel * s.kernel * shape[2]!;
    else if (s.kind === 'dense') flops += 2 * sizeOf(shape) * s.units;
    shape = out;
  }
  return flops;
}

/** Training ≈ forward + backward (∂input and ∂weights, each about one forward) = 3 × forward. */
export function trainingFlopsPerSample(spec: ModelSpec): number {
  return 3 * forwardFlopsPerSample(spec);
}
