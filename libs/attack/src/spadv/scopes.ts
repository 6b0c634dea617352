import { kmeans, kmeansBySilhouette } from '../kmeans.ts';
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
  /**
   * Those of clientIds the attacker saw less than attack.minClientSamples of: attacked with this
   * shadow although their batches did not train it (a cluster's, by nearest centroid, or the fleet's).
   */
  readonly fallbackIds: readonly number[];
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

/**
 * The shadows to train and whom each serves; every client of `clientIds` is in exactly one plan.
 * Clients seen less than minSamples: with `cluster`, those with any batch join the cluster whose
 * centroid lies nearest their signature; the rest (and every one with `client`) use the fleet's shadow.
 */
export function planShadows(observed: readonly ObservedBatch[], clientIds: readonly number[], o: PlanOptions): ShadowPlan[] {
  const fleet = (ids: readonly number[], fallbackIds: readonly number[]): ShadowPlan => ({ key: 'fleet', scope: 'fleet', clientIds: ids, fallbackIds, observed: fleetView(observed, o.capacity) });
  if (o.scope === 'fleet') return [fleet(clientIds, [])];
  const own = byClient(observed);
  const eligible = clientIds.filter((id) => samplesOf(own.get(id) ?? []) >= o.minSamples);
  let late = clientIds.filter((id) => !eligible.includes(id));
  let plans: ShadowPlan[];
  if (o.scope === 'client') plans = eligible.map((id) => ({ key: `client ${id}`, scope: 'client', clientIds: [id], fallbackIds: [], observed: own.get(id)! }));
  else {
    const seen = late.filter((id) => own.has(id));
    plans = clusterPlans(eligible, seen, own, observed, o);
    late = late.filter((id) => !seen.includes(id) || !plans.length);
  }
  return late.length ? [...plans, fleet(late, late)] : plans;
}

/**
 * One plan per cluster of the eligible clients (k given, or chosen by silhouette; fewer than 2 make
 * one cluster), trained from its members' rings; `late` clients are attacked with the nearest one.
 */
function clusterPlans(ids: readonly number[], late: readonly number[], own: ReadonlyMap<number, ObservedBatch[]>, observed: readonly ObservedBatch[], o: PlanOptions): ShadowPlan[] {
  if (!ids.length) return [];
  const signatures = ids.map((id) => clientSignature(own.get(id)!, o.channels));
  const labels = clusterClients(signatures, o.clusters, o.seed);
  const joins = nearestClusters(signatures, labels, late.map((id) => clientSignature(own.get(id)!, o.channels)));
  const groups = new Map<number, { members: number[]; fallback: number[] }>();
  const group = (k: number) => groups.get(k) ?? groups.set(k, { members: [], fallback: [] }).get(k)!;
  ids.forEach((id, i) => group(labels[i]!).members.push(id));
  late.forEach((id, i) => group(joins[i]!).fallback.push(id));
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([k, { members, fallback }]) => ({
      key: `cluster ${k}`, scope: 'cluster', clientIds: [...members, ...fallback].sort((a, b) => a - b), fallbackIds: fallback,
      // the members' rings together, in arrival order (a late client's few batches train nothing)
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

/** Per-feature mean and standard deviation of the signatures (a constant feature gets sd 1). */
function featureScales(signatures: readonly Float64Array[]): { mu: Float64Array; sd: Float64Array } {
  const n = signatures.length;
  const d = signatures[0]!.length;
  const mu = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    mu[j] = signatures.reduce((a, s) => a + s[j]!, 0) / n;
    sd[j] = Math.sqrt(signatures.reduce((a, s) => a + (s[j]! - mu[j]!) ** 2, 0) / n) || 1;
  }
  return { mu, sd };
}

/** Signatures standardised per feature (the eligible clients' scales), as k-means rows. */
function standardised(signatures: readonly Float64Array[], scales: { mu: Float64Array; sd: Float64Array }): Float32Array {
  const d = scales.mu.length;
  const rows = new Float32Array(signatures.length * d);
  signatures.forEach((s, i) => s.forEach((v, j) => (rows[i * d + j] = (v - scales.mu[j]!) / scales.sd[j]!)));
  return rows;
}

/** Signatures standardised per feature, then k-means (k given, or the best silhouette over 2…min(8, n−1)). */
export function clusterClients(signatures: readonly Float64Array[], k: number | null, seed: number): Int32Array {
  const n = signatures.length;
  if (n < 2) return new Int32Array(n);
  const d = signatures[0]!.length;
  const rows = standardised(signatures, featureScales(signatures));
  if (k !== null) return kmeans(rows, n, d, Math.min(k, n), seed).labels;
  return kmeansBySilhouette(rows, n, d, Math.min(8, n - 1), seed);
}

/** For each of `others`, the cluster (of `labels` over `signatures`) whose centroid is nearest, in the same standardised space. */
export function nearestClusters(signatures: readonly Float64Array[], labels: Int32Array, others: readonly Float64Array[]): Int32Array {
  if (!others.length) return new Int32Array(0);
  const scales = featureScales(signatures);
  const d = scales.mu.length;
  const rows = standardised(signatures, scales);
  const ks = [...new Set(labels)].sort((a, b) => a - b);
  const centroids = ks.map((k) => {
    const c = new Float64Array(d);
    const members = [...labels.keys()].filter((i) => labels[i] === k);
    for (const i of members) for (let j = 0; j < d; j++) c[j]! += rows[i * d + j]! / members.length;
    return c;
  });
  const x = standardised(others, scales);
  return Int32Array.from(others, (_, i) => {
    const dist = centroids.map((c) => c.reduce((s, v, j) => s + (x[i * d + j]! - v) ** 2, 0));
    return ks[dist.indexOf(Math.min(...dist))]!;
  });
}
