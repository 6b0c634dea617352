import * as tf from '@tensorflow/tfjs-core';
import { labelWeighted, Rng } from '@splitfleet/splitcore';
import { intermediateAttack, logits, noise, pgd, type CraftMethod, type IntermediateLayer, type ThreePart } from './craft.ts';
import { matchedAccuracy } from './hungarian.ts';

export type AttackMethodName = `spadv-${CraftMethod}` | 'whitebox-pgd' | 'random-shadow-pgd' | 'transfer-pgd' | 'noise';
export type BaselineName = 'whitebox' | 'random-shadow' | 'transfer' | 'noise';

/**
 * Untargeted, or targeted at: the next class (y+1 mod C), a seeded random class ≠ y, or one fixed
 * class (samples already of that class are left out of the targeted success rate).
 */
export type TargetSpec = 'untargeted' | 'next' | 'random' | { readonly class: number };

/** Counts per true class, so metrics can be re-weighted to any client's label distribution. */
export interface PerClassCounts {
  readonly total: number[];
  /** Classified correctly by the real model before the attack (the attacked samples). */
  readonly correct: number[];
  /** Attacked samples whose real prediction changed. */
  readonly fooled: number[];
  /** Targeted only: attacked samples (target ≠ true class) the real model now puts in the target class. */
  readonly hit: number[];
  readonly targetable: number[];
}

export interface AttackCell {
  readonly method: AttackMethodName;
  readonly epsilon: number;
  readonly targeted: boolean;
  /** Samples attacked: those the real model classifies correctly. */
  readonly evaluated: number;
  readonly cleanAccuracy: number;
  /** Accuracy of the real model on all evaluation samples after the attack. */
  readonly robustAccuracy: number;
  /** Attack success rate: fraction of the attacked samples whose real prediction changed. */
  readonly successRate: number;
  /** Targeted attacks: fraction of attacked samples (target ≠ true class) now predicted as the target. */
  readonly targetedSuccess: number | null;
  readonly linfMean: number;
  /** Largest |x_adv − x|∞ seen (checked ≤ ε). */
  readonly linfMax: number;
  readonly l2Mean: number;
  readonly l2Max: number;
  readonly seconds: number;
  /** Gradient queries to the model the attack runs on, per attacked sample (0 for noise). */
  readonly queriesPerSample: number;
  readonly perClass: PerClassCounts;
}

export interface ShadowQuality {
  /** Agreement of shadow and real predictions on the evaluation inputs, after the best relabelling. */
  readonly agreement: number;
  /** Mean per-sample cosine similarity between ĥ(x) and h(x). */
  readonly smashedCosine: number;
  /** Mean |per-channel mean difference| / per-channel std of h(x). */
  readonly channelMeanGap: number;
}

export interface SuiteResult {
  readonly cleanAccuracy: number;
  readonly evaluated: number;
  readonly cells: AttackCell[];
  readonly shadow: ShadowQuality;
  /** Examples for the report: a few clean and adversarial images at the largest ε. */
  readonly examples: { readonly clean: number[][]; readonly adversarial: number[][]; readonly method: string; readonly epsilon: number };
}

export interface SuiteOptions {
  readonly real: ThreePart;
  readonly shadow: ThreePart;
  readonly randomShadow: ThreePart;
  /** The transfer baseline's surrogate (trained with labels); null to skip it. */
  readonly surrogate?: ThreePart | null;
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly epsilons: readonly number[];
  readonly steps: number;
  readonly crafts: readonly CraftMethod[];
  readonly baselines: readonly BaselineName[];
  readonly seed: number;
  readonly target?: TargetSpec;
  /** MI-FGSM momentum for the SPADV crafts (0: plain PGD). White-box PGD stays plain. */
  readonly momentum?: number;
  readonly restarts?: number;
  readonly randomStart?: boolean;
  /** Representation the feature/ila crafts perturb (default: the smashed data). */
  readonly layer?: IntermediateLayer;
  readonly stepSize?: number;
  readonly batch?: number;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

async function argmax(m: ThreePart, x: tf.Tensor): Promise<Int32Array> {
  const a = tf.tidy(() => tf.argMax(logits(m, x), -1));
  const v = (await a.data()) as Int32Array;
  a.dispose();
  return Int32Array.from(v);
}

/** Target class per sample for a targeted evaluation, from the true labels (the evaluation's goal). */
export function targetClasses(spec: TargetSpec, y: Int32Array, classes: number, seed: number): Int32Array | null {
  if (spec === 'untargeted') return null;
  if (spec === 'next') return Int32Array.from(y, (c) => (c + 1) % classes);
  if (spec === 'random') {
    const r = Rng.fromSeed(seed).fork('targets');
    return Int32Array.from(y, (c) => (c + 1 + r.int(classes - 1)) % classes);
  }
  if (!Number.isInteger(spec.class) || spec.class < 0 || spec.class >= classes) throw new Error(`attack.target.class must be an integer in [0, ${classes - 1}], got ${spec.class}`);
  return new Int32Array(y.length).fill(spec.class);
}

/**
 * Evaluates SPADV and baselines against a real client model on natural samples: only samples the
 * real model classifies correctly are attacked; success = the real prediction changes (untargeted)
 * or becomes the target (targeted). Shadow attacks never see true labels: untargeted they attack the
 * shadow's own prediction; targeted, the target is mapped into the shadow's label space with the
 * relabelling that best aligns shadow and real predictions (an evaluation-side oracle: an unlabelled
 * attacker can name clusters, not classes — docs/spadv.md).
 */
export async function evaluateSuite(o: SuiteOptions): Promise<SuiteResult> {
  const per = o.inputShape.reduce((a, b) => a * b, 1);
  const n = o.y.length;
  const K = o.classes;
  const all = tf.tensor(o.x, [n, ...o.inputShape]);
  const realPred = await argmax(o.real, all);
  const shadowPred = await argmax(o.shadow, all);
  const keep: number[] = [];
  realPred.forEach((p, i) => p === o.y[i] && keep.push(i));
  const { accuracy: agreement, mapping } = matchedAccuracy(shadowPred, realPred, K);
  const realToShadow = new Array<number>(K).fill(0);
  mapping.forEach((realClass, shadowClass) => (realToShadow[realClass] = shadowClass));
  const quality = tf.tidy(() => {
    const h = tf.reshape(o.real.head.apply(all), [n, -1]);
    const hs = tf.reshape(o.shadow.head.apply(all), [n, -1]);
    const cos = tf.mean(tf.div(tf.sum(tf.mul(h, hs), 1), tf.add(tf.mul(tf.norm(h, 2, 1), tf.norm(hs, 2, 1)), 1e-12)));
    const c = o.real.head.spec.outputShape[o.real.head.spec.outputShape.length - 1]!;
    const hc = tf.reshape(h, [-1, c]);
    const hsc = tf.reshape(hs, [-1, c]);
    const gap = tf.mean(tf.div(tf.abs(tf.sub(tf.mean(hc, 0), tf.mean(hsc, 0))), tf.add(tf.sqrt(tf.moments(hc, 0).variance), 1e-6)));
    return [cos, gap];
  });
  const [cosV, gapV] = await Promise.all(quality.map((t) => t.data()));
  tf.dispose([...quality, all]);
  const xs = new Float32Array(keep.length * per);
  keep.forEach((k, i) => xs.set(o.x.subarray(k * per, (k + 1) * per), i * per));
  const ys = Int32Array.from(keep, (k) => o.y[k]!);
  const targets = targetClasses(o.target ?? 'untargeted', ys, K, o.seed);
  const targeted = targets !== null;
  const predOn = async (m: ThreePart) => {
    if (!keep.length) return new Int32Array(0);
    const t = tf.tensor(xs, [keep.length, ...o.inputShape]);
    const v = await argmax(m, t);
    t.dispose();
    return v;
  };
  // labels each attack ascends/descends on, in its own model's label space
  const shadowLabels = targets ? Int32Array.from(targets, (t) => realToShadow[t]!) : Int32Array.from(keep, (k) => shadowPred[k]!);
  const randLabels = targets ?? (await predOn(o.randomShadow));
  const surrogateLabels = o.surrogate ? (targets ?? (await predOn(o.surrogate))) : null;
  const realLabels = targets ?? ys;

  type Job = { method: AttackMethodName; queries: number; run: (x: tf.Tensor, idx: [number, number], eps: number) => tf.Tensor };
  const jobs: Job[] = [];
  const lab = (arr: Int32Array, [a, b]: [number, number]) => tf.tensor1d(arr.slice(a, b), 'int32');
  const restarts = o.restarts ?? 1;
  const common = (eps: number) => ({ epsilon: eps, steps: o.steps, restarts, randomStart: o.randomStart, stepSize: o.stepSize, seed: o.seed, targeted });
  const pgdJob = (method: AttackMethodName, model: ThreePart, labels: Int32Array, momentum = 0): Job => ({
    method, queries: o.steps * restarts,
    run: (x, r, eps) => {
      const l = lab(labels, r);
      const out = pgd(model, x, l, K, { ...common(eps), momentum });
      l.dispose();
      return out;
    },
  });
  for (const craft of o.crafts) {
    if (craft === 'pgd') jobs.push(pgdJob('spadv-pgd', o.shadow, shadowLabels, o.momentum ?? 0));
    else
      jobs.push({
        method: `spadv-${craft}`, queries: o.steps * (restarts + 1),
        run: (x, r, eps) => {
          const l = lab(shadowLabels, r);
          const out = intermediateAttack(o.shadow, x, l, K, { ...common(eps), momentum: o.momentum ?? 0, variant: craft, layer: o.layer });
          l.dispose();
          return out;
        },
      });
  }
  if (o.baselines.includes('whitebox')) jobs.push(pgdJob('whitebox-pgd', o.real, realLabels));
  if (o.baselines.includes('random-shadow')) jobs.push(pgdJob('random-shadow-pgd', o.randomShadow, randLabels));
  if (o.baselines.includes('transfer') && o.surrogate && surrogateLabels) jobs.push(pgdJob('transfer-pgd', o.surrogate, surrogateLabels));
  if (o.baselines.includes('noise')) jobs.push({ method: 'noise', queries: 0, run: (x, _r, eps) => noise(x, eps, o.seed) });

  const cells: AttackCell[] = [];
  const bs = o.batch ?? 100;
  const total = jobs.length * o.epsilons.length;
  const classTotal = new Array<number>(K).fill(0);
  for (let i = 0; i < n; i++) classTotal[o.y[i]!]!++;
  const classCorrect = new Array<number>(K).fill(0);
  for (const c of ys) classCorrect[c]!++;
  let examples: SuiteResult['examples'] = { clean: [], adversarial: [], method: '', epsilon: 0 };
  for (const eps of o.epsilons) {
    for (const job of jobs) {
      const t0 = performance.now();
      const fooled = new Array<number>(K).fill(0);
      const hit = new Array<number>(K).fill(0);
      const targetable = new Array<number>(K).fill(0);
      let linfSum = 0;
      let linfMax = 0;
      let l2Sum = 0;
      let l2Max = 0;
      for (let a = 0; a < keep.length; a += bs) {
        const b = Math.min(keep.length, a + bs);
        const x = tf.tensor(xs.subarray(a * per, b * per), [b - a, ...o.inputShape]);
        const adv = job.run(x, [a, b], eps);
        const norms = tf.tidy(() => {
          const d = tf.reshape(tf.sub(adv, x), [b - a, -1]);
          return [tf.max(tf.abs(d), 1), tf.norm(d, 2, 1), tf.min(adv), tf.max(adv), tf.sum(tf.cast(tf.logicalNot(tf.isFinite(adv)), 'int32'))];
        });
        const [pred, linf, l2, lo, hi, bad] = await Promise.all([argmax(o.real, adv), ...norms.map((t) => t.data())]);
        tf.dispose(norms);
        if (bad![0]! > 0) throw new Error(`${job.method}: ${bad![0]} NaN/Inf values in the adversarial examples`);
        if (lo![0]! < 0 || hi![0]! > 1) throw new Error(`${job.method}: adversarial pixels left [0,1] (${lo![0]}, ${hi![0]})`);
        for (let i = 0; i < b - a; i++) {
          const li = linf![i]!;
          if (li > eps + 1e-6) throw new Error(`${job.method}: perturbation ${li} exceeds ε=${eps}`);
          linfSum += li;
          linfMax = Math.max(linfMax, li);
          l2Sum += l2![i]!;
          l2Max = Math.max(l2Max, l2![i]!);
          const c = ys[a + i]!;
          if (pred[i] !== c) fooled[c]!++;
          if (targets && targets[a + i] !== c) {
            targetable[c]!++;
            if (pred[i] === targets[a + i]) hit[c]!++;
          }
        }
        if (a === 0 && job.method.startsWith('spadv') && eps === o.epsilons[o.epsilons.length - 1]) {
          const k = Math.min(8, b - a);
          const av = (await adv.data()) as Float32Array;
          examples = {
            method: job.method, epsilon: eps,
            clean: Array.from({ length: k }, (_, i) => Array.from(xs.subarray(i * per, (i + 1) * per))),
            adversarial: Array.from({ length: k }, (_, i) => Array.from(av.subarray(i * per, (i + 1) * per))),
          };
        }
        tf.dispose([x, adv]);
      }
      const m = keep.length;
      const nf = fooled.reduce((s, v) => s + v, 0);
      const nt = targetable.reduce((s, v) => s + v, 0);
      cells.push({
        method: job.method, epsilon: eps, targeted, evaluated: m,
        cleanAccuracy: n ? m / n : 0, robustAccuracy: n ? (m - nf) / n : 0, successRate: m ? nf / m : 0,
        targetedSuccess: targets ? (nt ? hit.reduce((s, v) => s + v, 0) / nt : 0) : null,
        linfMean: m ? linfSum / m : 0, linfMax, l2Mean: m ? l2Sum / m : 0, l2Max,
        seconds: (performance.now() - t0) / 1000, queriesPerSample: job.queries,
        perClass: { total: classTotal, correct: classCorrect, fooled, hit, targetable },
      });
      o.onProgress?.(cells.length, total, `${job.method} ε=${eps}`);
    }
  }
  return {
    cleanAccuracy: keep.length / n, evaluated: keep.length, cells,
    shadow: { agreement, smashedCosine: cosV![0]!, channelMeanGap: gapV![0]! },
    examples,
  };
}

/** Metrics of a cell re-weighted to a label distribution (importance weights p(y)/n_y per test sample). */
export interface WeightedMetrics {
  readonly cleanAccuracy: number;
  readonly robustAccuracy: number;
  readonly asr: number;
  readonly targetedSuccess: number | null;
}

export function reweight(pc: PerClassCounts, share: readonly number[], targeted: boolean): WeightedMetrics {
  // one formula for every re-weighted figure (splitcore labelWeighted): ratios of two such figures
  // (ASR, targeted success) are ratios of re-weighted counts
  const w = (hits: readonly number[]) => labelWeighted(share, pc.total, hits) ?? 0;
  const clean = w(pc.correct);
  const fooled = w(pc.fooled);
  const hit = w(pc.hit);
  const tgt = w(pc.targetable);
  return {
    cleanAccuracy: clean, robustAccuracy: clean - fooled, asr: clean ? fooled / clean : 0,
    targetedSuccess: targeted ? (tgt ? hit / tgt : 0) : null,
  };
}
