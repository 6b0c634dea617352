import * as tf from '@tensorflow/tfjs-core';
import { labelWeighted, Rng, sizeOf, type PartModel } from '@splitfleet/splitcore';
import { isHeadOnlyCraft, LABELLED_BASELINES, type BaselineName, type LabelledBaseline, type CraftMethod, type HeadOnlyCraft, type IntermediateLayer, type TargetSpec } from './config.ts';
import { intermediateAttack, logits, middleOutputAttack, noise, pgd, type CraftOptions, type ThreePart } from './craft.ts';
import { apgdCE, pgdMargin } from './whitebox.ts';
import { matchedAccuracy } from './hungarian.ts';
import type { AttackCell, AttackMethodName, PerClassCounts, SuiteResult } from './suite-result.ts';

/** A shadow around the server's middle: its tail is null when only ĥ was trained (attack.shadow.tail none). */
export type ShadowParts = Omit<ThreePart, 'tail'> & { readonly tail: PartModel | null };

/** The shadow as a full model; only the crafts and metrics that need t̂ call this. */
function withTail(s: ShadowParts): ThreePart {
  if (!s.tail) throw new Error('this attack needs a shadow tail (attack.shadow.tail none trains none; use the middle-* crafts)');
  return s as ThreePart;
}

export interface SuiteOptions {
  readonly real: ThreePart;
  readonly shadow: ShadowParts;
  readonly randomShadow: ThreePart;
  /** The labelled baselines' models (LABELLED_BASELINES), each trained with labels; absent ones are skipped. */
  readonly labelledModels?: Partial<Record<LabelledBaseline, ThreePart>>;
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
  /** Targeted: real class → shadow class as the attacker maps it (null: the evaluation-side oracle's map). */
  readonly targetMap?: readonly number[] | null;
  /** MI-FGSM momentum for SPADV's crafts and the black-box baselines (0: plain PGD). White-box PGD stays plain. */
  readonly momentum?: number;
  /** DI-FGSM input diversity for the same methods (absent or probability 0: off). */
  readonly diversity?: CraftOptions['diversity'];
  readonly restarts?: number;
  readonly randomStart?: boolean;
  /** Representation the feature/ila crafts perturb (default: the smashed data). */
  readonly layer?: IntermediateLayer;
  readonly stepSize?: number;
  readonly batch?: number;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/**
 * The random stream of one method on one batch (the batch named by its first sample): random starts
 * and noise patterns differ between methods and batches, and repeat for the same seed.
 */
export function perturbationStream(seed: number, method: AttackMethodName, firstSample: number): Rng {
  return Rng.fromSeed(seed).fork('perturbations').fork(`${method}/${firstSample}`);
}

/** The model's predicted class per row of x. */
export async function predictClasses(m: ThreePart, x: tf.Tensor): Promise<Int32Array> {
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

/** One attack of the suite: crafts x_adv for rows [a, b) of the attacked samples at ε, from its own random stream. */
interface Job {
  readonly method: AttackMethodName;
  /** Gradient queries per attacked sample. */
  readonly queries: number;
  readonly run: (x: tf.Tensor, rows: [number, number], eps: number, rng: Rng) => tf.Tensor;
}

/** The attacked samples (those the real model classifies correctly) and what every cell is counted against. */
interface AttackedSet {
  readonly per: number;
  readonly xs: Float32Array;
  readonly ys: Int32Array;
  /** Targeted attacks: the target class per attacked sample. */
  readonly targets: Int32Array | null;
  /** All evaluation samples, and the attacked ones, per true class. */
  readonly classTotal: number[];
  readonly classCorrect: number[];
  readonly n: number;
  /** Position of each attacked sample in the evaluation set (the real model classifies it correctly). */
  readonly keep: readonly number[];
}

/** Mean per-row cosine similarity of two [n, …] tensors. */
const meanCosine = (a: tf.Tensor, b: tf.Tensor, n: number): tf.Tensor =>
  tf.tidy(() => {
    const u = tf.reshape(a, [n, -1]);
    const v = tf.reshape(b, [n, -1]);
    return tf.mean(tf.div(tf.sum(tf.mul(u, v), 1), tf.add(tf.mul(tf.norm(u, 2, 1), tf.norm(v, 2, 1)), 1e-12)));
  });

/** How close the shadow head is to the real one on the evaluation inputs: smashed cosine, channel-mean gap, middle-output cosine. */
function smashedSimilarity(o: SuiteOptions, all: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const n = all.shape[0]!;
    const h = o.real.head.apply(all);
    const hs = o.shadow.head.apply(all);
    const c = o.real.head.spec.outputShape[o.real.head.spec.outputShape.length - 1]!;
    const hc = tf.reshape(h, [-1, c]);
    const hsc = tf.reshape(hs, [-1, c]);
    const gap = tf.mean(tf.div(tf.abs(tf.sub(tf.mean(hc, 0), tf.mean(hsc, 0))), tf.add(tf.sqrt(tf.moments(hc, 0).variance), 1e-6)));
    return [meanCosine(h, hs, n), gap, meanCosine(o.real.middle.apply(h), o.shadow.middle.apply(hs), n)];
  });
}

/** The attacks to run, each with the labels it ascends/descends on in its own model's label space. */
function suiteJobs(o: SuiteOptions, set: AttackedSet, labels: { shadow: Int32Array | null; random: Int32Array; labelled: Partial<Record<LabelledBaseline, Int32Array>>; real: Int32Array }): Job[] {
  const K = o.classes;
  const lab = (arr: Int32Array, [a, b]: [number, number]) => tf.tensor1d(arr.slice(a, b), 'int32');
  const restarts = o.restarts ?? 1;
  const common = (eps: number, rng: Rng) => ({ epsilon: eps, steps: o.steps, restarts, randomStart: o.randomStart, stepSize: o.stepSize, rng, targeted: set.targets !== null });
  // the transfer boosters every black-box method gets; white-box PGD stays plain
  const boost = { momentum: o.momentum ?? 0, ...(o.diversity ? { diversity: o.diversity } : {}) };
  const pgdJob = (method: AttackMethodName, model: ThreePart, l: Int32Array, boosted = false): Job => ({
    method, queries: o.steps * restarts,
    run: (x, r, eps, rng) => {
      const t = lab(l, r);
      const out = pgd(model, x, t, K, { ...common(eps, rng), ...(boosted ? boost : {}) });
      t.dispose();
      return out;
    },
  });
  const headOnlyJob = (method: AttackMethodName, model: Pick<ThreePart, 'head' | 'middle'>, craft: HeadOnlyCraft): Job => ({
    method, queries: o.steps * restarts,
    run: (x, _r, eps, rng) => middleOutputAttack(model, x, { ...common(eps, rng), ...boost, distance: craft === 'middle-l2' ? 'l2' : 'cosine' }),
  });
  // the shadow's own labels exist exactly when it has a tail (withTail refuses the crafts first otherwise)
  const shadowLabels = (): Int32Array => labels.shadow ?? new Int32Array(0);
  const jobs: Job[] = o.crafts.map((craft): Job => {
    if (craft === 'pgd') return pgdJob('spadv-pgd', withTail(o.shadow), shadowLabels(), true);
    if (isHeadOnlyCraft(craft)) return headOnlyJob(`spadv-${craft}`, o.shadow, craft);
    const model = withTail(o.shadow);
    return {
      method: `spadv-${craft}`, queries: o.steps * (restarts + 1),
      run: (x, r, eps, rng) => {
        const t = lab(shadowLabels(), r);
        const out = intermediateAttack(model, x, t, K, { ...common(eps, rng), ...boost, variant: craft, layer: o.layer });
        t.dispose();
        return out;
      },
    };
  });
  if (o.baselines.includes('whitebox')) jobs.push(pgdJob('whitebox-pgd', o.real, labels.real));
  // the other components of the AutoAttack-style upper bound (untargeted: they ascend on the true label)
  const whiteboxJob = (method: AttackMethodName, attack: typeof apgdCE): Job => ({
    method, queries: o.steps * restarts,
    run: (x, r, eps, rng) => {
      const t = lab(labels.real, r);
      const out = attack(o.real, x, t, K, common(eps, rng));
      t.dispose();
      return out;
    },
  });
  if (o.baselines.includes('whitebox-cw')) jobs.push(whiteboxJob('whitebox-cw', pgdMargin));
  if (o.baselines.includes('whitebox-apgd')) jobs.push(whiteboxJob('whitebox-apgd', apgdCE));
  // a head-only shadow's random twin: a random ĥ through the real middle with SPADV's first craft
  const headOnlyCraft = o.crafts[0] && isHeadOnlyCraft(o.crafts[0]) ? o.crafts[0] : null;
  if (o.baselines.includes('random-shadow'))
    jobs.push(o.shadow.tail === null && headOnlyCraft ? headOnlyJob('random-shadow-head', o.randomShadow, headOnlyCraft) : pgdJob('random-shadow-pgd', o.randomShadow, labels.random, true));
  for (const b of LABELLED_BASELINES) {
    const model = o.labelledModels?.[b];
    const l = labels.labelled[b];
    if (o.baselines.includes(b) && model && l) jobs.push(pgdJob(`${b}-pgd`, model, l, true));
  }
  if (o.baselines.includes('noise')) jobs.push({ method: 'noise', queries: 0, run: (x, _r, eps, rng) => noise(x, eps, rng) });
  return jobs;
}

/** Running counts of one cell: success per class and perturbation sizes, overall and per class. */
class CellTally {
  readonly fooled: number[];
  readonly hit: number[];
  readonly targetable: number[];
  readonly classL2Sum: number[];
  readonly classLinfMax: number[];
  linfSum = 0;
  linfMax = 0;
  l2Sum = 0;
  l2Max = 0;
  /** Per attacked sample, in order: did the attack succeed (null: a targeted sample whose target is its class). */
  readonly succeeded: (boolean | null)[] = [];

  constructor(classes: number) {
    const zeros = () => new Array<number>(classes).fill(0);
    this.fooled = zeros();
    this.hit = zeros();
    this.targetable = zeros();
    this.classL2Sum = zeros();
    this.classLinfMax = zeros();
  }

  /** One attacked sample of true class c, now predicted `pred` (target: its target class, if targeted). */
  add(c: number, pred: number, target: number | null, linf: number, l2: number): void {
    this.linfSum += linf;
    this.linfMax = Math.max(this.linfMax, linf);
    this.l2Sum += l2;
    this.l2Max = Math.max(this.l2Max, l2);
    this.classL2Sum[c]! += l2;
    this.classLinfMax[c] = Math.max(this.classLinfMax[c]!, linf);
    if (pred !== c) this.fooled[c]!++;
    if (target !== null && target !== c) {
      this.targetable[c]!++;
      if (pred === target) this.hit[c]!++;
    }
    this.succeeded.push(target === null ? pred !== c : target === c ? null : pred === target);
  }

  /** One character per evaluation sample: 1 = success, 0 = attacked without success, - = not attacked. */
  outcomes(set: AttackedSet): string {
    const chars = new Array<string>(set.n).fill('-');
    set.keep.forEach((at, i) => {
      const s = this.succeeded[i];
      if (s !== undefined && s !== null) chars[at] = s ? '1' : '0';
    });
    return chars.join('');
  }

  cell(job: Job, eps: number, set: AttackedSet, seconds: number): AttackCell {
    const m = set.ys.length;
    const n = set.n;
    const nf = this.fooled.reduce((s, v) => s + v, 0);
    const nt = this.targetable.reduce((s, v) => s + v, 0);
    return {
      method: job.method, epsilon: eps, targeted: set.targets !== null, evaluated: m,
      cleanAccuracy: n ? m / n : 0, robustAccuracy: n ? (m - nf) / n : 0, successRate: m ? nf / m : 0,
      successRateAll: n ? (n - m + nf) / n : 0, outcomes: this.outcomes(set),
      targetedSuccess: set.targets ? (nt ? this.hit.reduce((s, v) => s + v, 0) / nt : 0) : null,
      linfMean: m ? this.linfSum / m : 0, linfMax: this.linfMax, l2Mean: m ? this.l2Sum / m : 0, l2Max: this.l2Max,
      seconds, queriesPerSample: job.queries,
      perClass: { total: set.classTotal, correct: set.classCorrect, fooled: this.fooled, hit: this.hit, targetable: this.targetable, l2Sum: this.classL2Sum, linfMax: this.classLinfMax },
    };
  }
}

/**
 * Runs one attack at one ε over the attacked samples in batches (each batch its own random stream),
 * checks every x_adv (finite, in [0,1], within ε) and counts the real model's answers. With
 * `examples`, also returns the first batch's clean and adversarial images for the report.
 */
async function measureCell(o: SuiteOptions, set: AttackedSet, job: Job, eps: number, examples: boolean): Promise<{ cell: AttackCell; examples: SuiteResult['examples'] | null; outcomes: Outcomes }> {
  const t0 = performance.now();
  const { per, xs } = set;
  const tally = new CellTally(o.classes);
  const m = set.ys.length;
  const outcomes: Outcomes = { pred: new Int32Array(m), linf: new Float32Array(m), l2: new Float32Array(m) };
  const bs = o.batch ?? 100;
  let shown: SuiteResult['examples'] | null = null;
  for (let a = 0; a < set.ys.length; a += bs) {
    const b = Math.min(set.ys.length, a + bs);
    const x = tf.tensor(xs.subarray(a * per, b * per), [b - a, ...o.inputShape]);
    const adv = job.run(x, [a, b], eps, perturbationStream(o.seed, job.method, a));
    const norms = tf.tidy(() => {
      const d = tf.reshape(tf.sub(adv, x), [b - a, -1]);
      return [tf.max(tf.abs(d), 1), tf.norm(d, 2, 1), tf.min(adv), tf.max(adv), tf.sum(tf.cast(tf.logicalNot(tf.isFinite(adv)), 'int32'))];
    });
    const [pred, linf, l2, lo, hi, bad] = await Promise.all([predictClasses(o.real, adv), ...norms.map((t) => t.data())]);
    tf.dispose(norms);
    if (bad![0]! > 0) throw new Error(`${job.method}: ${bad![0]} NaN/Inf values in the adversarial examples`);
    if (lo![0]! < 0 || hi![0]! > 1) throw new Error(`${job.method}: adversarial pixels left [0,1] (${lo![0]}, ${hi![0]})`);
    for (let i = 0; i < b - a; i++) {
      const li = linf![i]!;
      if (li > eps + 1e-6) throw new Error(`${job.method}: perturbation ${li} exceeds ε=${eps}`);
      tally.add(set.ys[a + i]!, pred[i]!, set.targets ? set.targets[a + i]! : null, li, l2![i]!);
      outcomes.pred[a + i] = pred[i]!;
      outcomes.linf[a + i] = li;
      outcomes.l2[a + i] = l2![i]!;
    }
    if (a === 0 && examples) {
      const k = Math.min(8, b - a);
      const av = (await adv.data()) as Float32Array;
      shown = {
        method: job.method, epsilon: eps,
        clean: Array.from({ length: k }, (_, i) => Array.from(xs.subarray(i * per, (i + 1) * per))),
        adversarial: Array.from({ length: k }, (_, i) => Array.from(av.subarray(i * per, (i + 1) * per))),
      };
    }
    tf.dispose([x, adv]);
  }
  return { cell: tally.cell(job, eps, set, (performance.now() - t0) / 1000), examples: shown, outcomes };
}

/** What an attack did to each attacked sample: the real model's prediction and the perturbation sizes. */
interface Outcomes {
  readonly pred: Int32Array;
  readonly linf: Float32Array;
  readonly l2: Float32Array;
}

/**
 * `whitebox-worst`: per sample, the first white-box component that succeeded (else the first
 * component), as AutoAttack counts its ensemble — a sample is robust only if every component failed.
 */
function worstCaseCell(o: SuiteOptions, set: AttackedSet, eps: number, parts: readonly { cell: AttackCell; outcomes: Outcomes }[]): AttackCell {
  const tally = new CellTally(o.classes);
  const succeeded = (p: number, i: number) => (set.targets ? p === set.targets[i] : p !== set.ys[i]);
  for (let i = 0; i < set.ys.length; i++) {
    const won = parts.find((c) => succeeded(c.outcomes.pred[i]!, i)) ?? parts[0]!;
    tally.add(set.ys[i]!, won.outcomes.pred[i]!, set.targets ? set.targets[i]! : null, won.outcomes.linf[i]!, won.outcomes.l2[i]!);
  }
  const job: Job = { method: 'whitebox-worst', queries: parts.reduce((q, c) => q + c.cell.queriesPerSample, 0), run: () => { throw new Error('whitebox-worst crafts nothing'); } };
  return tally.cell(job, eps, set, parts.reduce((t, c) => t + c.cell.seconds, 0));
}

/**
 * Evaluates SPADV and baselines against a real client model on natural samples: only samples the
 * real model classifies correctly are attacked; success = the real prediction changes (untargeted)
 * or becomes the target (targeted). Shadow attacks never see true labels: untargeted they attack the
 * shadow's own prediction; targeted, the target is mapped into the shadow's label space with
 * `targetMap` (the attacker's, from labelled images it holds) or, without one, the relabelling that
 * best aligns shadow and real predictions (an evaluation-side oracle — docs/spadv.md).
 */
export async function evaluateSuite(o: SuiteOptions): Promise<SuiteResult> {
  const per = sizeOf(o.inputShape);
  const n = o.y.length;
  const K = o.classes;
  const all = tf.tensor(o.x, [n, ...o.inputShape]);
  const realPred = await predictClasses(o.real, all);
  const shadowPred = o.shadow.tail ? await predictClasses(withTail(o.shadow), all) : null;
  const keep: number[] = [];
  realPred.forEach((p, i) => p === o.y[i] && keep.push(i));
  const matched = shadowPred ? matchedAccuracy(shadowPred, realPred, K) : null;
  const realToShadow = o.targetMap ? [...o.targetMap] : new Array<number>(K).fill(0);
  if (!o.targetMap) matched?.mapping.forEach((realClass, shadowClass) => (realToShadow[realClass] = shadowClass));
  const quality = smashedSimilarity(o, all);
  const [cosV, gapV, midV] = await Promise.all(quality.map((t) => t.data()));
  tf.dispose([...quality, all]);
  const xs = new Float32Array(keep.length * per);
  keep.forEach((k, i) => xs.set(o.x.subarray(k * per, (k + 1) * per), i * per));
  const ys = Int32Array.from(keep, (k) => o.y[k]!);
  const targets = targetClasses(o.target ?? 'untargeted', ys, K, o.seed);
  const classTotal = new Array<number>(K).fill(0);
  for (let i = 0; i < n; i++) classTotal[o.y[i]!]!++;
  const classCorrect = new Array<number>(K).fill(0);
  for (const c of ys) classCorrect[c]!++;
  const set: AttackedSet = { per, xs, ys, targets, classTotal, classCorrect, n, keep };
  const predOn = async (m: ThreePart) => {
    if (!keep.length) return new Int32Array(0);
    const t = tf.tensor(xs, [keep.length, ...o.inputShape]);
    const v = await predictClasses(m, t);
    t.dispose();
    return v;
  };
  const jobs = suiteJobs(o, set, {
    shadow: !shadowPred ? null : targets ? Int32Array.from(targets, (t) => realToShadow[t]!) : Int32Array.from(keep, (k) => shadowPred[k]!),
    random: targets ?? (await predOn(o.randomShadow)),
    labelled: Object.fromEntries(await Promise.all(Object.entries(o.labelledModels ?? {}).map(async ([b, m]) => [b, targets ?? (await predOn(m as ThreePart))]))),
    real: targets ?? ys,
  });
  const cells: AttackCell[] = [];
  let examples: SuiteResult['examples'] = { clean: [], adversarial: [], method: '', epsilon: 0 };
  for (const eps of o.epsilons) {
    const whitebox: { cell: AttackCell; outcomes: Outcomes }[] = [];
    for (const job of jobs) {
      const measured = await measureCell(o, set, job, eps, job.method.startsWith('spadv') && eps === o.epsilons[o.epsilons.length - 1]);
      cells.push(measured.cell);
      if (job.method.startsWith('whitebox-')) whitebox.push(measured);
      examples = measured.examples ?? examples;
      o.onProgress?.(cells.length, jobs.length * o.epsilons.length, `${job.method} ε=${eps}`);
    }
    if (o.baselines.includes('whitebox-worst') && whitebox.length) cells.push(worstCaseCell(o, set, eps, whitebox));
  }
  return {
    cleanAccuracy: keep.length / n, evaluated: keep.length, cells,
    shadow: { agreement: matched?.accuracy ?? null, smashedCosine: cosV![0]!, channelMeanGap: gapV![0]!, middleCosine: midV![0]! },
    examples,
  };
}

/** Metrics of a cell re-weighted to a label distribution (importance weights p(y)/n_y per test sample). */
export interface WeightedMetrics {
  readonly cleanAccuracy: number;
  readonly robustAccuracy: number;
  readonly asr: number;
  readonly targetedSuccess: number | null;
  /** Largest L∞ perturbation over the attacked samples that carry weight (classes the distribution holds). */
  readonly linfMax: number;
  /** Weighted mean L2 perturbation over the attacked samples. */
  readonly l2Mean: number;
}

export function reweight(pc: PerClassCounts, share: readonly number[], targeted: boolean): WeightedMetrics {
  // one formula for every re-weighted figure (splitcore labelWeighted): ratios of two such figures
  // (ASR, targeted success, mean L2 over the attacked samples) are ratios of re-weighted sums
  const w = (hits: readonly number[]) => labelWeighted(share, pc.total, hits) ?? 0;
  const clean = w(pc.correct);
  const fooled = w(pc.fooled);
  const hit = w(pc.hit);
  const tgt = w(pc.targetable);
  const l2 = w(pc.l2Sum);
  const weighted = pc.linfMax.filter((_, c) => (share[c] ?? 0) > 0 && (pc.total[c] ?? 0) > 0);
  return {
    cleanAccuracy: clean, robustAccuracy: clean - fooled, asr: clean ? fooled / clean : 0,
    targetedSuccess: targeted ? (tgt ? hit / tgt : 0) : null,
    linfMax: Math.max(0, ...weighted), l2Mean: clean ? l2 / clean : 0,
  };
}
