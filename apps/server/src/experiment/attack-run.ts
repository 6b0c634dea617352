import {
  batchOrder, frequencies, gather, hellinger, initWeights, labelCounts, PartModel, Rng,
  type ImageSet, type SplitModel, type WeightArray,
} from '@splitfleet/splitcore';
import {
  drawAux, evaluateSuite, matchedAccuracy, reweight, shadowHeadSpec, stackObservations, trainShadow, trainSurrogate,
  type AttackCell, type ObservedBatch, type ShadowObjective, type SuiteResult, type ThreePart,
} from '@splitfleet/attack';
import type { Config } from './config.ts';

/** A real client model to attack: its head and tail (evaluation only) and who holds it. */
export interface AttackTarget {
  readonly label: string;
  readonly clientIds: number[];
  readonly headTail: WeightArray[];
}

export interface AttackInputs {
  readonly cfg: Config;
  readonly split: SplitModel;
  readonly train: ImageSet;
  readonly test: ImageSet;
  readonly heldOut: readonly number[];
  readonly middle: WeightArray[];
  readonly observed: readonly ObservedBatch[];
  readonly targets: readonly AttackTarget[];
  /** Training indices per client id (evaluation only: label-inference accuracy). */
  readonly partitions: readonly (readonly number[])[];
  readonly log?: (line: string) => void;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

export interface ObjectiveReport {
  readonly objective: ShadowObjective;
  readonly shadowSeconds: number;
  readonly shadowFinalLoss: number;
  /** For 'observe': accuracy of the labels inferred from gradients, after the best relabelling. */
  readonly labelInferenceAccuracy: number | null;
  readonly targets: { readonly label: string; readonly clientIds: number[]; readonly suite: SuiteResult }[];
  /** SPADV success / white-box success per craft method and ε, averaged over targets. */
  readonly relativeToWhitebox: { readonly method: string; readonly epsilon: number; readonly ratio: number | null }[];
}

/** One attack's metrics at one ε, over the (unweighted) evaluation set, averaged over target models. */
export type MetricSummary = Omit<AttackCell, 'method' | 'successRate' | 'perClass' | 'evaluated' | 'targeted'> & {
  readonly method: string;
  /** = AttackCell.successRate, under the name results.json uses. */
  readonly asr: number;
};

/** The primary attack against one client's real model, re-weighted to that client's label distribution. */
export interface ClientAttackRow {
  readonly id: number;
  readonly target: string;
  readonly samples: number;
  /** Hellinger distance between this client's label distribution and D_aux's. */
  readonly hellingerToAux: number;
  readonly cleanAccuracy: number;
  readonly robustAccuracy: number;
  readonly asr: number;
  readonly targetedSuccess: number | null;
  readonly linfMax: number;
  readonly l2Mean: number;
}

export interface AttackReport {
  readonly method: 'spadv';
  /** The attack section of the config used. */
  readonly config: Config['attack'];
  /** What perClient/aggregate describe: the first objective and craft at the configured ε. */
  readonly primary: { readonly objective: ShadowObjective; readonly method: string; readonly epsilon: number; readonly targeted: boolean };
  readonly perClient: ClientAttackRow[];
  readonly aggregate: MetricSummary & { readonly meanOverClients: { readonly cleanAccuracy: number; readonly robustAccuracy: number; readonly asr: number } };
  /** Same budget, same samples. whiteBox is the upper bound; transfer's attacker holds labels (stronger than SPADV's). */
  readonly baselines: { readonly randomNoise: MetricSummary | null; readonly randomShadow: MetricSummary | null; readonly transfer: MetricSummary | null; readonly whiteBox: MetricSummary | null };
  /** Primary SPADV success / white-box success. */
  readonly relativeToWhitebox: number | null;
  readonly aux: { readonly size: number; readonly classShare: number[]; readonly source: string };
  readonly surrogate: { readonly seconds: number; readonly finalLoss: number } | null;
  readonly observedSamples: number;
  readonly epsilons: number[];
  readonly objectives: ObjectiveReport[];
}

function part(spec: SplitModel['head'], w: readonly WeightArray[]): PartModel {
  return new PartModel(spec, w);
}

/** The ε that perClient/aggregate report: the configured one, or the closest in the grid. */
function primaryEpsilon(epsilons: readonly number[], eps: number): number {
  return epsilons.reduce((b, e) => (Math.abs(e - eps) < Math.abs(b - eps) ? e : b), epsilons[0]!);
}

/** A method's cells at ε over all targets, weighted by how many clients hold each target. */
function summarize(targets: ObjectiveReport['targets'], method: string, eps: number): MetricSummary | null {
  const found = targets.flatMap((t) => t.suite.cells.filter((c) => c.method === method && c.epsilon === eps).map((c) => ({ c, w: Math.max(1, t.clientIds.length) })));
  if (!found.length) return null;
  const W = found.reduce((s, f) => s + f.w, 0);
  const mean = (f: (c: AttackCell) => number) => found.reduce((s, x) => s + x.w * f(x.c), 0) / W;
  return {
    method, epsilon: eps, cleanAccuracy: mean((c) => c.cleanAccuracy), robustAccuracy: mean((c) => c.robustAccuracy), asr: mean((c) => c.successRate),
    targetedSuccess: found[0]!.c.targetedSuccess === null ? null : mean((c) => c.targetedSuccess ?? 0),
    linfMean: mean((c) => c.linfMean), linfMax: Math.max(...found.map((f) => f.c.linfMax)), l2Mean: mean((c) => c.l2Mean),
    l2Max: Math.max(...found.map((f) => f.c.l2Max)), seconds: found.reduce((s, f) => s + f.c.seconds, 0), queriesPerSample: found[0]!.c.queriesPerSample,
  };
}

/**
 * Runs SPADV after training: draws D_aux from the held-out pool, trains a shadow per objective from
 * what the server recorded, and evaluates it with baselines against every real client model.
 * Baselines do not depend on the shadow, so they run once, with the first objective.
 */
export async function runSpadv(a: AttackInputs): Promise<AttackReport> {
  const { cfg, split: s } = a;
  const ac = cfg.attack;
  const log = a.log ?? (() => {});
  const seed = ac.aux.seed ?? cfg.seed + 1;
  const classes = s.model.classes;
  const dist = ac.aux.fromClient !== null
    ? { proportions: labelShares(a.partitions[ac.aux.fromClient] ?? [], a.train, classes) }
    : { alpha: ac.aux.alpha ?? 0.5 };
  const aux = drawAux(a.heldOut, a.train.labels, ac.aux.size, classes, seed, dist);
  const auxSet = gather(a.train, aux.indices);
  const middle = part(s.middle, a.middle);
  const observed = a.observed.length ? stackObservations(a.observed) : null;
  const trueObserved = observedLabels(a);
  const nEval = Math.min(ac.evalSamples, a.test.count);
  const evalIdx = Array.from({ length: nEval }, (_, i) => i);
  const { x: ex, y: ey } = gather(a.test, evalIdx);
  const epsilons = ac.epsilons ?? [ac.epsilon];
  const objectives = ac.objectives ?? [ac.objective];
  const rnd = Rng.fromSeed(seed).fork('random-shadow');
  const rHead = shadowHeadSpec(s.head, ac.shadow.architecture);
  const randomShadow: ThreePart = { head: part(rHead, initWeights(rHead.params, rnd.fork('h'))), middle, tail: part(s.tail, initWeights(s.tail.params, rnd.fork('t'))) };
  let surrogate: { parts: [PartModel, PartModel, PartModel]; finalLoss: number; seconds: number } | null = null;
  if (ac.baselines.includes('transfer')) {
    const t0 = performance.now();
    log(`transfer baseline: training a surrogate on the labelled D_aux (${aux.indices.length} samples, ${ac.surrogate.steps} steps)`);
    const sur = await trainSurrogate({
      specs: [s.head, s.middle, s.tail], classes, aux: { x: auxSet.x, n: aux.indices.length, labels: auxSet.y },
      steps: ac.surrogate.steps, lr: ac.surrogate.lr, batchSize: ac.surrogate.batchSize, seed,
    });
    surrogate = { ...sur, seconds: (performance.now() - t0) / 1000 };
  }
  const reports: ObjectiveReport[] = [];
  for (const [oi, objective] of objectives.entries()) {
    const t0 = performance.now();
    log(`SPADV stage 1: training the shadow (${objective}, |D_aux|=${aux.indices.length}, ${observed?.n ?? 0} observed samples)`);
    const shadow = await trainShadow({
      objective, architecture: ac.shadow.architecture, middle, headSpec: s.head, tailSpec: s.tail, classes,
      aux: { x: auxSet.x, n: aux.indices.length }, observed, steps: ac.shadow.steps, lr: ac.shadow.lr,
      batchSize: ac.shadow.batchSize, seed, log, onProgress: (d, t) => a.onProgress?.(`shadow ${objective}`, d, t),
    });
    const shadowSeconds = (performance.now() - t0) / 1000;
    const lia = shadow.inferredLabels && trueObserved ? matchedAccuracy(shadow.inferredLabels, trueObserved, classes).accuracy : null;
    if (lia !== null) log(`label inference from gradients: ${(100 * lia).toFixed(1)}% (after the best relabelling)`);
    const targets: ObjectiveReport['targets'] = [];
    for (const t of a.targets) {
      const nh = s.head.params.length;
      const real: ThreePart = { head: part(s.head, t.headTail.slice(0, nh)), middle, tail: part(s.tail, t.headTail.slice(nh)) };
      log(`SPADV stage 2: attacking ${t.label} (${nEval} test samples, ε ∈ {${epsilons.join(', ')}})`);
      const suite = await evaluateSuite({
        real, shadow: { head: shadow.head, middle, tail: shadow.tail }, randomShadow,
        surrogate: surrogate ? { head: surrogate.parts[0], middle: surrogate.parts[1], tail: surrogate.parts[2] } : null,
        x: ex, y: ey, inputShape: s.model.inputShape, classes, epsilons, steps: ac.steps, crafts: ac.craft,
        baselines: oi === 0 ? ac.baselines : [], seed, momentum: ac.momentum, restarts: ac.restarts, randomStart: ac.randomStart,
        stepSize: ac.stepSize ?? undefined, target: ac.target, layer: ac.layer,
        onProgress: (d, tot, l) => a.onProgress?.(`${objective} ${t.label} ${l}`, d, tot),
      });
      real.head.dispose();
      real.tail.dispose();
      targets.push({ label: t.label, clientIds: t.clientIds, suite });
    }
    shadow.dispose();
    reports.push({ objective, shadowSeconds, shadowFinalLoss: shadow.finalLoss, labelInferenceAccuracy: lia, targets, relativeToWhitebox: [] });
  }
  // white-box success (run with the first objective) is the yardstick for every objective
  const base = reports[0]!.targets;
  const withRatios = reports.map((r) => ({
    ...r,
    relativeToWhitebox: ac.craft.flatMap((craft) => epsilons.map((eps) => {
      const sp = summarize(r.targets, `spadv-${craft}`, eps);
      const wb = summarize(base, 'whitebox-pgd', eps);
      return { method: `spadv-${craft}`, epsilon: eps, ratio: sp && wb && wb.asr > 0 ? sp.asr / wb.asr : null };
    })),
  }));
  const pe = primaryEpsilon(epsilons, ac.epsilon);
  const pm = `spadv-${ac.craft[0]}`;
  const primaryTargets = withRatios[0]!.targets;
  const agg = summarize(primaryTargets, pm, pe)!;
  const targeted = ac.target !== 'untargeted';
  const perClient: ClientAttackRow[] = primaryTargets.flatMap((t) => {
    const cell = t.suite.cells.find((c) => c.method === pm && c.epsilon === pe)!;
    return t.clientIds.map((id) => {
      const counts = labelCounts(a.train.labels, a.partitions[id] ?? [], classes);
      const w = reweight(cell.perClass, frequencies(counts), targeted);
      return {
        id, target: t.label, samples: a.partitions[id]?.length ?? 0, hellingerToAux: hellinger(frequencies(counts), aux.classShare),
        cleanAccuracy: w.cleanAccuracy, robustAccuracy: w.robustAccuracy, asr: w.asr, targetedSuccess: w.targetedSuccess,
        linfMax: cell.linfMax, l2Mean: cell.l2Mean,
      };
    });
  });
  const meanOf = (f: (r: ClientAttackRow) => number) => (perClient.length ? perClient.reduce((sum, r) => sum + f(r), 0) / perClient.length : NaN);
  const wb = summarize(primaryTargets, 'whitebox-pgd', pe);
  randomShadow.head.dispose();
  randomShadow.tail.dispose();
  surrogate?.parts.forEach((p) => p.dispose());
  middle.dispose();
  return {
    method: 'spadv', config: ac,
    primary: { objective: objectives[0]!, method: pm, epsilon: pe, targeted },
    perClient,
    aggregate: { ...agg, meanOverClients: { cleanAccuracy: meanOf((r) => r.cleanAccuracy), robustAccuracy: meanOf((r) => r.robustAccuracy), asr: meanOf((r) => r.asr) } },
    baselines: {
      randomNoise: summarize(primaryTargets, 'noise', pe), randomShadow: summarize(primaryTargets, 'random-shadow-pgd', pe),
      transfer: summarize(primaryTargets, 'transfer-pgd', pe), whiteBox: wb,
    },
    relativeToWhitebox: wb && wb.asr > 0 ? agg.asr / wb.asr : null,
    aux: { size: aux.indices.length, classShare: aux.classShare, source: ac.aux.fromClient !== null ? `client ${ac.aux.fromClient}` : `dirichlet(alpha=${ac.aux.alpha})` },
    surrogate: surrogate ? { seconds: surrogate.seconds, finalLoss: surrogate.finalLoss } : null,
    observedSamples: observed?.n ?? 0, epsilons, objectives: withRatios,
  };
}

function labelShares(idx: readonly number[], set: ImageSet, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const i of idx) c[set.labels[i]!]!++;
  return c.map((v) => v + 1e-3);
}

/** Evaluation only: the true labels of the batches the server observed, rebuilt from the schedule. */
function observedLabels(a: AttackInputs): Int32Array | null {
  if (!a.observed.length) return null;
  const out: number[] = [];
  const bs = a.cfg.training.batchSize;
  for (const b of a.observed) {
    const order = batchOrder(a.cfg.seed, b.clientId, b.round, a.partitions[b.clientId] ?? []);
    for (const i of order.slice(b.step * bs, b.step * bs + b.batch)) out.push(a.train.labels[i]!);
  }
  return out.length === a.observed.reduce((s, b) => s + b.batch, 0) ? Int32Array.from(out) : null;
}
