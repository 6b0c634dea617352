import * as tf from '@tensorflow/tfjs-core';
import {
  gather, initWeights, PartModel, Rng, smashedChannel, stateShapes,
  type DefenceSpec, type ImageSet, type SplitModel, type WeightArray,
} from '@splitfleet/splitcore';
import { drawAux, drawOutOfDistribution, type AuxDraw } from '../aux-data.ts';
import { LABELLED_BASELINES, type AttackConfig, type EvalSlice, type LabelledBaseline, type ShadowObjective } from '../config.ts';
import type { ThreePart } from '../craft.ts';
import { evaluateSuite, predictClasses } from '../evaluate.ts';
import { labelledClassMap, matchedAccuracy } from '../hungarian.ts';
import { observedBytes, stackObservations, type ObservedBatch } from '../observations.ts';
import { shadowHeadSpec, trainShadow, trainSurrogate, type ShadowModel } from '../shadow.ts';
import type { SuiteResult } from '../suite-result.ts';
import { planShadows, type ShadowPlan } from './scopes.ts';
import { labelShares, observedLabels } from './observed-labels.ts';
import type { AttackReport, ObjectiveReport } from './report.ts';
import { clientAttackRows, headDistances, meanOverClients, primaryEpsilon, spread, strongestWhitebox, summarize, whiteboxRatios } from './summarize.ts';

/** A real client model to attack: its head and tail (evaluation only) and who holds it. */
export interface AttackTarget {
  readonly label: string;
  readonly clientIds: number[];
  readonly headTail: WeightArray[];
}

/** Everything SPADV needs from a finished (or just trained) run, passed explicitly. */
export interface SpadvInputs {
  /** The attack section of the run's config. */
  readonly attack: AttackConfig;
  /** The run's seed (D_aux defaults to seed + 1; the batch schedule is seeded by it). */
  readonly seed: number;
  /** training.batchSize of the run (rebuilds the observed batches' labels for the label-inference score). */
  readonly trainingBatchSize: number;
  readonly split: SplitModel;
  readonly train: ImageSet;
  readonly test: ImageSet;
  /** Training samples no client holds: the attacker's pool for D_aux. */
  readonly heldOut: readonly number[];
  /** With attack.aux.source dataset: the other data set's images, already in the clients' input shape. */
  readonly auxImages?: ImageSet;
  readonly middle: WeightArray[];
  readonly observed: readonly ObservedBatch[];
  readonly targets: readonly AttackTarget[];
  /** Training indices per client id (evaluation only: label-inference accuracy, per-client re-weighting). */
  readonly partitions: readonly (readonly number[])[];
  /**
   * The clients' defences (config `defence`): the deployed models are evaluated with their
   * smashed-data defences in place, and with attack.adaptive SPADV crafts through them too.
   */
  readonly defence?: readonly DefenceSpec[];
  readonly log?: (line: string) => void;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

/** A labelled baseline's model: trained on `samples` labelled images; `ownsMiddle` false when the middle is the server's. */
type Surrogate = {
  readonly model: ThreePart; readonly finalLoss: number; readonly seconds: number; readonly samples: number; readonly ownsMiddle: boolean;
  /** Accuracy on the evaluation images (how good a model its attacker could train). */
  readonly cleanAccuracy: number;
};

/** A shadow plan with its observations stacked and their true labels (evaluation only: the label-inference score). */
interface PlannedShadow {
  readonly plan: ShadowPlan;
  readonly observed: { readonly n: number; readonly z: Float32Array; readonly gm: Float32Array } | null;
  readonly trueLabels: Int32Array | null;
}

/** What every objective's shadow and evaluation share: D_aux, the middle, the evaluation samples, the baselines' models. */
interface AttackContext {
  readonly a: SpadvInputs;
  readonly seed: number;
  readonly classes: number;
  readonly aux: AuxDraw;
  readonly auxX: Float32Array;
  readonly middle: PartModel;
  /** The shadows to train and whom each serves (attack.shadowScope), with their stacked observations. */
  readonly plans: readonly PlannedShadow[];
  /** The test indices attacked (attack.evalSlice, attack.evalSamples). */
  readonly evaluated: readonly number[];
  readonly evalX: Float32Array;
  readonly evalY: Int32Array;
  readonly epsilons: number[];
  readonly randomShadow: ThreePart;
  /** The labelled baselines' models (attack.baselines), by baseline. */
  readonly surrogates: Partial<Record<LabelledBaseline, Surrogate>>;
  /** Targeted with attack.targetMap labelled: the labelled images the attacker maps classes with. */
  readonly labelled: { readonly x: Float32Array; readonly y: Int32Array } | null;
  readonly log: (line: string) => void;
}

function part(spec: SplitModel['head'], w: readonly WeightArray[]): PartModel {
  return new PartModel(spec, w);
}

/** D_aux: drawn from the held-out pool, Dirichlet-skewed or shaped like one client's labels; or from another data set. */
function drawAttackerData(a: SpadvInputs, seed: number): { aux: AuxDraw; auxX: Float32Array; auxY: Int32Array } {
  const ac = a.attack;
  if (ac.aux.source === 'dataset') {
    if (!a.auxImages) throw new Error('attack.aux.source dataset: the runner passed no auxImages');
    const aux = drawOutOfDistribution(a.auxImages.count, ac.aux.size, seed);
    const { x, y } = gather(a.auxImages, aux.indices);
    return { aux, auxX: x, auxY: y };
  }
  const classes = a.split.model.classes;
  const dist = ac.aux.fromClient !== null
    ? { proportions: labelShares(a.partitions[ac.aux.fromClient] ?? [], a.train.labels, classes) }
    : { alpha: ac.aux.alpha ?? 0.5 };
  const aux = drawAux(a.heldOut, a.train.labels, ac.aux.size, classes, seed, dist);
  const { x, y } = gather(a.train, aux.indices);
  return { aux, auxX: x, auxY: y };
}

/** The random-shadow baseline: an untrained head and tail around the server's middle. */
function randomShadowOf(s: SplitModel, middle: PartModel, ac: AttackConfig, seed: number): ThreePart {
  const rnd = Rng.fromSeed(seed).fork('random-shadow');
  const head = shadowHeadSpec(s.head, ac.shadow.architecture);
  return { head: part(head, initWeights(stateShapes(head), rnd.fork('h'))), middle, tail: part(s.tail, initWeights(stateShapes(s.tail), rnd.fork('t'))) };
}

/**
 * A labelled baseline's model (LABELLED_BASELINES): `transfer` and `transfer-pool` train a whole model
 * of the real architecture from scratch (on D_aux, or on the whole held-out pool); `labelled-shadow`
 * trains ĥ (the shadow's architecture) and t̂ around the server's real, frozen middle on D_aux, with
 * the shadow's step budget — SPADV's position with the labels SPADV has to infer.
 */
async function trainLabelledBaseline(a: SpadvInputs, b: LabelledBaseline, data: { x: Float32Array; y: Int32Array; n: number }, middle: PartModel, seed: number, log: (l: string) => void): Promise<Omit<Surrogate, 'cleanAccuracy'>> {
  const s = a.split;
  const ac = a.attack;
  const t0 = performance.now();
  const shadowLike = b === 'labelled-shadow';
  const budget = shadowLike ? ac.shadow : ac.surrogate;
  log(`${b} baseline: training on ${data.n} labelled images (${budget.steps} steps${shadowLike ? ', the real middle frozen' : ''})`);
  const sur = await trainSurrogate({
    specs: [shadowLike ? shadowHeadSpec(s.head, ac.shadow.architecture) : s.head, s.middle, s.tail], classes: s.model.classes,
    aux: { x: data.x, n: data.n, labels: data.y }, steps: budget.steps, lr: budget.lr, batchSize: budget.batchSize, seed,
    ...(shadowLike ? { frozenMiddle: middle } : {}), stream: b === 'transfer' ? 'surrogate' : b,
  });
  const [head, mid, tail] = sur.parts;
  return { model: { head, middle: mid, tail }, finalLoss: sur.finalLoss, seconds: (performance.now() - t0) / 1000, samples: data.n, ownsMiddle: !shadowLike };
}

/** The labelled baselines attack.baselines asks for, each trained once per attack run and scored on the evaluation images. */
async function trainLabelledBaselines(a: SpadvInputs, aux: { x: Float32Array; y: Int32Array; n: number }, middle: PartModel, evaluation: { x: Float32Array; y: Int32Array }, seed: number, log: (l: string) => void) {
  const out: Partial<Record<LabelledBaseline, Surrogate>> = {};
  for (const b of LABELLED_BASELINES) {
    if (!a.attack.baselines.includes(b)) continue;
    const data = b === 'transfer-pool' ? { ...gather(a.train, a.heldOut), n: a.heldOut.length } : aux;
    const trained = await trainLabelledBaseline(a, b, data, middle, seed, log);
    const x = tf.tensor(evaluation.x, [evaluation.y.length, ...a.split.model.inputShape]);
    const p = await predictClasses(trained.model, x);
    x.dispose();
    out[b] = { ...trained, cleanAccuracy: evaluation.y.length ? p.filter((v, i) => v === evaluation.y[i]).length / evaluation.y.length : 0 };
  }
  return out;
}

/**
 * The attacked test images: the first `samples` of the slice — `all` the test split, `tune` its
 * first half, `eval` its second half (settings tuned on one are reported on the other).
 */
export function evaluationIndices(testCount: number, slice: EvalSlice, samples: number | null): number[] {
  const half = Math.floor(testCount / 2);
  const [from, to] = slice === 'tune' ? [0, half] : slice === 'eval' ? [half, testCount] : [0, testCount];
  return Array.from({ length: Math.min(samples ?? to - from, to - from) }, (_, i) => from + i);
}

async function prepare(a: SpadvInputs): Promise<AttackContext> {
  const ac = a.attack;
  const log = a.log ?? (() => {});
  const seed = ac.aux.seed ?? a.seed + 1;
  const { aux, auxX, auxY } = drawAttackerData(a, seed);
  const middle = part(a.split.middle, a.middle);
  const evaluated = evaluationIndices(a.test.count, ac.evalSlice, ac.evalSamples);
  const { x: evalX, y: evalY } = gather(a.test, evaluated);
  const randomShadow = randomShadowOf(a.split, middle, ac, seed);
  const surrogates = await trainLabelledBaselines(a, { x: auxX, y: auxY, n: aux.indices.length }, middle, { x: evalX, y: evalY }, seed, log);
  return {
    a, seed, classes: a.split.model.classes, aux, auxX, middle, plans: plannedShadows(a),
    evaluated, evalX, evalY, epsilons: ac.epsilons ?? [ac.epsilon], randomShadow, surrogates, labelled: labelledImages(a, aux, seed), log,
  };
}

/**
 * The attacker's labelled images for targeted attacks (attack.targetMap labelled): `samples` of
 * D_aux's images, or with an out-of-distribution D_aux (whose labels are another task's) as many
 * held-out images. Never test images: the class map cannot read the attacked images' labels.
 */
function labelledImages(a: SpadvInputs, aux: AuxDraw, seed: number): AttackContext['labelled'] {
  const { target, targetMap } = a.attack;
  if (target === 'untargeted' || targetMap.source !== 'labelled') return null;
  const pool = a.attack.aux.source === 'dataset' ? a.heldOut : aux.indices;
  const order = Rng.fromSeed(seed).fork('target-map').shuffle(pool);
  const { x, y } = gather(a.train, order.slice(0, targetMap.samples));
  return { x, y };
}

/** Real class → shadow class from the attacker's labelled images (null: untargeted, the oracle map, or no shadow tail). */
async function attackerClassMap(c: AttackContext, shadow: ShadowModel): Promise<number[] | null> {
  if (!c.labelled || !shadow.tail) return null;
  const n = c.labelled.y.length;
  const x = tf.tensor(c.labelled.x, [n, ...c.a.split.model.inputShape]);
  const p = await predictClasses({ head: shadow.head, middle: c.middle, tail: shadow.tail }, x);
  x.dispose();
  return labelledClassMap(p, c.labelled.y, c.classes);
}

/** The shadow plans of the run's scope, each with its observations stacked and their true labels. */
function plannedShadows(a: SpadvInputs): PlannedShadow[] {
  const ac = a.attack;
  const clientIds = [...new Set(a.targets.flatMap((t) => t.clientIds))].sort((x, y) => x - y);
  const outShape = a.split.head.outputShape;
  const plans = planShadows(a.observed, clientIds, {
    scope: ac.shadowScope, capacity: ac.observe.batches, clusters: ac.clusters, minSamples: ac.minClientSamples,
    channels: outShape[outShape.length - 1]!, seed: a.seed,
  });
  const schedule = { seed: a.seed, batchSize: a.trainingBatchSize, labels: a.train.labels, partitions: a.partitions };
  return plans.map((plan) => ({
    plan, observed: plan.observed.length ? stackObservations(plan.observed) : null, trueLabels: observedLabels(plan.observed, schedule),
  }));
}

/**
 * Stage 1 with one objective — a shadow per plan of the scope — then stage 2: each real model is
 * attacked, for each of its clients, with the shadow that client's plan trained. Baselines (they do
 * not depend on the shadow) run once per real model, and only when asked.
 */
async function attackWithObjective(c: AttackContext, objective: ShadowObjective, withBaselines: boolean): Promise<ObjectiveReport> {
  const targets: ObjectiveReport['targets'] = [];
  const shadows: ObjectiveReport['shadows'] = [];
  const baselinesRun = new Set<string>();
  for (const p of c.plans) {
    const t0 = performance.now();
    const shadow = await trainPlannedShadow(c, objective, p);
    const lia = shadow.inferredLabels && p.trueLabels ? matchedAccuracy(shadow.inferredLabels, p.trueLabels, c.classes).accuracy : null;
    const targetMap = await attackerClassMap(c, shadow);
    if (lia !== null) c.log(`label inference from gradients (${p.plan.key}): ${(100 * lia).toFixed(1)}% (after the best relabelling)`);
    shadows.push({
      key: p.plan.key, scope: p.plan.scope, clientIds: [...p.plan.clientIds], fallbackIds: [...p.plan.fallbackIds], observedSamples: p.observed?.n ?? 0,
      seconds: (performance.now() - t0) / 1000, finalLoss: shadow.finalLoss, labelInferenceAccuracy: lia,
      observedBytes: observedBytes(p.plan.observed), weightBytes: stateBytes(shadow.head) + (shadow.tail ? stateBytes(shadow.tail) : 0), targetMap,
    });
    try {
      for (const t of c.a.targets) {
        const clientIds = t.clientIds.filter((id) => p.plan.clientIds.includes(id));
        if (!clientIds.length) continue;
        const first = !baselinesRun.has(t.label);
        baselinesRun.add(t.label);
        const suite = await attackTarget(c, t, { shadow, targetMap }, withBaselines && first, `${objective} ${t.label}`);
        targets.push({ label: t.label, clientIds, shadow: p.plan.key, suite });
      }
    } finally {
      shadow.dispose();
    }
  }
  const samples = shadows.reduce((s, sh) => s + sh.observedSamples, 0);
  const weighted = shadows.filter((sh) => sh.labelInferenceAccuracy !== null);
  return {
    objective, shadowSeconds: shadows.reduce((s, sh) => s + sh.seconds, 0), shadowFinalLoss: shadows[0]!.finalLoss,
    labelInferenceAccuracy: weighted.length && samples ? weighted.reduce((s, sh) => s + sh.labelInferenceAccuracy! * sh.observedSamples, 0) / samples : null,
    shadows, targets, relativeToWhitebox: [],
  };
}

/** Bytes of a part's parameters and buffers (float32). */
function stateBytes(m: PartModel): number {
  return m.state().reduce((n, v) => n + 4 * v.size, 0);
}

/** Stage 1 for one plan. */
function trainPlannedShadow(c: AttackContext, objective: ShadowObjective, p: PlannedShadow): Promise<ShadowModel> {
  const { a } = c;
  const ac = a.attack;
  c.log(`SPADV stage 1: training the shadow (${objective}, ${p.plan.key}, |D_aux|=${c.aux.indices.length}, ${p.observed?.n ?? 0} observed samples)`);
  return trainShadow({
    objective, architecture: ac.shadow.architecture, tail: ac.shadow.tail, middle: c.middle, headSpec: a.split.head, tailSpec: a.split.tail, classes: c.classes, inferClasses: ac.inferClasses, defence: ac.adaptive ? (a.defence ?? []) : [],
    aux: { x: c.auxX, n: c.aux.indices.length }, observed: p.observed, steps: ac.shadow.steps, lr: ac.shadow.lr,
    batchSize: ac.shadow.batchSize, seed: c.seed, log: c.log, onProgress: (d, t) => a.onProgress?.(`shadow ${objective} ${p.plan.key}`, d, t),
  });
}

/** Stage 2 against one real model with one shadow. */
async function attackTarget(c: AttackContext, t: AttackTarget, { shadow, targetMap }: { shadow: ShadowModel; targetMap: number[] | null }, baselines: boolean, label: string): Promise<SuiteResult> {
  const s = c.a.split;
  const ac = c.a.attack;
  const nh = stateShapes(s.head).length;
  const defence = c.a.defence ?? [];
  // the deployed model draws its own noise; an adaptive attacker knows the defence and crafts
  // through a copy of it with draws of its own (expectation over the noise across PGD steps)
  const channel = smashedChannel(defence, Rng.fromSeed(c.seed).fork(`deployed:${label}`));
  const real: ThreePart = { head: part(s.head, t.headTail.slice(0, nh)), middle: c.middle, tail: part(s.tail, t.headTail.slice(nh)), channel };
  const shadowChannel = ac.adaptive ? smashedChannel(defence, Rng.fromSeed(c.seed).fork(`adaptive:${label}`)) : null;
  c.log(`SPADV stage 2: attacking ${t.label} (${c.evalY.length} test samples, ε ∈ {${c.epsilons.join(', ')}})`);
  try {
    return await evaluateSuite({
      real, shadow: { head: shadow.head, middle: c.middle, tail: shadow.tail, channel: shadowChannel }, randomShadow: c.randomShadow,
      labelledModels: Object.fromEntries(Object.entries(c.surrogates).map(([b, m]) => [b, m.model])),
      x: c.evalX, y: c.evalY, inputShape: s.model.inputShape, classes: c.classes, epsilons: c.epsilons, steps: ac.steps, crafts: ac.craft,
      baselines: baselines ? ac.baselines : [], seed: c.seed, momentum: ac.momentum, diversity: ac.diversity, restarts: ac.restarts, randomStart: ac.randomStart,
      stepSize: ac.stepSize ?? undefined, target: ac.target, targetMap, layer: ac.layer,
      onProgress: (d, tot, l) => c.a.onProgress?.(`${label} ${l}`, d, tot),
    });
  } finally {
    real.head.dispose();
    real.tail.dispose();
  }
}

/** perClient, aggregate and baselines describe the first objective and craft at the primary ε. */
function assembleReport(c: AttackContext, reports: readonly ObjectiveReport[]): AttackReport {
  const { a, aux } = c;
  const ac = a.attack;
  // white-box success (run with the first objective) is the yardstick for every objective
  const base = reports[0]!.targets;
  const objectives = reports.map((r) => ({ ...r, relativeToWhitebox: whiteboxRatios(r.targets, base, ac.craft, c.epsilons) }));
  const pe = primaryEpsilon(c.epsilons, ac.epsilon);
  const pm = `spadv-${ac.craft[0]!}` as const;
  const targeted = ac.target !== 'untargeted';
  const agg = summarize(base, pm, pe)!;
  const perClient = clientAttackRows(objectives[0]!, pm, pe, targeted, {
    labels: a.train.labels, partitions: a.partitions, classes: c.classes, auxClassShare: aux.classShare, headDistance: clientHeadDistances(a),
  });
  const wb = strongestWhitebox(base, pe);
  return {
    method: 'spadv', tool: null, config: ac,
    evaluation: { slice: ac.evalSlice, first: c.evaluated[0] ?? 0, count: c.evaluated.length },
    primary: { objective: reports[0]!.objective, method: pm, epsilon: pe, targeted, oracleTargetMap: targeted && (ac.targetMap.source === 'oracle' || !c.labelled) },
    perClient,
    aggregate: {
      ...agg, meanOverClients: meanOverClients(perClient),
      overClients: { asr: spread(perClient.map((r) => r.asr)), ratioToWhitebox: spread(perClient.flatMap((r) => (r.ratioToWhitebox === null ? [] : [r.ratioToWhitebox]))) },
    },
    baselines: {
      randomNoise: summarize(base, 'noise', pe), randomShadow: summarize(base, 'random-shadow-pgd', pe) ?? summarize(base, 'random-shadow-head', pe),
      transfer: summarize(base, 'transfer-pgd', pe), transferPool: summarize(base, 'transfer-pool-pgd', pe), labelledShadow: summarize(base, 'labelled-shadow-pgd', pe), whiteBox: wb,
    },
    relativeToWhitebox: wb && wb.asr > 0 ? agg.asr / wb.asr : null,
    aux: { size: aux.indices.length, classShare: aux.classShare, source: auxSource(ac, c.a.auxImages) },
    surrogate: c.surrogates.transfer ? { seconds: c.surrogates.transfer.seconds, finalLoss: c.surrogates.transfer.finalLoss } : null,
    labelledBaselines: Object.entries(c.surrogates).map(([baseline, m]) => ({ baseline: baseline as LabelledBaseline, samples: m.samples, seconds: m.seconds, finalLoss: m.finalLoss, cleanAccuracy: m.cleanAccuracy })),
    observedBytes: observedBytes(a.observed),
    observedSamples: c.plans.reduce((n, p) => n + (p.observed?.n ?? 0), 0), epsilons: c.epsilons, objectives,
  };
}

/** Each client's head distance from the mean head (evaluation only: the real heads the targets hold). */
function clientHeadDistances(a: SpadvInputs): Map<number, number> {
  const nh = stateShapes(a.split.head).length;
  const heads = new Map<number, Float32Array[]>();
  for (const t of a.targets) for (const id of t.clientIds) heads.set(id, t.headTail.slice(0, nh).map((w) => w.values));
  return headDistances(heads);
}

/** Where D_aux came from, for the report. */
function auxSource(ac: AttackConfig, images: ImageSet | undefined): string {
  if (ac.aux.source === 'dataset') return `dataset ${ac.aux.dataset?.name}${ac.aux.dataset?.dir ? ` (${ac.aux.dataset.dir})` : ''}, ${images?.count ?? 0} images, uniform draw`;
  return ac.aux.fromClient !== null ? `client ${ac.aux.fromClient}` : `dirichlet(alpha=${ac.aux.alpha})`;
}

/**
 * Runs SPADV after training: draws D_aux from the held-out pool, trains a shadow per objective from
 * what the server recorded, and evaluates it with baselines against every real client model.
 * Baselines do not depend on the shadow, so they run once, with the first objective.
 */
export async function runSpadv(a: SpadvInputs): Promise<AttackReport> {
  const c = await prepare(a);
  try {
    const objectives = a.attack.objectives ?? [a.attack.objective];
    const reports: ObjectiveReport[] = [];
    for (const [i, objective] of objectives.entries()) reports.push(await attackWithObjective(c, objective, i === 0));
    return assembleReport(c, reports);
  } finally {
    c.randomShadow.head.dispose();
    c.randomShadow.tail.dispose();
    for (const m of Object.values(c.surrogates)) for (const p of [m.model.head, m.model.tail, ...(m.ownsMiddle ? [m.model.middle] : [])]) p.dispose();
    c.middle.dispose();
  }
}
