import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { primaryIntervals } from '@splitfleet/attack';
import { formatBootstrap } from '@splitfleet/splitcore';
import { ConfigError } from '../experiment/config.ts';
import { writeFileAtomic } from '../experiment/atomic.ts';
import { readResults, type RunResults } from '../experiment/results.ts';
import type { PooledRow } from '../sweep/pool.ts';
import { vegaLiteToSvg } from './report.ts';
import type { TopLevelSpec } from 'vega-lite';

/**
 * `splitfleet compare DIR...`: several runs or studies side by side — the config options that
 * differ, one metrics row per run (SPADV figures with their intervals over evaluated images),
 * accuracy curves overlaid, and the pooled rows of every study. A run directory holds results.json;
 * a study (sweep) directory holds study.json.
 */
export interface Compared {
  readonly runs: readonly { readonly name: string; readonly results: RunResults }[];
  readonly studies: readonly { readonly name: string; readonly rows: readonly PooledRow[] }[];
}

export function readCompared(dirs: readonly string[]): Compared {
  if (dirs.length < 2) throw new ConfigError(`compare: ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'} given; needs at least 2 runs or studies`);
  const runs: { name: string; results: RunResults }[] = [];
  const studies: { name: string; rows: PooledRow[] }[] = [];
  const names = uniqueNames(dirs);
  dirs.forEach((d, i) => {
    if (existsSync(join(d, 'results.json'))) runs.push({ name: names[i]!, results: readResults(d) });
    else if (existsSync(join(d, 'study.json'))) studies.push({ name: names[i]!, rows: JSON.parse(readFileSync(join(d, 'study.json'), 'utf8')) as PooledRow[] });
    else throw new ConfigError(`compare: ${d} is neither a run directory (results.json) nor a study directory (study.json)`);
  });
  return { runs, studies };
}

/** Directory base names, made unique with their parents where two are alike. */
function uniqueNames(dirs: readonly string[]): string[] {
  const base = dirs.map((d) => basename(resolve(d)));
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${basename(resolve(dirs[i]!, '..'))}/${b}` : b));
}

/** Leaf paths of a config object → JSON of their values (arrays are leaves). */
function flatten(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, JSON.stringify(v));
  return out;
}

/** The config options whose values differ between the runs: path → value per run. */
export function configDiff(configs: readonly unknown[]): [string, string[]][] {
  const flat = configs.map((c) => flatten(c));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  return paths.flatMap((p) => {
    const values = flat.map((f) => f.get(p) ?? '–');
    return new Set(values).size > 1 ? [[p, values] as [string, string[]]] : [];
  });
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)} %`);

/** One row per run: accuracy, SPADV and white-box success (95 % intervals over evaluated images), label inference, time. */
export function runMetrics(runs: Compared['runs']): Record<string, string>[] {
  return runs.map(({ name, results: r }) => {
    const a = r.attack;
    const iv = a ? primaryIntervals(a) : null;
    return {
      run: name, mode: r.config.training.mode, seed: String(r.seed), 'final accuracy': pct(r.final?.testAccuracy),
      'SPADV ASR ± 95 % CI': iv ? formatBootstrap(iv.asr, 'percent') : pct(a?.aggregate.asr), 'white-box ASR': pct(a?.baselines.whiteBox?.asr),
      '÷ white-box ± 95 % CI': iv?.ratioToWhitebox ? formatBootstrap(iv.ratioToWhitebox, 'ratio') : a?.relativeToWhitebox == null ? '–' : `${a.relativeToWhitebox.toFixed(2)}×`,
      'label inference': pct(a?.objectives[0]?.labelInferenceAccuracy), 'wall time': `${r.timings.wallSeconds.toFixed(0)} s`,
    };
  });
}

function markdown(rows: readonly Record<string, string>[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]!);
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => r[c]).join(' | ')} |`)].join('\n');
}

function html(rows: readonly Record<string, string>[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]!);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${cols.map((c) => `<td>${esc(r[c] ?? '')}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** A study's pooled rows as table rows, with the study's name. */
function studyRows(studies: Compared['studies']): Record<string, string>[] {
  return studies.flatMap(({ name, rows }) => rows.map((r) => ({
    study: name, point: Object.entries(r.settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') || '–', objective: r.objective ?? '–',
    'ε': String(r.epsilon), method: r.method, runs: String(r.runs), 'ASR ± 95 % CI': formatBootstrap(r.asr, 'percent'), '÷ white-box ± 95 % CI': formatBootstrap(r.ratioToWhitebox, 'ratio'),
  })));
}

/** Writes the comparison (HTML with the accuracy curves overlaid) to `out`; returns its markdown for the terminal. */
export async function writeComparison(c: Compared, out: string): Promise<string> {
  const diff = configDiff(c.runs.map((r) => r.results.config)).map(([path, values]) => ({ option: path, ...Object.fromEntries(c.runs.map((r, i) => [r.name, values[i]!])) }));
  const metrics = runMetrics(c.runs);
  const studies = studyRows(c.studies);
  const curve = c.runs.flatMap(({ name, results }) => results.rounds.map((x) => ({ run: name, round: x.round + 1, testAccuracy: x.testAccuracy })));
  const svg = curve.length
    ? await vegaLiteToSvg({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 520, height: 260, data: { values: curve }, mark: { type: 'line', point: true },
      encoding: { x: { field: 'round', type: 'ordinal' }, y: { field: 'testAccuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } }, color: { field: 'run', type: 'nominal' } } } as TopLevelSpec)
    : '';
  const sections: [string, string, string][] = [
    ['Runs', html(metrics), markdown(metrics)],
    ['Options that differ', diff.length ? html(diff) : '<p>none: the runs share every option</p>', diff.length ? markdown(diff) : 'none'],
    ...(studies.length ? [['Studies (pooled over seeds)', html(studies), markdown(studies)] as [string, string, string]] : []),
  ].filter(([, h]) => h) as [string, string, string][];
  writeFileAtomic(out, `<!doctype html><html><head><meta charset="utf-8"><title>splitfleet comparison</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head><body>
<h1>Comparison of ${c.runs.length + c.studies.length} runs and studies</h1>
${sections.map(([t, h]) => `<h2>${t}</h2>${h}`).join('\n')}
${svg ? `<h2>Test accuracy per round</h2><figure>${svg}</figure>` : ''}
<p>Intervals: 95 %, bootstrap over each run's evaluated images (one run: image noise only); studies: over seeds and images.</p>
</body></html>`);
  return sections.map(([t, , md]) => `## ${t}\n${md}`).join('\n\n');
}
