import { Rng } from '../rng/rng.ts';

/**
 * Partitioners: (labels, params, seed) → one index list per client, disjoint. Pure and seeded;
 * parameters are validated eagerly with errors that name the parameter and its allowed range.
 */
export type PartitionConfig =
  | { readonly kind: 'iid' }
  | {
    readonly kind: 'dirichlet'; readonly alpha: number; readonly minSize: number;
    /**
     * per-class (default): each class's samples split over the clients by a Dir(α) draw;
     * per-client (Hsu et al. 2019): each client's class mix q_i ~ Dir(α · p_global), its size from
     * `sizes`, samples drawn without replacement — works for any fleet size.
     */
    readonly scheme?: 'per-class' | 'per-client';
    /** per-client: client sizes, equal (default) or from a quantity distribution (`exponent`, `sigma` as for kind quantity). */
    readonly sizes?: SizeDistribution;
    readonly exponent?: number;
    readonly sigma?: number;
  }
  | { readonly kind: 'pathological'; readonly classesPerClient: number }
  | { readonly kind: 'shard'; readonly shardsPerClient: number; readonly shardSize: number }
  | { readonly kind: 'quantity'; readonly distribution: Exclude<SizeDistribution, 'equal'>; readonly exponent: number; readonly sigma: number; readonly minSize: number }
  | { readonly kind: 'feature-noise'; readonly maxNoise: number }
  | { readonly kind: 'from-file'; readonly parts: readonly (readonly number[])[] };

export type SizeDistribution = 'equal' | 'power-law' | 'log-normal';

/**
 * Parameters that cannot partition these labels. `option` is the config path to change (e.g.
 * `partition.minSize`); the message names its value and what would work, so a host can show it as a
 * user error without a stack.
 */
export class PartitionError extends Error {
  readonly option: string;
  constructor(option: string, message: string) {
    super(message);
    this.name = 'PartitionError';
    this.option = option;
  }
}

export function partition(cfg: PartitionConfig, labels: ArrayLike<number>, clients: number, seed: number, classes = 10): number[][] {
  if (!Number.isInteger(clients) || clients < 1) throw new PartitionError('fleet.clients', `fleet.clients must be an integer ≥ 1, got ${clients}`);
  // only the per-client Dirichlet with minSize 0 may leave clients without data (a population larger than the pool)
  const emptyAllowed = cfg.kind === 'dirichlet' && cfg.scheme === 'per-client' && cfg.minSize === 0;
  if (clients > labels.length && !emptyAllowed)
    throw new PartitionError('fleet.clients', `fleet.clients (${clients}) must be ≤ the number of samples (${labels.length}); a larger population needs partition {kind: dirichlet, scheme: per-client, minSize: 0}`);
  const rng = Rng.fromSeed(seed).fork('partition');
  switch (cfg.kind) {
    case 'iid':
    case 'feature-noise':
      return iid(labels.length, clients, rng);
    case 'dirichlet':
      return cfg.scheme === 'per-client' ? dirichletPerClient(labels, clients, cfg, classes, rng) : dirichlet(labels, clients, cfg.alpha, cfg.minSize, classes, rng);
    case 'pathological':
      return pathological(labels, clients, cfg.classesPerClient, classes, rng);
    case 'shard':
      return shard(labels, clients, cfg.shardsPerClient, cfg.shardSize, rng);
    case 'quantity':
      return quantity(labels.length, clients, cfg, rng);
    case 'from-file':
      return fromFile(cfg.parts, labels.length, clients);
  }
}

/** Per-client Gaussian input-noise level for `feature-noise`: evenly spread over [0, maxNoise]. */
export function featureNoiseLevels(cfg: PartitionConfig, clients: number): number[] {
  if (cfg.kind !== 'feature-noise') return new Array<number>(clients).fill(0);
  if (!(cfg.maxNoise >= 0)) throw new PartitionError('partition.maxNoise', `partition.maxNoise must be ≥ 0, got ${cfg.maxNoise}`);
  return Array.from({ length: clients }, (_, i) => (clients === 1 ? 0 : (cfg.maxNoise * i) / (clients - 1)));
}

/** k distinct classes per client (classes dealt round-robin from a seeded order), each class's samples split among its holders. */
function pathological(labels: ArrayLike<number>, clients: number, k: number, classes: number, rng: Rng): number[][] {
  if (!Number.isInteger(k) || k < 1 || k > classes) throw new PartitionError('partition.classesPerClient', `partition.classesPerClient must be an integer in [1, ${classes}], got ${k}`);
  const order = rng.permutation(classes);
  const owners: number[][] = Array.from({ length: classes }, () => []);
  for (let c = 0; c < clients; c++) for (let j = 0; j < k; j++) owners[order[(c * k + j) % classes]!]!.push(c);
  const byClass = groupByClass(labels, classes, rng);
  const parts: number[][] = Array.from({ length: clients }, () => []);
  byClass.forEach((idx, cls) => {
    const who = owners[cls]!;
    if (who.length === 0) return; // fewer clients × k than classes: this class is held by no one
    idx.forEach((i, j) => parts[who[j % who.length]!]!.push(i));
  });
  if (parts.some((p) => p.length === 0)) throw new PartitionError('partition.classesPerClient', `partition: some client got no samples with classesPerClient=${k}; use fewer clients or more classes per client`);
  return parts.map((p) => p.sort((a, b) => a - b));
}

/** Sort by label, cut into shards of shardSize, deal shardsPerClient shards to each client (McMahan et al. 2017). */
function shard(labels: ArrayLike<number>, clients: number, perClient: number, size: number, rng: Rng): number[][] {
  if (!Number.isInteger(perClient) || perClient < 1) throw new PartitionError('partition.shardsPerClient', `partition.shardsPerClient must be an integer ≥ 1, got ${perClient}`);
  if (!Number.isInteger(size) || size < 1) throw new PartitionError('partition.shardSize', `partition.shardSize must be an integer ≥ 1, got ${size}`);
  if (clients * perClient * size > labels.length)
    throw new PartitionError('partition.shardSize', `partition: fleet.clients × shardsPerClient × shardSize (${clients} × ${perClient} × ${size}) must be ≤ the number of samples (${labels.length})`);
  const sorted = groupByClass(labels, Math.max(...Array.from(labels)) + 1, rng).flat();
  const shards: number[][] = [];
  for (let s = 0; s + size <= sorted.length; s += size) shards.push(sorted.slice(s, s + size));
  const pick = rng.permutation(shards.length);
  return Array.from({ length: clients }, (_, c) => pick.slice(c * perClient, (c + 1) * perClient).flatMap((s) => shards[s]!).sort((a, b) => a - b));
}

/** Client sizes from a power law or a log-normal, labels IID. */
function quantity(n: number, clients: number, cfg: Extract<PartitionConfig, { kind: 'quantity' }>, rng: Rng): number[][] {
  const sizes = clientSizes(n, clients, { ...cfg, sizes: cfg.distribution }, rng);
  const perm = rng.permutation(n);
  let k = 0;
  return sizes.map((s) => perm.slice(k, (k += s)).sort((a, b) => a - b));
}

/**
 * How many samples each client holds, summing to n: equal (the remainder to the first clients), or
 * `minSize` each plus the rest in proportion to power-law ranks or log-normal weights dealt to the
 * clients in a seeded order.
 */
function clientSizes(n: number, clients: number, cfg: { sizes: SizeDistribution; exponent: number; sigma: number; minSize: number }, rng: Rng): number[] {
  // 0 is allowed: a population larger than the pool (100,000 clients over 58,000 images) has clients without data, as real ones do
  if (!Number.isInteger(cfg.minSize) || cfg.minSize < 0) throw new PartitionError('partition.minSize', `partition.minSize must be an integer ≥ 0, got ${cfg.minSize}`);
  if (cfg.minSize * clients > n) throw new PartitionError('partition.minSize', `partition.minSize × fleet.clients (${cfg.minSize} × ${clients}) must be ≤ the number of samples (${n})`);
  if (cfg.sizes === 'equal') return Array.from({ length: clients }, (_, c) => Math.floor(n / clients) + (c < n % clients ? 1 : 0));
  if (cfg.sizes === 'power-law' && !(cfg.exponent > 0)) throw new PartitionError('partition.exponent', `partition.exponent must be > 0, got ${cfg.exponent}`);
  if (cfg.sizes === 'log-normal' && !(cfg.sigma > 0)) throw new PartitionError('partition.sigma', `partition.sigma must be > 0, got ${cfg.sigma}`);
  const w = Array.from({ length: clients }, (_, i) =>
    cfg.sizes === 'power-law' ? Math.pow(i + 1, -cfg.exponent) : Math.exp(cfg.sigma * rng.normal()),
  );
  const order = rng.permutation(clients); // which client gets which rank
  const spare = n - cfg.minSize * clients;
  const total = w.reduce((a, b) => a + b, 0);
  const sizes = new Array<number>(clients).fill(cfg.minSize);
  let given = 0;
  order.forEach((c, r) => {
    const extra = Math.floor((w[r]! / total) * spare);
    sizes[c]! += extra;
    given += extra;
  });
  for (let i = 0; given < spare; i++, given++) sizes[order[i % clients]!]!++;
  return sizes;
}

function fromFile(parts: readonly (readonly number[])[], n: number, clients: number): number[][] {
  if (parts.length !== clients) throw new PartitionError('partition.file', `partition file lists ${parts.length} clients, fleet.clients is ${clients}`);
  const seen = new Set<number>();
  parts.forEach((p, c) =>
    p.forEach((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= n) throw new PartitionError('partition.file', `partition file: client ${c} lists index ${i}, outside [0, ${n})`);
      if (seen.has(i)) throw new PartitionError('partition.file', `partition file: index ${i} is listed twice (client ${c}); partitions must be disjoint`);
      seen.add(i);
    }),
  );
  return parts.map((p) => [...p].sort((a, b) => a - b));
}

/**
 * Parses a partition file: JSON (an array of index arrays, or {"clients": [[...], ...]}) or CSV with
 * one line per client (`client,index` pairs with a header are also accepted). Documented in docs/population.md.
 */
export function parsePartitionFile(text: string, name: string): number[][] {
  const t = text.trim();
  if (t.startsWith('[') || t.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new PartitionError('partition.file', `${name}: not valid JSON: ${(e as Error).message}`);
    }
    const arr = Array.isArray(v) ? v : (v as { clients?: unknown }).clients;
    if (!Array.isArray(arr) || !arr.every((p) => Array.isArray(p) && p.every((i) => typeof i === 'number')))
      throw new PartitionError('partition.file', `${name}: expected a JSON array of index arrays, or {"clients": [[...], ...]}`);
    return arr as number[][];
  }
  const lines = t.split(/\r?\n/).filter((l) => l.trim() && !l.startsWith('#'));
  if (lines[0] && /^client\s*,\s*index/i.test(lines[0])) {
    const parts: number[][] = [];
    for (const l of lines.slice(1)) {
      const [c, i] = l.split(',').map((x) => Number(x.trim()));
      if (!Number.isInteger(c) || !Number.isInteger(i)) throw new PartitionError('partition.file', `${name}: bad line "${l}" (expected client,index)`);
      (parts[c!] ??= []).push(i!);
    }
    return Array.from({ length: parts.length }, (_, c) => parts[c] ?? []);
  }
  return lines.map((l, k) => l.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n)) throw new PartitionError('partition.file', `${name}: line ${k + 1} holds "${x}", not an integer index`);
    return n;
  }));
}

function groupByClass(labels: ArrayLike<number>, classes: number, rng: Rng): number[][] {
  const by: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) by[labels[i]!]!.push(i);
  return by.map((b) => rng.shuffle(b));
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

function checkAlpha(alpha: number): void {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new PartitionError('partition.alpha', `partition.alpha must be a finite number > 0, got ${alpha}`);
}

/** Per class, split its samples across clients by a Dirichlet(α) draw; retry (bounded) until every client has minSize. */
function dirichlet(labels: ArrayLike<number>, clients: number, alpha: number, minSize: number, classes: number, rng: Rng): number[][] {
  checkAlpha(alpha);
  if (!Number.isInteger(minSize) || minSize < 0) throw new PartitionError('partition.minSize', `partition.minSize must be an integer ≥ 0, got ${minSize}`);
  if (minSize * clients > labels.length)
    throw new PartitionError('partition.minSize', `partition.minSize × fleet.clients (${minSize} × ${clients}) must be ≤ the number of samples (${labels.length})`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  const MAX_TRIES = 10;
  // the largest smallest-client size any draw reached: a minSize up to it is met by that draw
  let reachable = 0;
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
    reachable = Math.max(reachable, parts.reduce((m, q) => Math.min(m, q.length), Infinity));
  }
  throw new PartitionError(
    'partition.minSize',
    `partition.minSize: ${minSize} is not reachable for ${clients} clients at partition.alpha=${alpha}; ` +
      `must be ${reachable === 0 ? '0' : `≤ ${reachable}`} here (the best of ${MAX_TRIES} seeded draws), or raise partition.alpha or lower fleet.clients, ` +
      `or use partition.scheme: per-client (each client's class mix drawn from Dir(α · p), sizes set; works for any fleet size)`,
  );
}

/**
 * The per-client Dirichlet scheme (Hsu et al. 2019): client i's class mix q_i ~ Dir(α · p_global)
 * (p_global: the pool's class frequencies, so α → ∞ gives every client the global mix and a small α
 * one or two classes), its size from `sizes`; its samples are drawn one by one from its mix, without
 * replacement — a class that runs out leaves every mix, renormalised. Clients draw in turns, so the
 * classes left at the end are shared out, not dumped on the last client. Any fleet size the pool
 * can fill works.
 */
function dirichletPerClient(labels: ArrayLike<number>, clients: number, cfg: Extract<PartitionConfig, { kind: 'dirichlet' }>, classes: number, rng: Rng): number[][] {
  checkAlpha(cfg.alpha);
  const sizes = clientSizes(labels.length, clients, { sizes: cfg.sizes ?? 'equal', exponent: cfg.exponent ?? 1.2, sigma: cfg.sigma ?? 1, minSize: cfg.minSize }, rng);
  // each class's samples in a seeded order, handed out from the end
  const left = groupByClass(labels, classes, rng);
  const global = left.map((idx) => idx.length / labels.length);
  const mixes = Array.from({ length: clients }, () => rng.dirichlet(global.map((p) => Math.max(cfg.alpha * p, 1e-12))));
  const parts: number[][] = Array.from({ length: clients }, () => []);
  // one sample per client per pass, clients in a seeded order: classes run out for everyone alike
  // at the end, not for whoever happened to draw last
  const order = rng.permutation(clients);
  // a loop, not Math.max(...sizes): a spread of a 100,000-client fleet's sizes can exceed the argument limit
  const largest = sizes.reduce((a, b) => Math.max(a, b), 0);
  for (let k = 0; k < largest; k++) for (const c of order) if (k < sizes[c]!) parts[c]!.push(drawFrom(mixes[c]!, left, rng));
  return parts.map((q) => q.sort((a, b) => a - b));
}

/** One sample of a class drawn from `mix` among the classes with samples left (the mix renormalised over them). */
function drawFrom(mix: readonly number[], left: number[][], rng: Rng): number {
  let total = 0;
  for (let c = 0; c < mix.length; c++) if (left[c]!.length) total += mix[c]!;
  let r = rng.float() * total;
  let pick = -1;
  for (let c = 0; c < mix.length; c++) {
    if (!left[c]!.length) continue;
    pick = c;
    r -= mix[c]!;
    if (r < 0) break;
  }
  // a mix whose mass sits entirely on exhausted classes (total 0): the first class with samples left
  if (total <= 0) pick = left.findIndex((idx) => idx.length > 0);
  return left[pick]!.pop()!;
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
