import { Rng } from '@splitfleet/splitcore';

/**
 * Seeded k-means (k-means++ initialisation, Lloyd iterations) on n rows of dimension d.
 * `spherical`: rows are L2-normalised and compared by cosine similarity (directions of gradients).
 */
export function kmeans(rows: Float32Array, n: number, d: number, k: number, seed: number, opts: { spherical?: boolean; iterations?: number } = {}): { labels: Int32Array; centroids: Float64Array } {
  if (n < k) throw new Error(`kmeans: need at least k=${k} rows, got ${n}`);
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < d; j++) norm += rows[i * d + j]! ** 2;
    const s = opts.spherical ? 1 / (Math.sqrt(norm) || 1) : 1;
    for (let j = 0; j < d; j++) x[i * d + j] = rows[i * d + j]! * s;
  }
  const rng = Rng.fromSeed(seed).fork('kmeans');
  const c = new Float64Array(k * d);
  const dist2 = (i: number, ci: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (x[i * d + j]! - c[ci * d + j]!) ** 2;
    return s;
  };
  // k-means++
  const first = rng.int(n);
  for (let j = 0; j < d; j++) c[j] = x[first * d + j]!;
  const best = new Float64Array(n).fill(Infinity);
  for (let ci = 1; ci < k; ci++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      best[i] = Math.min(best[i]!, dist2(i, ci - 1));
      total += best[i]!;
    }
    let r = rng.float() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= best[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    for (let j = 0; j < d; j++) c[ci * d + j] = x[pick * d + j]!;
  }
  const labels = new Int32Array(n);
  for (let it = 0; it < (opts.iterations ?? 30); it++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      let bi = 0;
      let bd = Infinity;
      for (let ci = 0; ci < k; ci++) {
        const v = dist2(i, ci);
        if (v < bd) {
          bd = v;
          bi = ci;
        }
      }
      if (labels[i] !== bi || it === 0) changed++;
      labels[i] = bi;
    }
    const sums = new Float64Array(k * d);
    const counts = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      counts[labels[i]!]!++;
      for (let j = 0; j < d; j++) sums[labels[i]! * d + j]! += x[i * d + j]!;
    }
    for (let ci = 0; ci < k; ci++) {
      if (counts[ci] === 0) continue; // keep an empty cluster's centroid where it was
      let norm = 0;
      for (let j = 0; j < d; j++) {
        const v = sums[ci * d + j]! / counts[ci]!;
        c[ci * d + j] = v;
        norm += v * v;
      }
      if (opts.spherical && norm > 0) for (let j = 0; j < d; j++) c[ci * d + j]! /= Math.sqrt(norm);
    }
    if (changed === 0) break;
  }
  return { labels, centroids: c };
}
