import { bootstrapIntervals, formatBootstrap, formatInterval, formatPercentInterval, seedInterval, type BootstrapInterval, type RunRows, type SeedInterval } from '@splitfleet/splitcore';
import { IMAGE_STATISTICS, imageOutcomeRows, type AttackMethodName } from '@splitfleet/attack';
import type { RunResults } from '../experiment/results.ts';
import type { SweepPoint } from './sweep.ts';
import { defenceTargetMarkdown } from './defence-table.ts';

/**
 * Pools a study's runs per grid point: every seed of a point is one run, and each figure gets a 95 %
 * interval from the two-level paired bootstrap over runs and evaluated images (splitcore
 * bootstrap.ts). Methods are paired image by image — every method of a run attacked the same images —
 * so SPADV ÷ white-box is resampled as one statistic, not as a ratio of two separate intervals.
 * Clean accuracy and label inference are one number per run: t-intervals over runs.
 */
export interface PooledRow {
  /** The grid point (seed keys left out). */
  readonly settings: Record<string, unknown>;
  /** The shadow objective for SPADV crafts; null for baselines (they do not depend on the shadow). */
  readonly objective: string | null;
  readonly epsilon: number;
  readonly method: string;
  /** Runs pooled (seed combinations), distinct training seeds among them, images evaluated over all. */
  readonly runs: number;
  readonly trainingRuns: number;
  readonly images: number;
  readonly cleanAccuracy: SeedInterval | null;
  /** Over the correctly classified images. */
  readonly asr: BootstrapInterval | null;
  /** Over all evaluated images (misclassified clean counts as lost). */
  readonly asrAll: BootstrapInterval | null;
  readonly robustAccuracy: BootstrapInterval | null;
  /** ASR ÷ the white-box yardstick's ASR on the same images (SPADV crafts only). */
  readonly ratioToWhitebox: BootstrapInterval | null;
  readonly labelInference: SeedInterval | null;
  /** The smashed data's privacy proxy, dCor(test inputs, smashed data sent) (results.privacy): t-interval over training runs. */
  readonly privacy: SeedInterval | null;
  /** Megabytes on the wire per round, all clients, up and down: t-interval over training runs (what a defence adds or saves). */
  readonly megabytesPerRound: SeedInterval | null;
  /** Forward/backward round trips per round, all clients (messages ÷ 4): t-interval over training runs; null for results without message counts. */
  readonly roundTripsPerRound: SeedInterval | null;
}

/** One number per training run (attacker seeds share a training run), as a t-interval over them. */
function perTrainingRun(runs: readonly RunResults[], f: (r: RunResults) => number | null | undefined): SeedInterval | null {
  const bySeed = new Map(runs.map((r) => [r.seed, f(r)]));
  const v = [...bySeed.values()].filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? seedInterval(v) : null;
}

function megabytesPerRound(r: RunResults): number | null {
  if (!r.rounds.length) return null;
  const bytes = r.rounds.reduce((s, round) => s + round.clients.reduce((t, c) => t + c.bytesUp + c.bytesDown, 0), 0);
  return bytes / r.rounds.length / 2 ** 20;
}

function roundTripsPerRound(r: RunResults): number | null {
  const clients = r.rounds.flatMap((round) => round.clients);
  if (!r.rounds.length || clients.some((c) => c.messages === undefined)) return null;
  return clients.reduce((s, c) => s + c.messages! / 4, 0) / r.rounds.length;
}

/** What each run of a group evaluated: (objective index, objective, method, ε) keys present in any run. */
type MethodKey = { objective: number; name: string | null; method: AttackMethodName; eps: number };
function methodKeys(runs: readonly RunResults[]): MethodKey[] {
  const seen = new Map<string, MethodKey>();
  for (const r of runs)
    r.attack?.objectives.forEach((o, oi) => {
      for (const c of o.targets[0]?.suite.cells ?? []) {
        const spadv = c.method.startsWith('spadv-');
        if (!spadv && oi > 0) continue; // baselines run with the first objective only
        const key = `${spadv ? o.objective : '-'}|${c.method}|${c.epsilon}`;
        if (!seen.has(key)) seen.set(key, { objective: oi, name: spadv ? o.objective : null, method: c.method, eps: c.epsilon });
      }
    });
  return [...seen.values()];
}

export function poolStudy(points: readonly SweepPoint[], results: ReadonlyMap<string, RunResults>, seed = 0): PooledRow[] {
  const groups = new Map<string, SweepPoint[]>();
  for (const p of points) if (results.has(p.id)) groups.set(p.group, [...(groups.get(p.group) ?? []), p]);
  const out: PooledRow[] = [];
  for (const members of groups.values()) {
    const runs = members.map((p) => results.get(p.id)!);
    // the group is the grid point's own settings, without the seeds pooled over
    const settings = JSON.parse(members[0]!.group) as Record<string, unknown>;
    const trainingRuns = new Set(runs.map((r) => r.seed)).size;
    const perRun = { cleanAccuracy: perTrainingRun(runs, (r) => r.final?.testAccuracy), privacy: perTrainingRun(runs, (r) => r.privacy?.distanceCorrelation), megabytesPerRound: perTrainingRun(runs, megabytesPerRound), roundTripsPerRound: perTrainingRun(runs, roundTripsPerRound) };
    for (const k of methodKeys(runs)) {
      const rows: RunRows[] = runs.flatMap((r) => {
        const v = r.attack ? imageOutcomeRows(r.attack, k.objective, k.method, k.eps) : null;
        return v ? [v] : [];
      });
      const lia = runs.flatMap((r) => { const v = r.attack?.objectives[k.objective]?.labelInferenceAccuracy; return k.name && typeof v === 'number' ? [v] : []; });
      const iv = rows.length ? bootstrapIntervals(rows, IMAGE_STATISTICS, { seed }) : null;
      out.push({
        settings, objective: k.name, epsilon: k.eps, method: k.method, runs: rows.length, trainingRuns,
        images: rows.reduce((n, r) => n + r.length, 0), ...perRun,
        asr: iv?.asr ?? null, asrAll: iv?.asrAll ?? null, robustAccuracy: iv?.robustAccuracy ?? null,
        ratioToWhitebox: k.name ? (iv?.ratioToWhitebox ?? null) : null, labelInference: lia.length ? seedInterval(lia) : null,
      });
    }
  }
  return out;
}

const pmSeeds = (i: SeedInterval | null) => (i ? formatPercentInterval(i) : '–');

/** Summary columns: SPADV first, then the white-box yardstick and its parts, then the black-box attackers, strongest capability first. */
const METHOD_ORDER = ['spadv', 'whitebox-worst', 'whitebox-pgd', 'whitebox-cw', 'whitebox-apgd', 'labelled-shadow', 'transfer-pool', 'transfer-pgd', 'random-shadow', 'noise'];
const methodRank = (m: string) => {
  const i = METHOD_ORDER.findIndex((p) => m.startsWith(p));
  return i < 0 ? METHOD_ORDER.length : i;
};

const settingText = (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * The answer first: per ε, one line per grid point with its clean accuracy, SPADV's success and
 * ÷ white-box, and every baseline's success side by side (ASR over the correctly classified images).
 */
export function summaryMarkdown(rows: readonly PooledRow[]): string {
  if (!rows.length) return '';
  const keys = Object.keys(rows[0]!.settings);
  const label = (r: PooledRow) => (r.objective ? `${r.method} (${r.objective})` : r.method);
  const methods = [...new Set(rows.map(label))].sort((a, b) => methodRank(a) - methodRank(b));
  const spadv = methods.filter((m) => m.startsWith('spadv'));
  const points = [...new Map(rows.map((r) => [JSON.stringify(r.settings), r.settings])).entries()];
  return [...new Set(rows.map((r) => r.epsilon))].map((eps) => {
    const extra = rows.some((r) => r.privacy) ? ['dCor(x, z sent)', 'MB per round', 'round trips per round'] : [];
    // label inference from the returned gradients (SPADV's observe objective): what gradient defences act on
    const inference = rows.some((r) => r.labelInference) ? ['label inference'] : [];
    const head = [...keys, 'runs', 'clean accuracy', ...methods, ...spadv.map((m) => `${m} ÷ white-box`), ...inference, ...extra];
    const lines = points.map(([id, settings]) => {
      const at = (m: string) => rows.find((r) => r.epsilon === eps && JSON.stringify(r.settings) === id && label(r) === m) ?? null;
      const any = rows.find((r) => JSON.stringify(r.settings) === id)!;
      return `| ${[...keys.map((k) => settingText(settings[k])), String(any.runs), pmSeeds(any.cleanAccuracy),
        ...methods.map((m) => formatBootstrap(at(m)?.asr, 'percent')), ...spadv.map((m) => formatBootstrap(at(m)?.ratioToWhitebox, 'ratio')),
        ...(inference.length ? [pmSeeds(rows.find((r) => JSON.stringify(r.settings) === id && r.labelInference)?.labelInference ?? null)] : []),
        ...(extra.length ? [any.privacy ? formatInterval(any.privacy, '', 3) : '–', any.megabytesPerRound ? formatInterval(any.megabytesPerRound, '', 1) : '–',
          any.roundTripsPerRound ? formatInterval(any.roundTripsPerRound, '', 0) : '–'] : [])].join(' | ')} |`;
    });
    return [`### ε = ${eps}: attack success over the correctly classified images`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines, ''].join('\n');
  }).join('\n');
}

/** The pooled table: one line per grid point × objective × ε × method, figures as `estimate ± half width`. */
export function pooledMarkdown(rows: readonly PooledRow[]): string {
  if (!rows.length) return 'no finished points\n';
  const keys = Object.keys(rows[0]!.settings);
  const head = [...keys, 'objective', 'ε', 'method', 'runs', 'clean accuracy', 'ASR (correct)', 'ASR (all)', 'robust accuracy', '÷ white-box', 'label inference'];
  const cell = settingText;
  return [
    summaryMarkdown(rows),
    defenceTargetMarkdown(rows),
    '### Every figure',
    '',
    `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${[...keys.map((k) => cell(r.settings[k])), r.objective ?? '–', r.epsilon, r.method, `${r.runs} (${r.trainingRuns} trained, ${r.images} images)`,
      pmSeeds(r.cleanAccuracy), formatBootstrap(r.asr, 'percent'), formatBootstrap(r.asrAll, 'percent'), formatBootstrap(r.robustAccuracy, 'percent'), formatBootstrap(r.ratioToWhitebox, 'ratio'), pmSeeds(r.labelInference)].join(' | ')} |`),
    '',
    'Intervals: 95 %, two-level paired bootstrap over runs and evaluated images (estimate ± half the interval\'s width; bounds in study.json); clean accuracy and label inference: t-interval over training runs. ASR (correct): over the images the real model classifies correctly; ASR (all): over all evaluated images.',
  ].join('\n') + '\n';
}
