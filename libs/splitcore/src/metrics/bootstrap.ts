import { Rng } from '../rng/rng.ts';

/**
 * Uncertainty of a figure measured on evaluated images of a few independent runs (seeds), by a
 * two-level percentile bootstrap: each resample draws runs with replacement, then images with
 * replacement within each drawn run, so both sources of noise — which model training produced, which
 * images were attacked — are in the interval. A run's figure is the mean over its images; runs weigh
 * equally, however many images each evaluated.
 *
 * Paired: every method attacked the same images, so one image is one row holding every method's
 * outcome, and a resample draws whole rows. A difference or ratio of two methods then cancels what
 * the images share (an easy image is easy for both) — the interval of a paired comparison is the
 * narrower, honest one. `paired: false` draws each column's rows independently, for comparison.
 *
 * With one run only image noise is measured; docs and tables say so by the run count they print.
 */

/** One run's outcomes: `rows[i][m]` = method m's outcome on image i (e.g. 1 = attack succeeded). */
export type RunRows = readonly (readonly number[])[];

export interface BootstrapOptions {
  /** Seed of the resampling (the interval is a pure function of data, statistic and seed). */
  readonly seed: number;
  /** Resamples drawn; 2,000 by default. */
  readonly resamples?: number;
  /** Two-sided coverage; 0.95 by default. */
  readonly level?: number;
  /** Draw rows jointly over the columns (default) or each column on its own. */
  readonly paired?: boolean;
}

export interface BootstrapInterval {
  /** Runs pooled and images over all runs. */
  readonly runs: number;
  readonly rows: number;
  /** The statistic on the data as measured (mean over runs of each column's per-run mean). */
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  /** Resamples whose statistic was defined (a ratio over a resampled zero is not). */
  readonly resamples: number;
}

/** Mean over runs of each column's per-run mean: the figure a table reports. */
export function columnMeans(runs: readonly RunRows[]): number[] {
  const columns = checkRuns(runs);
  const sums = new Array<number>(columns).fill(0);
  for (const rows of runs) {
    for (let m = 0; m < columns; m++) sums[m]! += rows.reduce((s, r) => s + r[m]!, 0) / rows.length;
  }
  return sums.map((s) => s / runs.length);
}

/**
 * Percentile interval of `statistic(column means)` over two-level resamples. E.g. `(c) => c[0]` for
 * one method's ASR, `(c) => c[0] - c[1]` for a paired difference, `(c) => c[0] / c[1]` for SPADV ÷
 * white-box. Throws on no runs, an empty run, ragged rows or non-finite outcomes.
 */
export function bootstrapInterval(runs: readonly RunRows[], statistic: (means: readonly number[]) => number, options: BootstrapOptions): BootstrapInterval {
  const i = bootstrapIntervals(runs, { value: statistic }, options).value;
  if (!i) throw new Error('bootstrap: the statistic was undefined on every resample');
  return i;
}

/**
 * Several statistics of the same resamples (one pass over the data, as a study pools many figures);
 * null for a statistic undefined on every resample (a ratio to a white-box success of 0).
 */
export function bootstrapIntervals<K extends string>(
  runs: readonly RunRows[], statistics: Readonly<Record<K, (means: readonly number[]) => number>>, options: BootstrapOptions,
): Record<K, BootstrapInterval | null> {
  const columns = checkRuns(runs);
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 10) throw new Error(`bootstrap: resamples must be an integer ≥ 10, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new Error(`bootstrap: level must lie in (0, 1), got ${level}`);
  const names = Object.keys(statistics) as K[];
  const rng = Rng.fromSeed(options.seed).fork('bootstrap');
  const values = new Map<K, number[]>(names.map((k) => [k, []]));
  const means = new Array<number>(columns);
  for (let b = 0; b < resamples; b++) {
    means.fill(0);
    for (let k = 0; k < runs.length; k++) {
      const rows = runs[runs.length > 1 ? rng.int(runs.length) : k]!;
      addResampledRunMeans(rows, columns, options.paired ?? true, rng, means);
    }
    const pooled = means.map((s) => s / runs.length);
    for (const k of names) {
      const v = statistics[k](pooled);
      if (Number.isFinite(v)) values.get(k)!.push(v);
    }
  }
  const measured = columnMeans(runs);
  const tail = (1 - level) / 2;
  const out = {} as Record<K, BootstrapInterval | null>;
  for (const k of names) {
    const v = values.get(k)!.sort((a, b) => a - b);
    out[k] = !v.length ? null : {
      runs: runs.length, rows: runs.reduce((s, r) => s + r.length, 0), estimate: statistics[k](measured),
      low: quantileSorted(v, tail), high: quantileSorted(v, 1 - tail), resamples: v.length,
    };
  }
  return out;
}

/** Adds one resample of `rows`' per-column means to `into` (rows drawn jointly, or per column). */
function addResampledRunMeans(rows: RunRows, columns: number, paired: boolean, rng: Rng, into: number[]): void {
  const n = rows.length;
  if (paired) {
    const sums = new Array<number>(columns).fill(0);
    for (let i = 0; i < n; i++) {
      const r = rows[rng.int(n)]!;
      for (let m = 0; m < columns; m++) sums[m]! += r[m]!;
    }
    for (let m = 0; m < columns; m++) into[m]! += sums[m]! / n;
    return;
  }
  for (let m = 0; m < columns; m++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rows[rng.int(n)]![m]!;
    into[m]! += s / n;
  }
}

/** Linear-interpolated quantile of ascending `sorted` (type 7, as R and NumPy default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function checkRuns(runs: readonly RunRows[]): number {
  if (!runs.length) throw new Error('bootstrap: no runs');
  const columns = runs[0]![0]?.length ?? 0;
  if (!columns) throw new Error('bootstrap: a run without rows or columns');
  for (const [k, rows] of runs.entries()) {
    if (!rows.length) throw new Error(`bootstrap: run ${k} has no rows`);
    for (const r of rows) {
      if (r.length !== columns) throw new Error(`bootstrap: run ${k} has a row of ${r.length} columns, expected ${columns}`);
      if (r.some((v) => !Number.isFinite(v))) throw new Error(`bootstrap: run ${k} has a non-finite outcome`);
    }
  }
  return columns;
}

/** How an interval's numbers print: `percent` (one decimal, ` %`) or `ratio` (two decimals, `×`). */
export type IntervalUnit = 'percent' | 'ratio';

const IN_UNIT: Record<IntervalUnit, { value: (v: number) => string; suffix: string }> = {
  percent: { value: (v) => (100 * v).toFixed(1), suffix: ' %' },
  ratio: { value: (v) => v.toFixed(2), suffix: '×' },
};

/**
 * `estimate ± half width`, the form every table prints (`42.0 ± 6.1 %`, `0.69 ± 0.10×`); the
 * percentile interval may be asymmetric, so its bounds stay in the JSON (formatBootstrapBounds).
 * A missing interval prints `–`.
 */
export function formatBootstrap(i: BootstrapInterval | null | undefined, unit: IntervalUnit): string {
  if (!i) return '–';
  const u = IN_UNIT[unit];
  return `${u.value(i.estimate)} ± ${u.value((i.high - i.low) / 2)}${u.suffix}`;
}

/** `estimate [low, high]` with the unit (`42.0 % [35.1, 48.8]`, `0.69× [0.55, 0.81]`); `–` when missing. */
export function formatBootstrapBounds(i: BootstrapInterval | null | undefined, unit: IntervalUnit): string {
  if (!i) return '–';
  const u = IN_UNIT[unit];
  return `${u.value(i.estimate)}${u.suffix} [${u.value(i.low)}, ${u.value(i.high)}]`;
}
