import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../apps/server/src/experiment/config.ts';
import { expandSweep, type SweepSpec } from '../apps/server/src/sweep/sweep.ts';
import { pooledMarkdown, poolStudy } from '../apps/server/src/sweep/pool.ts';
import { readResults, type RunResults } from '../apps/server/src/experiment/results.ts';
import { vegaLiteToSvg } from '../apps/server/src/output/report.ts';
import { defenceChart, pooledCharts } from '../apps/server/src/sweep/study-charts.ts';
// Pools a study that an older checkout ran, with this checkout's pooling (study.md's summary and
// tables). Point ids hash whole configs, so a checkout with new config keys names the same points
// differently: each finished point directory is matched to the point whose config agrees with its
// own on every key both have (a point run with other settings — an earlier evalSamples — matches none). `splitfleet study` itself pools its own points when it ends.
//   node scripts/pool-study.ts STUDY.yaml RUN_DIR [OUT_PREFIX]   (writes OUT_PREFIX.md / .json, and
//   the pooled charts as OUT_PREFIX-<n>.svg: attack success vs ε, and for a defence study the
//   accuracy-vs-SPADV trade-off with its Pareto front)
const [file, dir, out] = process.argv.slice(2) as [string, string, string?];
const points = expandSweep(parseConfigText(readFileSync(file, 'utf8'), file) as unknown as SweepSpec);
/** Every key both configs have holds the same value (the older checkout's config lacks newer keys). */
function agrees(a: unknown, b: unknown): boolean {
  // lists (a defence list) agree element by element: an older checkout's defence lacks newer options
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => agrees(v, b[i]));
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null || Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a) === JSON.stringify(b);
  const bo = b as Record<string, unknown>;
  return Object.entries(a as Record<string, unknown>).every(([k, v]) => !(k in bo) || agrees(v, bo[k]));
}
const results = new Map<string, RunResults>();
for (const d of readdirSync(dir)) {
  if (d.startsWith('train-')) continue;
  let r: RunResults;
  try { r = readResults(join(dir, d)); } catch { continue; }
  if (r.status !== 'completed' || !r.attack) continue;
  const p = points.find((q) => agrees(r.config, q.config));
  if (p) results.set(p.id, r);
}
console.error(`${results.size} of ${points.length} done`);
const pooled = poolStudy(points, results);
const md = pooledMarkdown(pooled);
if (out) {
  writeFileSync(`${out}.md`, md);
  writeFileSync(`${out}.json`, `${JSON.stringify(pooled, null, 1)}\n`);
  const vl = (spec: object) => vegaLiteToSvg(spec as Parameters<typeof vegaLiteToSvg>[0]);
  const charts = [...(await pooledCharts(pooled, vl)), ...(await defenceChart(pooled, vl))];
  charts.forEach(([title, svg], i) => {
    writeFileSync(`${out}-${i + 1}.svg`, svg);
    console.error(`${out}-${i + 1}.svg: ${title}`);
  });
}
console.log(md);
