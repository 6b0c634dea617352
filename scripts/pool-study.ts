import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../apps/server/src/experiment/config.ts';
import { expandSweep, type SweepSpec } from '../apps/server/src/sweep/sweep.ts';
import { pooledMarkdown, poolStudy } from '../apps/server/src/sweep/pool.ts';
import { readResults, type RunResults } from '../apps/server/src/experiment/results.ts';
// Pools a study that an older checkout ran, with this checkout's pooling (study.md's summary and
// tables). Point ids hash whole configs, so a checkout with new config keys names the same points
// differently: each finished point directory is matched to this checkout's points by its grid
// settings and seed instead. `splitfleet study` itself pools its own points when it ends.
//   node scripts/pool-study.ts STUDY.yaml RUN_DIR [OUT_PREFIX]   (writes OUT_PREFIX.md / .json)
const [file, dir, out] = process.argv.slice(2) as [string, string, string?];
const points = expandSweep(parseConfigText(readFileSync(file, 'utf8'), file) as unknown as SweepSpec);
const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), o);
const results = new Map<string, RunResults>();
for (const d of readdirSync(dir)) {
  if (d.startsWith('train-')) continue;
  let r: RunResults;
  try { r = readResults(join(dir, d)); } catch { continue; }
  if (r.status !== 'completed' || !r.attack) continue;
  const p = points.find((q) => q.config.seed === r.config.seed && Object.keys(q.settings).every((k) => k === 'seed' || JSON.stringify(get(r.config, k)) === JSON.stringify(get(q.config, k))));
  if (p) results.set(p.id, r);
}
console.error(`${results.size} of ${points.length} done`);
const pooled = poolStudy(points, results);
const md = pooledMarkdown(pooled);
if (out) {
  writeFileSync(`${out}.md`, md);
  writeFileSync(`${out}.json`, `${JSON.stringify(pooled, null, 1)}\n`);
}
console.log(md);
