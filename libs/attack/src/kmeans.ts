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

/** Mean silhouette coefficient of a clustering (Rousseeuw 1987); singletons score 0. */
export function silhouette(rows: Float32Array, n: number, d: number, labels: Int32Array): number {
  const dist = (a: number, b: number) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (rows[a * d + j]! - rows[b * d + j]!) ** 2;
    return Math.sqrt(s);
  };
  const ks = [...new Set(labels)];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const mean = (k: number) => {
      const others = [...Array(n).keys()].filter((j) => j !== i && labels[j] === k);
      return others.length ? others.reduce((s, j) => s + dist(i, j), 0) / others.length : NaN;
    };
    const a = mean(labels[i]!);
    const b = Math.min(...ks.filter((k) => k !== labels[i]).map(mean).filter((v) => !Number.isNaN(v)));
    total += Number.isNaN(a) || !Number.isFinite(b) ? 0 : (b - a) / Math.max(a, b);
  }
  return total / n;
}

/**
 * k-means with k chosen by the best mean silhouette over 2…min(maxK, n − 1) (ties: the smaller k; two rows
 * make two clusters). The silhouette
 * is O(n²·d), so it is scored on at most `sample` seeded rows; the chosen k is then fitted on all.
 * `spherical` rows are compared by direction (L2-normalised first), as kmeans does.
 */
export function kmeansBySilhouette(rows: Float32Array, n: number, d: number, maxK: number, seed: number, opts: { spherical?: boolean; sample?: number } = {}): Int32Array {
  if (n < 2 || maxK < 2) return new Int32Array(n);
  const fit = (k: number) => kmeans(rows, n, d, k, seed, { spherical: opts.spherical ?? false }).labels;
  const pick = n > (opts.sample ?? 256) ? Rng.fromSeed(seed).fork('silhouette-sample').shuffle([...Array(n).keys()]).slice(0, opts.sample ?? 256) : [...Array(n).keys()];
  const sub = new Float32Array(pick.length * d);
  pick.forEach((i, r) => {
    const row = rows.subarray(i * d, (i + 1) * d);
    const norm = opts.spherical ? Math.hypot(...row) || 1 : 1;
    row.forEach((v, j) => (sub[r * d + j] = v / norm));
  });
  let best = { k: 2, labels: fit(2), score: -Infinity };
  for (let k = 2; k <= Math.min(maxK, n - 1); k++) {
    const labels = k === 2 ? best.labels : fit(k);
    const score = silhouette(sub, pick.length, d, Int32Array.from(pick, (i) => labels[i]!));
    if (score > best.score) best = { k, labels, score };
  }
  return best.labels;
}
