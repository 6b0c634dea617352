/**
 * Measures of how non-IID a population is, from per-client label counts. Distances are between
 * label distributions: Hellinger H(p,q) = sqrt(1 − Σ sqrt(p_i q_i)) ∈ [0,1]; Jensen–Shannon distance
 * = sqrt(JS divergence, log base 2) ∈ [0,1]; EMD over labels as in Zhao et al. 2018 ("Federated
 * learning with non-IID data"), Σ_i |p_i − q_i| (ground distance 1 between distinct classes, ×2 of
 * total variation).
 */
export function labelCounts(labels: ArrayLike<number>, indices: readonly number[], classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const i of indices) c[labels[i]!]!++;
  return c;
}

export function frequencies(counts: readonly number[]): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (n > 0 ? c / n : 0));
}

export function hellinger(p: readonly number[], q: readonly number[]): number {
  let bc = 0;
  for (let i = 0; i < p.length; i++) bc += Math.sqrt(p[i]! * q[i]!);
  return Math.sqrt(Math.max(0, 1 - bc));
}

function kl2(p: readonly number[], q: readonly number[]): number {
  let s = 0;
  // q[i] ≥ p[i]/2 mathematically, but (p + q)/2 underflows to 0 for subnormal p (5e-324): such a
  // term is at most p·1 bit, i.e. 0 in doubles — skip it instead of adding p·log(p/0) = ∞
  for (let i = 0; i < p.length; i++) if (p[i]! > 0 && q[i]! > 0) s += p[i]! * Math.log2(p[i]! / q[i]!);
  return s;
}

export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  const m = p.map((v, i) => (v + q[i]!) / 2);
  return Math.sqrt(Math.max(0, (kl2(p, m) + kl2(q, m)) / 2));
}

export function emd(p: readonly number[], q: readonly number[]): number {
  return p.reduce((s, v, i) => s + Math.abs(v - q[i]!), 0);
}

export interface NonIidSummary {
  readonly global: number[];
  readonly clients: { readonly counts: number[]; readonly hellinger: number; readonly jensenShannon: number; readonly emd: number }[];
  readonly meanHellinger: number;
  readonly maxHellinger: number;
  readonly meanJensenShannon: number;
  readonly maxJensenShannon: number;
  readonly meanEmd: number;
  /** Mean Jensen–Shannon distance over all pairs of clients (over the pairs of PAIRWISE_CLIENTS evenly spaced ones when there are more). */
  readonly meanPairwiseJensenShannon: number;
}

/** Beyond this many clients the pairwise mean is taken over this many evenly spaced ones (≈ 2 M pairs): exact pairs grow as n². */
export const PAIRWISE_CLIENTS = 2000;

/** The clients (by position, 0..n-1) the pairwise mean is taken over: all of them, or PAIRWISE_CLIENTS evenly spaced ones. */
export function pairwiseIndices(n: number): number[] {
  const step = n / PAIRWISE_CLIENTS;
  return Array.from({ length: Math.min(n, PAIRWISE_CLIENTS) }, (_, k) => (n <= PAIRWISE_CLIENTS ? k : Math.floor(k * step)));
}

/** A client's label frequencies' distances to the global mix g. */
export function distancesTo(f: readonly number[], g: readonly number[]): { hellinger: number; jensenShannon: number; emd: number } {
  return { hellinger: hellinger(f, g), jensenShannon: jensenShannon(f, g), emd: emd(f, g) };
}

export function summarizeNonIid(perClientCounts: readonly (readonly number[])[]): NonIidSummary {
  const classes = perClientCounts[0]?.length ?? 0;
  const total = new Array<number>(classes).fill(0);
  for (const c of perClientCounts) c.forEach((v, k) => (total[k]! += v));
  const g = frequencies(total);
  const fs = perClientCounts.map((c) => frequencies(c));
  const clients = perClientCounts.map((c, i) => ({ counts: [...c], ...distancesTo(fs[i]!, g) }));
  const mean = (f: (c: (typeof clients)[number]) => number) => (clients.length ? clients.reduce((s, c) => s + f(c), 0) / clients.length : 0);
  // a reduce, not Math.max(...): spreading 100,000 values can pass the engine's argument limit
  const max = (f: (c: (typeof clients)[number]) => number) => clients.reduce((m, c) => Math.max(m, f(c)), 0);
  return {
    global: g, clients,
    meanHellinger: mean((c) => c.hellinger), maxHellinger: max((c) => c.hellinger),
    meanJensenShannon: mean((c) => c.jensenShannon), maxJensenShannon: max((c) => c.jensenShannon),
    meanEmd: mean((c) => c.emd), meanPairwiseJensenShannon: meanPairwise(fs),
  };
}

/** Mean JS distance over the pairs of the clients pairwiseIndices picks (deterministic). */
function meanPairwise(all: readonly (readonly number[])[]): number {
  const fs = pairwiseIndices(all.length).map((i) => all[i]!);
  let pair = 0;
  let pairs = 0;
  for (let i = 0; i < fs.length; i++)
    for (let j = i + 1; j < fs.length; j++) {
      pair += jensenShannon(fs[i]!, fs[j]!);
      pairs++;
    }
  return pairs ? pair / pairs : 0;
}
