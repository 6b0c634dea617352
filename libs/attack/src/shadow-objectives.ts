import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, keepProbability } from '@splitfleet/splitcore';
import { kmeans, kmeansBySilhouette } from './kmeans.ts';
import { randomisedResponsePosterior } from './adaptive-labels.ts';
import { featureTarget, infomaxLoss, smashedStats, type SmashedStats } from './losses.ts';
import type { ShadowOptions } from './shadow.ts';
import type { ShadowSession } from './shadow-session.ts';

/** What the server recorded: smashed data z (n × D) and gradients at the middle output gm (n × M). */
type Observed = NonNullable<ShadowOptions['observed']>;

/** Trains the session's ĥ and t̂ by one objective; returns the labels it inferred ('observe' only). */
export type ObjectiveTraining = (s: ShadowSession) => Promise<Int32Array | null>;

/** The training of `o.objective`; throws if it needs recorded observations and `o` has none. */
export function objectiveTraining(o: ShadowOptions): ObjectiveTraining {
  if (o.objective === 'infomax') return trainInfomax;
  const obs = o.observed;
  if (!obs) throw new Error(`attack.objective=${o.objective} needs recorded observations (run the attack during training)`);
  switch (o.objective) {
    case 'match': return (s) => trainMatch(s, obs);
    case 'cluster': return (s) => trainCluster(s, obs);
    case 'observe': return (s) => (s.tail ? trainObserve(s, obs) : trainObserveHeadOnly(s, obs));
    case 'match-middle': return (s) => trainMatchMiddle(s, obs);
  }
}

/** Channels of the smashed data (its last axis): the statistics are per channel. */
const channelsOf = (o: ShadowOptions) => o.headSpec.outputShape[o.headSpec.outputShape.length - 1]!;

/** Per-channel statistics of all observed smashed data, as one class. */
const globalStats = (o: ShadowOptions, obs: Observed): SmashedStats =>
  smashedStats(obs.z, obs.n, channelsOf(o), new Int32Array(obs.n), 1);

/** Every sample in the one class of `globalStats`. */
const uniformAssignment = (x: tf.Tensor) => tf.ones([x.shape[0]!, 1]) as tf.Tensor2D;

/** 'infomax': ĥ and t̂ together, by information maximisation on t̂∘m∘ĥ(D_aux). */
async function trainInfomax(s: ShadowSession): Promise<null> {
  for (let i = 0; i < s.o.steps; i++) {
    const x = s.auxBatch(s.auxIndices());
    await s.step([s.head, s.learnedTail()], (ph, pt) => infomaxLoss(s.logits(x, ph, pt)));
    x.dispose();
  }
  return null;
}

/**
 * 'match': ĥ matches the observed smashed data's per-channel statistics, then (with a shadow tail)
 * t̂ alone by information maximisation.
 */
async function trainMatch(s: ShadowSession, obs: Observed): Promise<null> {
  await s.trainHeadMatch(globalStats(s.o, obs), s.o.steps, uniformAssignment);
  if (!s.tail) return null;
  const tail = s.tail;
  // t̂ by information maximisation on the middle's features of ĥ(D_aux)
  for (let i = 0; i < s.o.steps; i++) {
    const x = s.auxBatch(s.auxIndices());
    const m = tf.tidy(() => s.o.middle.apply(s.smashed(x)));
    await s.step([tail], (pt) => infomaxLoss(tail.model.apply(m, pt, s.trainMode())));
    tf.dispose([x, m]);
  }
  return null;
}

/** k-means pseudo-labels of D_aux in the space of m∘ĥ, with those features. */
async function pseudoLabels(s: ShadowSession): Promise<{ readonly feats: Float32Array; readonly labels: Int32Array }> {
  const n = s.o.aux.n;
  const x = s.auxBatch(Array.from({ length: n }, (_, i) => i));
  const feats = await s.middleFeatures(x);
  x.dispose();
  const { labels } = kmeans(feats, n, feats.length / n, Math.min(s.o.classes, n), s.o.seed);
  return { feats, labels };
}

/**
 * 'cluster': ĥ matches the observed statistics (half the steps), t̂ learns k-means pseudo-labels of
 * m∘ĥ(D_aux), then both are fine-tuned together on those labels (half the steps).
 */
async function trainCluster(s: ShadowSession, obs: Observed): Promise<null> {
  await s.trainHeadMatch(globalStats(s.o, obs), Math.ceil(s.o.steps / 2), uniformAssignment);
  const { feats, labels } = await pseudoLabels(s);
  await s.trainTailCE(feats, s.o.aux.n, labels, s.o.steps);
  // fine-tune ĥ and t̂ together on the pseudo-labels
  for (let i = 0; i < Math.ceil(s.o.steps / 2); i++) {
    const idx = s.auxIndices();
    const x = s.auxBatch(idx);
    const y = tf.tensor1d(Int32Array.from(idx, (j) => labels[j]!), 'int32');
    await s.step([s.head, s.learnedTail()], (ph, pt) => crossEntropy(s.logits(x, ph, pt), y, s.o.classes));
    tf.dispose([x, y]);
  }
  return null;
}

/** m(z) of every observed smashed sample, read back. */
async function observedMiddleFeatures(s: ShadowSession, obs: Observed): Promise<Float32Array> {
  const shape = s.o.headSpec.outputShape;
  const d = obs.z.length / obs.n;
  const parts: Float32Array[] = [];
  // in chunks: a deep middle's activations for thousands of samples at once would not fit
  for (let a = 0; a < obs.n; a += OBSERVED_CHUNK) {
    const b = Math.min(obs.n, a + OBSERVED_CHUNK);
    const zt = tf.tensor(obs.z.subarray(a * d, b * d), [b - a, ...shape]);
    const m = tf.tidy(() => s.o.middle.apply(zt));
    parts.push((await m.data()) as Float32Array);
    tf.dispose([zt, m]);
  }
  const out = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Observed samples run through the middle at once. */
const OBSERVED_CHUNK = 256;

/**
 * Labels of the observed samples up to a relabelling: directions of the returned gradients cluster by
 * class — into every class, or into the number of classes the silhouette finds (attack.inferClasses).
 */
const inferLabels = (s: ShadowSession, obs: Observed): Int32Array => {
  const d = obs.gm.length / obs.n;
  if (s.o.inferClasses === 'silhouette') return kmeansBySilhouette(obs.gm, obs.n, d, s.o.classes, s.o.seed, { spherical: true });
  return kmeans(obs.gm, obs.n, d, s.o.classes, s.o.seed, { spherical: true }).labels;
};

/**
 * An adaptive attacker facing label randomised response: the gradients reveal the randomised
 * labels; t̂, fitted to them, votes with the mechanism's likelihood for the true ones, and is refitted.
 */
async function invertRandomisedResponse(s: ShadowSession, obs: Observed, observed: Int32Array, feats: Float32Array): Promise<Int32Array> {
  const rr = (s.o.defence ?? []).find((x) => x.kind === 'label-rr' && x.epsilon !== null);
  if (rr?.kind !== 'label-rr' || rr.epsilon === null) return observed;
  const labels = randomisedResponsePosterior(await s.tailLogProbs(feats, obs.n), observed, s.o.classes, keepProbability(rr.epsilon, s.o.classes));
  const changed = labels.reduce((k, v, i) => k + Number(v !== observed[i]), 0);
  s.log(`randomised response (ε = ${rr.epsilon}) inverted: ${changed} of ${obs.n} inferred labels changed`);
  await s.trainTailCE(feats, obs.n, labels, s.o.steps);
  return labels;
}

/** t̂ fitted to the observed (m(z), inferred label) pairs of the recorded batches. */
async function fitTailToObserved(s: ShadowSession, obs: Observed, inferred: Int32Array, feats: Float32Array): Promise<void> {
  await s.trainTailCE(feats, obs.n, inferred, s.o.steps);
  s.log(`shadow tail fitted to ${obs.n} observed samples, loss ${s.last.toFixed(4)}`);
}

/**
 * 'observe': labels inferred from the observed gradients, t̂ fitted to the observed (m(z), label)
 * pairs, then ĥ matches the observed smashed data class by class.
 */
async function trainObserve(s: ShadowSession, obs: Observed): Promise<Int32Array> {
  const { o } = s;
  const feats = await observedMiddleFeatures(s, obs);
  const observedLabels = inferLabels(s, obs);
  await fitTailToObserved(s, obs, observedLabels, feats);
  const inferred = await invertRandomisedResponse(s, obs, observedLabels, feats);
  // ĥ matches the observed smashed data class by class, classes assigned by t̂∘m∘ĥ
  const stats = smashedStats(obs.z, obs.n, channelsOf(o), inferred, o.classes);
  await s.trainHeadMatch(stats, o.steps, (x) => tf.tidy(() => tf.softmax(s.logits(x)) as tf.Tensor2D));
  return inferred;
}

/**
 * Soft class assignment without a tail: a softmax over −(squared distance of m(ĥ(x)) to each
 * class's mean observed middle output) / (the mean such distance), so a sample belongs to the
 * classes whose observed outputs its own output is nearest.
 */
function centroidAssignment(s: ShadowSession, feats: Float32Array, n: number, labels: Int32Array): (x: tf.Tensor) => tf.Tensor2D {
  const k = s.o.classes;
  const d = feats.length / n;
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    counts[labels[i]!]!++;
    for (let j = 0; j < d; j++) sums[labels[i]! * d + j]! += feats[i * d + j]!;
  }
  const centroids = Float32Array.from(sums, (v, i) => v / Math.max(1, counts[Math.floor(i / d)]!));
  const empty = Float32Array.from(counts, (c) => (c > 0 ? 0 : 1e9));
  return (x) => tf.tidy(() => {
    const f = tf.reshape(s.o.middle.apply(s.smashed(x)), [x.shape[0]!, d]);
    const c = tf.tensor2d(centroids, [k, d]);
    const dist = tf.add(tf.sub(tf.sum(tf.square(f), 1, true), tf.mul(2, tf.matMul(f, c, false, true))), tf.transpose(tf.sum(tf.square(c), 1, true)));
    const shifted = tf.add(dist, tf.tensor1d(empty));
    return tf.softmax(tf.div(tf.neg(shifted), tf.add(tf.mean(tf.relu(dist)), 1e-6))) as tf.Tensor2D;
  });
}

/**
 * 'observe' with attack.shadow.tail none (reading (a) of the authors' head-only shadow, ours): labels
 * inferred from the observed gradients; ĥ matches the observed smashed data class by class, each
 * D_aux sample assigned to classes by how near m(ĥ(x)) lies to each class's observed middle outputs.
 */
async function trainObserveHeadOnly(s: ShadowSession, obs: Observed): Promise<Int32Array> {
  const { o } = s;
  const inferred = inferLabels(s, obs);
  const feats = await observedMiddleFeatures(s, obs);
  const stats = smashedStats(obs.z, obs.n, channelsOf(o), inferred, o.classes);
  await s.trainHeadMatch(stats, o.steps, centroidAssignment(s, feats, obs.n, inferred));
  return inferred;
}

/**
 * 'match-middle' (reading (b), ours): ĥ trained so that m(ĥ(D_aux)) matches the distribution of the
 * middle's outputs on the observed batches (moments + MMD). With a shadow tail, t̂ is first fitted to
 * the observed outputs and the labels inferred from the gradients, as in 'observe'.
 */
async function trainMatchMiddle(s: ShadowSession, obs: Observed): Promise<Int32Array | null> {
  const feats = await observedMiddleFeatures(s, obs);
  let inferred: Int32Array | null = null;
  if (s.tail) {
    inferred = inferLabels(s, obs);
    await fitTailToObserved(s, obs, inferred, feats);
  }
  await s.trainHeadFeatures(featureTarget(feats, obs.n), s.o.steps);
  return inferred;
}
