import { bootstrapIntervals, frequencies, hellinger, labelCounts, type BootstrapInterval } from '@splitfleet/splitcore';
import type { CraftMethod } from '../config.ts';
import { reweight } from '../evaluate.ts';
import type { AttackCell, AttackMethodName } from '../suite-result.ts';
import type { AttackReport, ClientAttackRow, MetricSummary, ObjectiveReport } from './report.ts';

/** Pure summaries of the evaluation cells: what perClient, aggregate, baselines and ratios report. */

/** The ε that perClient/aggregate report: the configured one, or the closest in the grid. */
export function primaryEpsilon(epsilons: readonly number[], eps: number): number {
  return epsilons.reduce((b, e) => (Math.abs(e - eps) < Math.abs(b - eps) ? e : b), epsilons[0]!);
}

/** A method's cells at ε over all targets, weighted by how many clients hold each target. */
export function summarize(targets: ObjectiveReport['targets'], method: AttackMethodName, eps: number): MetricSummary | null {
  const found = targets.flatMap((t) => t.suite.cells.filter((c) => c.method === method && c.epsilon === eps).map((c) => ({ c, w: Math.max(1, t.clientIds.length) })));
  if (!found.length) return null;
  const W = found.reduce((s, f) => s + f.w, 0);
  const mean = (f: (c: AttackCell) => number) => found.reduce((s, x) => s + x.w * f(x.c), 0) / W;
  return {
    method, epsilon: eps, cleanAccuracy: mean((c) => c.cleanAccuracy), robustAccuracy: mean((c) => c.robustAccuracy), asr: mean((c) => c.successRate), asrAll: mean((c) => c.successRateAll),
    targetedSuccess: found[0]!.c.targetedSuccess === null ? null : mean((c) => c.targetedSuccess ?? 0),
    linfMean: mean((c) => c.linfMean), linfMax: Math.max(...found.map((f) => f.c.linfMax)), l2Mean: mean((c) => c.l2Mean),
    l2Max: Math.max(...found.map((f) => f.c.l2Max)), seconds: found.reduce((s, f) => s + f.c.seconds, 0), queriesPerSample: found[0]!.c.queriesPerSample,
  };
}

/** The white-box yardstick, strongest first: the per-sample worst case over the components when it ran, else PGD. */
export const WHITEBOX_YARDSTICK = ['whitebox-worst', 'whitebox-pgd'] as const satisfies readonly AttackMethodName[];

/** The white-box yardstick at ε over the targets (WHITEBOX_YARDSTICK's first method that ran). */
export function strongestWhitebox(targets: ObjectiveReport['targets'], eps: number): MetricSummary | null {
  for (const m of WHITEBOX_YARDSTICK) {
    const found = summarize(targets, m, eps);
    if (found) return found;
  }
  return null;
}

/** SPADV success ÷ white-box success per craft and ε; white-box (run once, with the first objective) is the yardstick. */
export function whiteboxRatios(
  targets: ObjectiveReport['targets'], whiteboxTargets: ObjectiveReport['targets'], crafts: readonly CraftMethod[], epsilons: readonly number[],
): ObjectiveReport['relativeToWhitebox'] {
  return crafts.flatMap((craft) => epsilons.map((eps) => {
    const sp = summarize(targets, `spadv-${craft}`, eps);
    const wb = strongestWhitebox(whiteboxTargets, eps);
    return { method: `spadv-${craft}` as const, epsilon: eps, ratio: sp && wb && wb.asr > 0 ? sp.asr / wb.asr : null };
  }));
}

/** Who the per-client rows describe: each client's training labels and D_aux's class shares. */
export interface ClientPopulation {
  readonly labels: ArrayLike<number>;
  /** Training indices per client id. */
  readonly partitions: readonly (readonly number[])[];
  readonly classes: number;
  readonly auxClassShare: readonly number[];
  /** Relative distance of each client's head from the clients' mean head (headDistances). */
  readonly headDistance?: ReadonlyMap<number, number>;
}

/**
 * One row per client: the cell of `method` at ε against the model that client holds, with the
 * shadow the attacker used for that client, re-weighted to the client's own label distribution
 * (what that client's users meet); the ratio divides by the same re-weighting of the strongest
 * white-box cell against the same real model.
 */
export function clientAttackRows(o: ObjectiveReport, method: AttackMethodName, eps: number, targeted: boolean, pop: ClientPopulation): ClientAttackRow[] {
  const whitebox = (label: string) => {
    const cells = o.targets.filter((t) => t.label === label).flatMap((t) => t.suite.cells.filter((c) => c.epsilon === eps));
    for (const m of WHITEBOX_YARDSTICK) {
      const found = cells.find((c) => c.method === m);
      if (found) return found;
    }
    return null;
  };
  return o.targets.flatMap((t) => {
    const cell = t.suite.cells.find((c) => c.method === method && c.epsilon === eps)!;
    const shadow = o.shadows.find((s) => s.key === t.shadow);
    const wbCell = whitebox(t.label);
    return t.clientIds.map((id) => {
      const share = frequencies(labelCounts(pop.labels, pop.partitions[id] ?? [], pop.classes));
      const w = reweight(cell.perClass, share, targeted);
      const wb = wbCell ? reweight(wbCell.perClass, share, targeted).asr : null;
      return {
        id, target: t.label, samples: pop.partitions[id]?.length ?? 0, hellingerToAux: pop.auxClassShare.length ? hellinger(share, pop.auxClassShare) : null,
        cleanAccuracy: w.cleanAccuracy, robustAccuracy: w.robustAccuracy, asr: w.asr, targetedSuccess: w.targetedSuccess,
        linfMax: w.linfMax, l2Mean: w.l2Mean,
        shadow: t.shadow, scope: shadow?.scope ?? 'fleet', fallback: shadow?.fallbackIds.includes(id) ?? false, shadowAgreement: t.suite.shadow.agreement,
        labelInferenceAccuracy: shadow?.labelInferenceAccuracy ?? null, whiteboxAsr: wb, ratioToWhitebox: wb ? w.asr / wb : null,
        headDistance: pop.headDistance?.get(id) ?? null,
      };
    });
  });
}

/** Min, median and max of a list (null when empty). */
export function spread(values: readonly number[]): { min: number; median: number; max: number } | null {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return { min: v[0]!, median: v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, max: v[v.length - 1]! };
}

/**
 * Each client's head distance from the clients' mean head: ‖h_i − h̄‖ / ‖h̄‖ over the head's
 * parameters (0 for every client where all hold the same head, as in splitfed).
 */
export function headDistances(heads: ReadonlyMap<number, readonly Float32Array[]>): Map<number, number> {
  const ids = [...heads.keys()];
  const out = new Map<number, number>();
  if (!ids.length) return out;
  const first = heads.get(ids[0]!)!;
  const mean = first.map((a) => new Float64Array(a.length));
  for (const id of ids) heads.get(id)!.forEach((a, k) => a.forEach((v, j) => (mean[k]![j]! += v / ids.length)));
  const norm = Math.sqrt(mean.reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0)) || 1;
  for (const id of ids) {
    const d = heads.get(id)!.reduce((s, a, k) => s + a.reduce((t, v, j) => t + (v - mean[k]![j]!) ** 2, 0), 0);
    out.set(id, Math.sqrt(d) / norm);
  }
  return out;
}

/** Unweighted means of the per-client rows; null without rows. */
export function meanOverClients(rows: readonly ClientAttackRow[]): { cleanAccuracy: number | null; robustAccuracy: number | null; asr: number | null } {
  const meanOf = (f: (r: ClientAttackRow) => number) => (rows.length ? rows.reduce((sum, r) => sum + f(r), 0) / rows.length : null);
  return { cleanAccuracy: meanOf((r) => r.cleanAccuracy), robustAccuracy: meanOf((r) => r.robustAccuracy), asr: meanOf((r) => r.asr) };
}

/**
 * One attack's per-image outcomes over a report's targets, as rows [w·fooled by `method`, w·attacked,
 * w·fooled by the white-box yardstick, w] for a paired bootstrap (splitcore bootstrap.ts): one row
 * per target and image, w = the clients that target serves. Weights scale a row rather than repeat
 * it — repeated rows would count one image as many independent draws and shrink the interval.
 * Baselines live in the first objective's suites. null when no target recorded outcomes (reports
 * written before they existed).
 */
export function imageOutcomeRows(a: AttackReport, objective: number, method: AttackMethodName, eps: number): number[][] | null {
  const rows: number[][] = [];
  const targets = a.objectives[objective]?.targets ?? [];
  const yardTargets = a.objectives[0]?.targets ?? [];
  const find = (cells: readonly AttackCell[], m: AttackMethodName) => cells.find((c) => c.method === m && c.epsilon === eps) ?? null;
  for (const [i, t] of targets.entries()) {
    const cell = find(t.suite.cells, method);
    if (!cell?.outcomes) continue;
    const yardCells = yardTargets[i]?.label === t.label ? yardTargets[i]!.suite.cells : [];
    const yard = WHITEBOX_YARDSTICK.map((m) => find(yardCells, m)).find((c) => c?.outcomes) ?? null;
    const w = Math.max(1, t.clientIds.length);
    for (let j = 0; j < cell.outcomes.length; j++)
      rows.push([cell.outcomes[j] === '1' ? w : 0, cell.outcomes[j] === '-' ? 0 : w, yard?.outcomes[j] === '1' ? w : 0, w]);
  }
  return rows.length ? rows : null;
}

/** Statistics of imageOutcomeRows' column means (weighted sums over the mean weight c[3]): what studies and reports put intervals on. */
export const IMAGE_STATISTICS = {
  /** ASR over the correctly classified images. */
  asr: (c: readonly number[]) => c[0]! / c[1]!,
  /** Over all evaluated images, misclassified clean counting as lost (untargeted reading). */
  asrAll: (c: readonly number[]) => (c[3]! - c[1]! + c[0]!) / c[3]!,
  robustAccuracy: (c: readonly number[]) => (c[1]! - c[0]!) / c[3]!,
  /** ÷ the yardstick's ASR on the same images. */
  ratioToWhitebox: (c: readonly number[]) => c[0]! / c[2]!,
};

/**
 * The primary attack's figures with 95 % intervals over one run's evaluated images (one run: image
 * noise only) — what a run's report and `compare` print; null for reports without per-image outcomes.
 */
export function primaryIntervals(a: AttackReport): Record<keyof typeof IMAGE_STATISTICS, BootstrapInterval | null> | null {
  const rows = imageOutcomeRows(a, 0, a.primary.method, a.primary.epsilon);
  return rows ? bootstrapIntervals([rows], IMAGE_STATISTICS, { seed: 0 }) : null;
}

/** One method at one ε (over every target of its objective) with 95 % intervals over the evaluated images. */
export interface CellInterval {
  readonly objective: string;
  readonly method: AttackMethodName;
  readonly epsilon: number;
  readonly asr: BootstrapInterval;
  readonly robustAccuracy: BootstrapInterval;
}

/**
 * Every method × ε of every objective with intervals over this run's images (one run: image noise
 * only), for report.html's robust-accuracy-vs-ε chart. Baselines appear once, with the first
 * objective; cells without per-image outcomes are left out.
 */
export function cellIntervals(a: AttackReport): CellInterval[] {
  const out: CellInterval[] = [];
  for (const [k, o] of a.objectives.entries()) {
    const cells = o.targets[0]?.suite.cells ?? [];
    for (const c of cells) {
      const rows = imageOutcomeRows(a, k, c.method, c.epsilon);
      if (!rows || !rows.some((r) => r[1]! > 0)) continue;
      const iv = bootstrapIntervals([rows], { asr: IMAGE_STATISTICS.asr, robustAccuracy: IMAGE_STATISTICS.robustAccuracy }, { seed: 0 });
      if (iv.asr && iv.robustAccuracy) out.push({ objective: o.objective, method: c.method, epsilon: c.epsilon, asr: iv.asr, robustAccuracy: iv.robustAccuracy });
    }
  }
  return out;
}
