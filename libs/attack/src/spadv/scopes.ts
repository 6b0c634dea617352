import { kmeans } from '../kmeans.ts';
import type { ShadowScope } from '../config.ts';
import { fleetView, type ObservedBatch } from '../observations.ts';

/**
 * Which shadow the attacker uses for which client (`attack.shadowScope`): one for the whole fleet,
 * one per client from that client's own observations, or one per cluster of clients grouped by the
 * statistics of what the server saw from them. A server knows which client sent every batch, so a
 * competent attacker need not treat a heterogeneous fleet as one model.
 */
export interface ShadowPlan {
  /** `fleet`, `client <id>` or `cluster <k>`. */
  readonly key: string;
  /** The scope this shadow serves (clients below attack.minClientSamples fall back to `fleet`). */
  readonly scope: ShadowScope;
  /** Clients attacked with this shadow. */
  readonly clientIds: readonly number[];
  /** The observations it is trained from. */
  readonly observed: readonly ObservedBatch[];
}

export interface PlanOptions {
  readonly scope: ShadowScope;
  /** attack.observe.batches: the fleet shadow's budget (and each client's ring). */
  readonly capacity: number;
  /** attack.clusters: the number of clusters, or null to choose it by silhouette. */
  readonly clusters: number | null;
  /** attack.minClientSamples: clients seen less than this use the fleet's shadow. */
  readonly minSamples: number;
  /** Channels of the smashed data (its last axis), for the per-client statistics. */
  readonly channels: number;
  readonly seed: number;
}

/** Every client's batches, in arrival order, by client id. */
function byClient(observed: readonly ObservedBatch[]): Map<number, ObservedBatch[]> {
  const m = new Map<number, ObservedBatch[]>();
  for (const b of observed) {
    const own = m.get(b.clientId);
    if (own) own.push(b);
    else m.set(b.clientId, [b]);
  }
  return m;
}

const samplesOf = (bs: readonly ObservedBatch[]) => bs.reduce((s, b) => s + b.batch, 0);

/** The shadows to train and whom each serves; every client of `clientIds` is in exactly one plan. */
export function planShadows(observed: readonly ObservedBatch[], clientIds: readonly number[], o: PlanOptions): ShadowPlan[] {
  const fleet = (ids: readonly number[]): ShadowPlan => ({ key: 'fleet', scope: 'fleet', clientIds: ids, observed: fleetView(observed, o.capacity) });
  if (o.scope === 'fleet') return [fleet(clientIds)];
  const own = byClient(observed);
  const eligible = clientIds.filter((id) => samplesOf(own.get(id) ?? []) >= o.minSamples);
  const fallback = clientIds.filter((id) => !eligible.includes(id));
  const plans: ShadowPlan[] =
    o.scope === 'client'
      ? eligible.map((id) => ({ key: `client ${id}`, scope: 'client', clientIds: [id], observed: own.get(id)! }))
      : clusterPlans(eligible, own, observed, o);
  return fallback.length ? [...plans, fleet(fallback)] : plans;
}

/** One plan per cluster of clients (k given, or chosen by silhouette); fewer than 2 clients make one cluster. */
function clusterPlans(ids: readonly number[], own: ReadonlyMap<number, ObservedBatch[]>, observed: readonly ObservedBatch[], o: PlanOptions): ShadowPlan[] {
  if (!ids.length) return [];
  const labels = clusterClients(ids.map((id) => clientSignature(own.get(id)!, o.channels)), o.clusters, o.seed);
  const groups = new Map<number, number[]>();
  ids.forEach((id, i) => groups.set(labels[i]!, [...(groups.get(labels[i]!) ?? []), id]));
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([k, members]) => ({
      key: `cluster ${k}`, scope: 'cluster', clientIds: members,
      // the members' rings together, in arrival order
      observed: observed.filter((b) => members.includes(b.clientId)),
    }));
}

/**
 * What the server saw from one client, as a vector: per-channel mean and standard deviation of its
 * smashed data, and the mean direction of the gradients returned to it (its label mix shows there).
 */
export function clientSignature(batches: readonly ObservedBatch[], channels: number): Float64Array {
  const gmSize = batches[0]!.gm.length / batches[0]!.batch;
  const s1 = new Float64Array(channels);
  const s2 = new Float64Array(channels);
  const dir = new Float64Array(gmSize);
  let count = 0;
  let rows = 0;
  for (const b of batches) {
    for (let j = 0; j < b.z.length; j++) {
      s1[j % channels]! += b.z[j]!;
      s2[j % channels]! += b.z[j]! ** 2;
    }
    count += b.z.length / channels;
    for (let r = 0; r < b.batch; r++) {
      const row = b.gm.subarray(r * gmSize, (r + 1) * gmSize);
      const norm = Math.hypot(...row) || 1;
      row.forEach((v, j) => (dir[j]! += v / norm));
      rows++;
    }
  }
  const mean = Array.from(s1, (v) => v / count);
  const sd = Array.from(s2, (v, c) => Math.sqrt(Math.max(0, v / count - mean[c]! ** 2)));
  return Float64Array.from([...mean, ...sd, ...Array.from(dir, (v) => v / rows)]);
}

/** Signatures standardised per feature, then k-means (k given, or the best silhouette over 2…min(8, n−1)). */
export function clusterClients(signatures: readonly Float64Array[], k: number | null, seed: number): Int32Array {
  const n = signatures.length;
  if (n < 2) return new Int32Array(n);
  const d = signatures[0]!.length;
  const rows = new Float32Array(n * d);
  for (let j = 0; j < d; j++) {
    const col = signatures.map((s) => s[j]!);
    const mu = col.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(col.reduce((a, b) => a + (b - mu) ** 2, 0) / n) || 1;
    col.forEach((v, i) => (rows[i * d + j] = (v - mu) / sd));
  }
  const fit = (kk: number) => kmeans(rows, n, d, kk, seed).labels;
  if (k !== null) return fit(Math.min(k, n));
  let best = { labels: fit(2), score: -Infinity };
  for (let kk = 2; kk <= Math.min(8, n - 1); kk++) {
    const labels = fit(kk);
    const score = silhouette(rows, n, d, labels);
    if (score > best.score) best = { labels, score };
  }
  return best.labels;
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
