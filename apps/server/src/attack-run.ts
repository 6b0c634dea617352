import {
  batchOrder, gather, initWeights, PartModel, Rng, type ImageSet, type SplitModel, type WeightArray,
} from '@splitfleet/splitcore';
import {
  drawAux, evaluateSuite, matchedAccuracy, shadowHeadSpec, stackObservations, trainShadow,
  type ObservedBatch, type ShadowObjective, type SuiteResult, type ThreePart,
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

export interface AttackReport {
  readonly method: 'spadv';
  readonly aux: { readonly size: number; readonly classShare: number[]; readonly source: string };
  readonly observedSamples: number;
  readonly epsilons: number[];
  readonly objectives: ObjectiveReport[];
}

function part(spec: SplitModel['head'], w: readonly WeightArray[]): PartModel {
  return new PartModel(spec, w);
}

/**
 * Runs SPADV after training: draws D_aux from the held-out pool, trains a shadow per objective from
 * what the server recorded, and evaluates it with baselines against every real client model.
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
  const auxX = gather(a.train, aux.indices).x;
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
  const reports: ObjectiveReport[] = [];
  for (const objective of objectives) {
    const t0 = performance.now();
    log(`SPADV stage 1: training the shadow (${objective}, |D_aux|=${aux.indices.length}, ${observed?.n ?? 0} observed samples)`);
    const shadow = await trainShadow({
      objective, architecture: ac.shadow.architecture, middle, headSpec: s.head, tailSpec: s.tail, classes,
      aux: { x: auxX, n: aux.indices.length }, observed, steps: ac.shadow.steps, lr: ac.shadow.lr,
      batchSize: ac.shadow.batchSize, seed, log,
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
        real, shadow: { head: shadow.head, middle, tail: shadow.tail }, randomShadow, x: ex, y: ey,
        inputShape: s.model.inputShape, classes, epsilons, steps: ac.steps, crafts: ac.craft,
        baselines: ac.baselines, seed, momentum: ac.momentum, onProgress: (d, tot, l) => a.onProgress?.(`${objective} ${t.label} ${l}`, d, tot),
      });
      real.head.dispose();
      real.tail.dispose();
      targets.push({ label: t.label, clientIds: t.clientIds, suite });
    }
    shadow.dispose();
    const rel: ObjectiveReport['relativeToWhitebox'] = [];
    for (const craft of ac.craft)
      for (const eps of epsilons) {
        const mean = (m: string) => avg(targets.map((t) => t.suite.cells.find((c) => c.method === m && c.epsilon === eps)?.successRate ?? NaN));
        const wb = mean('whitebox-pgd');
        rel.push({ method: `spadv-${craft}`, epsilon: eps, ratio: wb > 0 ? mean(`spadv-${craft}`) / wb : null });
      }
    reports.push({ objective, shadowSeconds, shadowFinalLoss: shadow.finalLoss, labelInferenceAccuracy: lia, targets, relativeToWhitebox: rel });
  }
  randomShadow.head.dispose();
  randomShadow.tail.dispose();
  middle.dispose();
  return {
    method: 'spadv',
    aux: { size: aux.indices.length, classShare: aux.classShare, source: ac.aux.fromClient !== null ? `client ${ac.aux.fromClient}` : `dirichlet(alpha=${ac.aux.alpha})` },
    observedSamples: observed?.n ?? 0, epsilons, objectives: reports,
  };
}

function avg(v: number[]): number {
  const ok = v.filter((x) => Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN;
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
