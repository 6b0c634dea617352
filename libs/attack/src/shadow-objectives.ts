import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy } from '@splitfleet/splitcore';
import { kmeans } from './kmeans.ts';
import { infomaxLoss, smashedStats, type SmashedStats } from './losses.ts';
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
    case 'observe': return (s) => trainObserve(s, obs);
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
    await s.step([s.head, s.tail], (ph, pt) => infomaxLoss(s.logits(x, ph, pt)));
    x.dispose();
  }
  return null;
}

/** 'match': ĥ matches the observed smashed data's statistics, then t̂ alone by information maximisation. */
async function trainMatch(s: ShadowSession, obs: Observed): Promise<null> {
  await s.trainHeadMatch(globalStats(s.o, obs), s.o.steps, uniformAssignment);
  // t̂ by information maximisation on the middle's features of ĥ(D_aux)
  for (let i = 0; i < s.o.steps; i++) {
    const x = s.auxBatch(s.auxIndices());
    const m = tf.tidy(() => s.o.middle.apply(s.head.model.apply(x)));
    await s.step([s.tail], (pt) => infomaxLoss(s.tail.model.apply(m, pt, s.trainMode())));
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
    await s.step([s.head, s.tail], (ph, pt) => crossEntropy(s.logits(x, ph, pt), y, s.o.classes));
    tf.dispose([x, y]);
  }
  return null;
}

/** m(z) of every observed smashed sample, read back. */
async function observedMiddleFeatures(s: ShadowSession, obs: Observed): Promise<Float32Array> {
  const zt = tf.tensor(obs.z, [obs.n, ...s.o.headSpec.outputShape]);
  const m = tf.tidy(() => s.o.middle.apply(zt));
  const feats = (await m.data()) as Float32Array;
  tf.dispose([zt, m]);
  return feats;
}

/**
 * 'observe': labels inferred from the observed gradients, t̂ fitted to the observed (m(z), label)
 * pairs, then ĥ matches the observed smashed data class by class.
 */
async function trainObserve(s: ShadowSession, obs: Observed): Promise<Int32Array> {
  const { o } = s;
  // (1) labels up to a relabelling: directions of the returned gradients cluster by class
  const inferred = kmeans(obs.gm, obs.n, obs.gm.length / obs.n, o.classes, o.seed, { spherical: true }).labels;
  // (2) t̂ fitted to (m(z), inferred label) pairs of the recorded batches
  await s.trainTailCE(await observedMiddleFeatures(s, obs), obs.n, inferred, o.steps);
  s.log(`shadow tail fitted to ${obs.n} observed samples, loss ${s.last.toFixed(4)}`);
  // (3) ĥ matches the observed smashed data class by class, classes assigned by t̂∘m∘ĥ
  const stats = smashedStats(obs.z, obs.n, channelsOf(o), inferred, o.classes);
  await s.trainHeadMatch(stats, o.steps, (x) => tf.tidy(() => tf.softmax(s.logits(x)) as tf.Tensor2D));
  return inferred;
}
