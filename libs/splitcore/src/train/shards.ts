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

/**
 * Cuts one lockstep step's clients (their row counts, in the step's fixed client order) into
 * consecutive runs of whole clients of at most `maxRows` rows each — a client with more rows than
 * that forms a run alone — so the middle's working memory is bounded by `maxRows` rather than by the
 * number of active clients. Greedy, pure and deterministic: the same clients give the same runs, hence
 * the same gradient summation order. `maxRows` null: one run. Returns [from, to) client index ranges.
 */
export function clientChunks(rows: readonly number[], maxRows: number | null): [number, number][] {
  if (maxRows !== null && (!Number.isInteger(maxRows) || maxRows < 1)) throw new Error(`clientChunks: maxRows must be an integer ≥ 1 or null, got ${maxRows}`);
  if (rows.length === 0) return [];
  if (maxRows === null) return [[0, rows.length]];
  const runs: [number, number][] = [];
  let from = 0;
  let held = 0;
  rows.forEach((n, i) => {
    if (i > from && held + n > maxRows) {
      runs.push([from, i]);
      from = i;
      held = 0;
    }
    held += n;
  });
  runs.push([from, rows.length]);
  return runs;
}
