/** Number of elements of a tensor of this shape (1 for a scalar): the one place this product is written. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes of a float32 tensor of this shape. */
export function float32Bytes(shape: readonly number[]): number {
  return 4 * sizeOf(shape);
}
