import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverrides, ConfigError, parseConfig, type Config } from './config.ts';
import { writeFileAtomic, writeJsonAtomic } from './atomic.ts';
import { toCsv, vegaLiteToSvg } from './report.ts';
import type { RunResults } from './results.ts';
import type { TopLevelSpec } from 'vega-lite';

/** A sweep file: a base config and a grid of `path: [values]` to take the product of. */
export interface SweepSpec {
  readonly base: unknown;
  readonly grid: Readonly<Record<string, readonly unknown[]>>;
}

export interface SweepPoint {
  readonly id: string;
  readonly settings: Record<string, unknown>;
  readonly config: Config;
}

/** Stable id of a resolved config: re-submitting a sweep finds its finished points by id. */
export function configId(cfg: Config): string {
  return createHash('sha256').update(JSON.stringify(cfg)).digest('hex').slice(0, 12);
}

export function expandSweep(spec: SweepSpec): SweepPoint[] {
  if (typeof spec !== 'object' || spec === null || typeof spec.grid !== 'object' || spec.grid === null)
    throw new ConfigError('sweep file must have "base" (a config) and "grid" (path: [values])');
  let points: Record<string, unknown>[] = [{}];
  for (const [path, values] of Object.entries(spec.grid)) {
    if (!Array.isArray(values) || values.length === 0) throw new ConfigError(`grid.${path}: must be a non-empty list of values`);
    points = points.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  }
  return points.map((settings) => {
    const sets = Object.entries(settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    let config: Config;
    try {
      config = parseConfig(applyOverrides(spec.base ?? {}, sets));
    } catch (e) {
      throw new ConfigError(`sweep point ${JSON.stringify(settings)}: ${(e as Error).message}`);
    }
    return { id: configId(config), settings, config };
  });
}

export function isDone(runDir: string): boolean {
  const p = join(runDir, 'results.json');
  if (!existsSync(p)) return false;
  try {
    return (JSON.parse(readFileSync(p, 'utf8')) as RunResults).status === 'completed';
  } catch {
    return false;
  }
}

/** Gathers finished points into sweep.csv, sweep.md and sweep.html (one chart per attack ε). */
export async function gatherSweep(outDir: string, points: readonly SweepPoint[]): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const p of points) {
    const dir = join(outDir, p.id);
    if (!isDone(dir)) continue;
    const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults & { attack?: { objectives: { objective: string; labelInferenceAccuracy: number | null; targets: { suite: { cells: { method: string; epsilon: number; successRate: number }[] } }[] }[] } };
    const base = { id: p.id, ...p.settings, testAccuracy: r.final?.testAccuracy ?? null, wallSeconds: r.timings.wallSeconds };
    const cells = r.attack?.objectives.flatMap((o) => o.targets.flatMap((t) => t.suite.cells.map((c) => ({ objective: o.objective, labelInference: o.labelInferenceAccuracy, ...c })))) ?? [];
    if (cells.length === 0) rows.push(base);
    for (const c of cells) rows.push({ ...base, objective: c.objective, method: c.method, epsilon: c.epsilon, successRate: c.successRate, labelInference: c.labelInference });
  }
  writeFileAtomic(join(outDir, 'sweep.csv'), toCsv(rows));
  const cols = rows.length ? Object.keys(rows[0]!) : [];
  writeFileAtomic(join(outDir, 'sweep.md'), rows.length ? [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)].join('\n') + '\n' : 'no finished points\n');
  const keys = points[0] ? Object.keys(points[0].settings) : [];
  if (rows.length && keys.length) {
    const x = keys[0]!;
    const svg = await vegaLiteToSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 480, height: 260, data: { values: rows },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: x, type: typeof rows[0]![x] === 'number' ? 'quantitative' : 'nominal' },
        y: { field: rows.some((r) => 'successRate' in r) ? 'successRate' : 'testAccuracy', type: 'quantitative' },
        color: { field: rows.some((r) => 'method' in r) ? 'method' : (keys[1] ?? x), type: 'nominal' },
      },
    } as TopLevelSpec);
    writeFileAtomic(join(outDir, 'sweep.html'), `<!doctype html><meta charset="utf-8"><title>sweep</title><h1>Sweep (${rows.length} rows)</h1>${svg}`);
  }
  writeJsonAtomic(join(outDir, 'sweep.json'), { points: points.map((p) => ({ id: p.id, settings: p.settings, done: isDone(join(outDir, p.id)) })) });
  return rows;
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v ?? '');
}
