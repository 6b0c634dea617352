import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverrides, ConfigError, parseConfig, type Config } from '../experiment/config.ts';
import { writeFileAtomic, writeJsonAtomic } from '../experiment/atomic.ts';
import { toCsv, vegaLiteToSvg } from '../output/report.ts';
import { readResults, type RunResults } from '../experiment/results.ts';
import { WHITEBOX_YARDSTICK, type AttackReport } from '@splitfleet/attack';
import type { TopLevelSpec } from 'vega-lite';
import { pooledMarkdown, poolStudy } from './pool.ts';
import { defenceChart, perClientChart, pooledCharts } from './study-charts.ts';

/**
 * A sweep (or study) file: a base config, a grid of `path: [values]` to take the product of, and
 * optionally seeds — every grid point then runs once per training seed (config `seed`) and, crossed
 * with it, per attacker seed (`attack.aux.seed`: which held-out images form D_aux). One mechanism
 * for sweeps and studies: the pooled tables (sweep/pool.ts) give each grid point's figures with
 * intervals over its seeds and evaluated images.
 */
export interface SweepSpec {
  readonly base: unknown;
  readonly grid?: Readonly<Record<string, readonly unknown[]>>;
  readonly seeds?: readonly number[];
  readonly auxSeeds?: readonly number[];
}

export interface SweepPoint {
  readonly id: string;
  /** Grid values and, in a study, the seeds of this run. */
  readonly settings: Record<string, unknown>;
  /** The grid point's settings as JSON: points differing only in seeds share it. */
  readonly group: string;
  readonly config: Config;
}

/** The settings keys the seed lists set. */
const SEED_KEYS = ['seed', 'attack.aux.seed'] as const;

/** Stable id of a resolved config: re-submitting a sweep finds its finished points by id. */
export function configId(cfg: Config): string {
  return createHash('sha256').update(JSON.stringify(cfg)).digest('hex').slice(0, 12);
}

function seedList(name: string, v: unknown): readonly number[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || !v.length || v.some((x) => !Number.isInteger(x)) || new Set(v).size !== v.length)
    throw new ConfigError(`${name}: ${JSON.stringify(v)} is not allowed; expected a non-empty list of distinct integers, e.g. [1, 2, 3]`);
  return v as number[];
}

export function expandSweep(spec: SweepSpec): SweepPoint[] {
  if (typeof spec !== 'object' || spec === null) throw new ConfigError('sweep file must have "base" (a config) and "grid" (path: [values]) and/or "seeds"');
  const seeds = seedList('seeds', spec.seeds);
  const auxSeeds = seedList('auxSeeds', spec.auxSeeds);
  if (spec.grid === undefined ? !seeds : typeof spec.grid !== 'object' || spec.grid === null)
    throw new ConfigError('sweep file must have "base" (a config) and "grid" (path: [values]) and/or "seeds"');
  let points: Record<string, unknown>[] = [{}];
  for (const [path, values] of Object.entries(spec.grid ?? {})) {
    if (!Array.isArray(values) || values.length === 0) throw new ConfigError(`grid.${path}: must be a non-empty list of values`);
    if (seeds && (SEED_KEYS as readonly string[]).includes(path)) throw new ConfigError(`grid.${path}: set by "${path === 'seed' ? 'seeds' : 'auxSeeds'}" in a study; list it there, not in the grid`);
    points = points.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  }
  const withSeeds = (p: Record<string, unknown>) => {
    const bySeed = seeds ? seeds.map((s) => ({ ...p, seed: s })) : [p];
    return auxSeeds ? bySeed.flatMap((q) => auxSeeds.map((a) => ({ ...q, 'attack.aux.seed': a }))) : bySeed;
  };
  return points.flatMap((grid) => withSeeds(grid).map((settings) => {
    const sets = Object.entries(settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    let config: Config;
    try {
      config = parseConfig(applyOverrides(spec.base ?? {}, sets));
    } catch (e) {
      throw new ConfigError(`sweep point ${JSON.stringify(settings)}: ${(e as Error).message}`);
    }
    return { id: configId(config), settings, group: JSON.stringify(grid), config };
  }));
}

export function isDone(runDir: string): boolean {
  if (!existsSync(join(runDir, 'results.json'))) return false;
  try {
    return readResults(runDir).status === 'completed';
  } catch {
    return false;
  }
}

/**
 * The part of a config that decides training. Attack options other than these change only the
 * attack stage, so sweep points that differ only in them share one training run.
 */
export function trainingConfig(cfg: Config): Config {
  const d = parseConfig({}).attack;
  return { ...cfg, attack: { ...d, method: cfg.attack.method, aux: { ...d.aux, holdout: cfg.attack.aux.holdout }, observe: cfg.attack.observe } };
}

type Num = number | null;
const cellOf = (a: AttackReport, objective: number, method: string, eps: number) =>
  a.objectives[objective]?.targets[0]?.suite.cells.find((c) => c.method === method && c.epsilon === eps) ?? null;

/** One row per finished point × objective × ε: SPADV next to every baseline, at the same ε. */
export function sweepRows(points: readonly SweepPoint[], results: ReadonlyMap<string, RunResults>): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const p of points) {
    const r = results.get(p.id);
    if (!r) continue;
    const base = { id: p.id, ...settingsColumns(p.settings), testAccuracy: r.final?.testAccuracy ?? null };
    const a = r.attack;
    if (!a?.objectives) {
      rows.push({ ...base, wallSeconds: r.timings.wallSeconds });
      continue;
    }
    const craft = a.primary?.method ?? 'spadv-pgd';
    a.objectives.forEach((o, oi) => {
      for (const eps of a.epsilons) {
        const asr = (m: string, obj = 0): Num => cellOf(a, obj, m, eps)?.successRate ?? null;
        const sp = cellOf(a, oi, craft, eps);
        const wb = WHITEBOX_YARDSTICK.map((m) => asr(m)).find((v) => v !== null) ?? null;
        rows.push({
          ...base, objective: o.objective, epsilon: eps, spadvAsr: sp?.successRate ?? null, spadvRobustAccuracy: sp?.robustAccuracy ?? null,
          whiteBoxAsr: wb, ratioToWhiteBox: sp && wb ? sp.successRate / wb : null, transferAsr: asr('transfer-pgd'),
          randomShadowAsr: asr('random-shadow-pgd') ?? asr('random-shadow-head'), noiseAsr: asr('noise'), labelInference: o.labelInferenceAccuracy,
          shadowAgreement: o.targets[0]?.suite.shadow.agreement ?? null, shadowSeconds: o.shadowSeconds,
        });
      }
    });
  }
  return rows;
}

/** Vega-Lite reads dots in field names as nesting: grid paths such as partition.alpha need escaping. */
function vlField(name: string): string {
  return name.replace(/\./g, '\\.');
}

/** Grid values as table cells: objects such as model.cut read `headEnd=2 tailStart=5`. */
function settingsColumns(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).map(([a, b]) => `${a}=${b}`).join(' ') : Array.isArray(v) ? JSON.stringify(v) : v]));
}

/** Markdown table of rows (numbers to 3 decimals). */
export function markdownTable(rows: readonly Record<string, unknown>[]): string {
  if (!rows.length) return 'no finished points\n';
  const cols = Object.keys(rows[0]!);
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)].join('\n') + '\n';
}

/** Gathers finished points into sweep.csv, sweep.md and sweep.html (charts of SPADV vs baselines). */
export async function gatherSweep(outDir: string, points: readonly SweepPoint[]): Promise<Record<string, unknown>[]> {
  const results = new Map<string, RunResults>();
  for (const p of points) {
    const dir = join(outDir, p.id);
    if (isDone(dir)) results.set(p.id, readResults(dir));
  }
  const rows = sweepRows(points, results);
  writeFileAtomic(join(outDir, 'sweep.csv'), toCsv(rows));
  writeFileAtomic(join(outDir, 'sweep.md'), markdownTable(rows));
  const pooled = poolStudy(points, results);
  writeFileAtomic(join(outDir, 'study.md'), pooledMarkdown(pooled));
  writeJsonAtomic(join(outDir, 'study.json'), pooled);
  const keys = points[0] ? Object.keys(points[0].settings) : [];
  const charts: [string, string][] = [];
  const vl = (spec: object) => vegaLiteToSvg({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } as TopLevelSpec);
  if (rows.length && keys.length && 'spadvAsr' in rows[0]!) {
    const long = rows.flatMap((r) => (['spadvAsr', 'whiteBoxAsr', 'transferAsr', 'randomShadowAsr', 'noiseAsr'] as const)
      .filter((k) => r[k] !== null && r[k] !== undefined)
      .map((k) => ({ ...r, method: k.replace(/Asr$/, ''), asr: r[k] })));
    const facet = keys.find((k) => k !== 'attack.epsilon' && k !== 'attack.objective') ?? keys[0]!;
    charts.push([`Attack success vs ε, by ${facet}`, await vl({
      data: { values: long }, width: 220, height: 160,
      facet: { column: { field: vlField(facet), type: 'nominal', title: facet } },
      spec: { mark: { type: 'line', point: true }, encoding: {
        x: { field: 'epsilon', type: 'quantitative', title: 'ε (L∞)' }, y: { field: 'asr', type: 'quantitative', title: 'attack success', aggregate: 'mean' },
        color: { field: 'method', type: 'nominal' } } },
    })]);
    for (const k of keys.filter((x) => x !== 'attack.epsilon'))
      charts.push([`SPADV success ÷ white-box success vs ${k} (mean over the other settings; colour: ε)`, await vl({
        data: { values: rows }, width: 420, height: 220, mark: { type: 'line', point: true },
        encoding: { x: { field: vlField(k), title: k, type: typeof rows[0]![k] === 'number' ? 'ordinal' : 'nominal' }, y: { field: 'ratioToWhiteBox', type: 'quantitative', aggregate: 'mean', title: 'SPADV / white-box' }, color: { field: 'epsilon', type: 'nominal' } },
      })]);
  } else if (rows.length && keys.length) {
    charts.push(['Test accuracy', await vl({ data: { values: rows }, width: 420, height: 220, mark: { type: 'line', point: true }, encoding: { x: { field: vlField(keys[0]!), title: keys[0]!, type: 'ordinal' }, y: { field: 'testAccuracy', type: 'quantitative' } } })]);
  }
  // pooled intervals and per-client points exist for any study, grid or seeds only
  charts.push(...(await pooledCharts(pooled, vl)), ...(await perClientChart(points, results, vl)), ...(await defenceChart(pooled, vl)));
  writeFileAtomic(join(outDir, 'sweep.html'), `<!doctype html><meta charset="utf-8"><title>sweep</title><h1>Sweep (${rows.length} rows)</h1>${charts.map(([t, svg]) => `<figure><figcaption>${t}</figcaption>${svg}</figure>`).join('\n')}`);
  charts.forEach(([, svg], i) => writeFileAtomic(join(outDir, `sweep-${i + 1}.svg`), svg));
  writeJsonAtomic(join(outDir, 'sweep.json'), { points: points.map((p) => ({ id: p.id, settings: p.settings, done: isDone(join(outDir, p.id)) })) });
  return rows;
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? '');
}
