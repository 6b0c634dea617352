/**
 * Uncertainty of a figure measured on a few independent runs (seeds): the mean with a two-sided
 * 95 % Student-t interval over the runs. With 3 seeds the half-width is 4.30 standard errors — wide
 * on purpose: a handful of runs supports only a coarse claim.
 */
export interface SeedInterval {
  /** Runs pooled. */
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation over the runs (n − 1 in the denominator; 0 for one run). */
  readonly sd: number;
  /** Half-width of the 95 % interval: t(0.975, n − 1) · sd / √n; null for one run. */
  readonly halfWidth: number | null;
}

/** t(0.975, df) for df = 1…30 (then the normal 1.96 is within 4 %). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (df ≥ 1). */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be an integer ≥ 1, got ${df}`);
  return T975[df - 1] ?? 1.96;
}

/** Mean and 95 % t-interval of per-run values (throws on none or a non-finite value). */
export function seedInterval(values: readonly number[]): SeedInterval {
  if (!values.length) throw new Error('seedInterval: no values');
  if (values.some((v) => !Number.isFinite(v))) throw new Error(`seedInterval: non-finite value in [${values.join(', ')}]`);
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, halfWidth: n > 1 ? (tQuantile975(n - 1) * sd) / Math.sqrt(n) : null };
}

/** `mean ± half` in percent with one decimal (`n = 1`: the value alone). */
export function formatPercentInterval(i: SeedInterval): string {
  const pc = (v: number) => (100 * v).toFixed(1);
  return i.halfWidth === null ? `${pc(i.mean)} %` : `${pc(i.mean)} ± ${pc(i.halfWidth)} %`;
}

/** `mean ± half` with two decimals and a unit, e.g. `0.82 ± 0.10×` (`n = 1`: the value alone). */
export function formatInterval(i: SeedInterval, unit = '×', decimals = 2): string {
  return i.halfWidth === null ? `${i.mean.toFixed(decimals)}${unit}` : `${i.mean.toFixed(decimals)} ± ${i.halfWidth.toFixed(decimals)}${unit}`;
}
