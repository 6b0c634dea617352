/**
 * Data-parallel sharding of one training step's batch: row counts per thread. A step's rows are cut
 * into contiguous, nearly equal shards (the first `n mod k` one row longer), never smaller than
 * `minRows` — below that a thread's messaging costs more than its share of the work — so small
 * batches stay on one thread. Pure and deterministic: the same batch size always gives the same
 * shards, hence the same gradient summation order and the same weights.
 */
export function shardRows(n: number, threads: number, minRows: number): number[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`shardRows: rows must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`shardRows: threads must be an integer ≥ 1, got ${threads}`);
  if (!Number.isInteger(minRows) || minRows < 1) throw new Error(`shardRows: minRows must be an integer ≥ 1, got ${minRows}`);
  const k = Math.max(1, Math.min(threads, Math.floor(n / minRows)));
  const base = Math.floor(n / k);
  return Array.from({ length: k }, (_, i) => base + (i < n % k ? 1 : 0));
}
