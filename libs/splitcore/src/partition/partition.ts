import { Rng } from '../rng/rng.ts';

/**
 * Partitioners: (labels, params, seed) → one index list per client, disjoint. Pure and seeded;
 * parameters are validated eagerly with errors that name the parameter and its allowed range.
 */
export type PartitionConfig =
  | { readonly kind: 'iid' }
  | { readonly kind: 'dirichlet'; readonly alpha: number; readonly minSize: number };

export function partition(cfg: PartitionConfig, labels: ArrayLike<number>, clients: number, seed: number, classes = 10): number[][] {
  if (!Number.isInteger(clients) || clients < 1) throw new Error(`fleet.clients must be an integer ≥ 1, got ${clients}`);
  if (clients > labels.length) throw new Error(`fleet.clients (${clients}) must be ≤ the number of samples (${labels.length})`);
  const rng = Rng.fromSeed(seed).fork('partition');
  switch (cfg.kind) {
    case 'iid':
      return iid(labels.length, clients, rng);
    case 'dirichlet':
      return dirichlet(labels, clients, cfg.alpha, cfg.minSize, classes, rng);
  }
}

/** Shuffled, then dealt into near-equal parts (never contiguous slices of the original order). */
function iid(n: number, clients: number, rng: Rng): number[][] {
  const perm = rng.permutation(n);
  const parts: number[][] = Array.from({ length: clients }, () => []);
  const base = Math.floor(n / clients);
  const extra = n % clients;
  let k = 0;
  for (let c = 0; c < clients; c++) {
    const size = base + (c < extra ? 1 : 0);
    parts[c] = perm.slice(k, k + size).sort((a, b) => a - b);
    k += size;
  }
  return parts;
}

/** Per class, split its samples across clients by a Dirichlet(α) draw; retry (bounded) until every client has minSize. */
function dirichlet(labels: ArrayLike<number>, clients: number, alpha: number, minSize: number, classes: number, rng: Rng): number[][] {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`partition.alpha must be a finite number > 0, got ${alpha}`);
  if (!Number.isInteger(minSize) || minSize < 0) throw new Error(`partition.minSize must be an integer ≥ 0, got ${minSize}`);
  if (minSize * clients > labels.length)
    throw new Error(`partition.minSize × fleet.clients (${minSize} × ${clients}) must be ≤ the number of samples (${labels.length})`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  const MAX_TRIES = 10;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const parts: number[][] = Array.from({ length: clients }, () => []);
    for (const idx of byClass) {
      if (idx.length === 0) continue;
      const p = rng.dirichlet(new Array(clients).fill(alpha));
      const shuffled = rng.shuffle(idx);
      let start = 0;
      let acc = 0;
      for (let c = 0; c < clients; c++) {
        acc += p[c]!;
        const end = c === clients - 1 ? shuffled.length : Math.round(acc * shuffled.length);
        parts[c]!.push(...shuffled.slice(start, end));
        start = end;
      }
    }
    if (parts.every((q) => q.length >= minSize)) return parts.map((q) => q.sort((a, b) => a - b));
  }
  throw new Error(
    `partition: could not give every one of ${clients} clients at least partition.minSize=${minSize} samples with alpha=${alpha} in ${MAX_TRIES} tries; lower partition.minSize or raise partition.alpha`,
  );
}

/**
 * Partitions the samples that are not held out (e.g. the attacker's pool) and maps the result back
 * to indices of the full set. The one place where "who holds what" is decided.
 */
export function partitionExcluding(cfg: PartitionConfig, labels: ArrayLike<number>, clients: number, seed: number, classes: number, heldOut: readonly number[]): number[][] {
  const held = new Set(heldOut);
  const pool: number[] = [];
  for (let i = 0; i < labels.length; i++) if (!held.has(i)) pool.push(i);
  return partition(cfg, pool.map((i) => labels[i]!), clients, seed, classes).map((p) => p.map((j) => pool[j]!));
}
