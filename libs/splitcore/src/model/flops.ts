import type { ModelSpec } from './spec.ts';
import { layerFlops, layerOutputShape } from './layers/registry.ts';

/**
 * Floating-point operations of one forward pass of one sample (a multiply-add counts 2; max-pooling,
 * activations and biases are left out: they are a rounding error next to the convolutions).
 */
export function forwardFlopsPerSample(spec: ModelSpec): number {
  let shape: readonly number[] = spec.inputShape;
  let flops = 0;
  for (const l of spec.layers) {
    const out = layerOutputShape(l, shape);
    flops += layerFlops(l, shape, out);
    shape = out;
  }
  return flops;
}

/** Training ≈ forward + backward (∂input and ∂weights, each about one forward) = 3 × forward. */
export function trainingFlopsPerSample(spec: ModelSpec): number {
  return 3 * forwardFlopsPerSample(spec);
}
