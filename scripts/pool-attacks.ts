// Pools SPADV reports over seeds: every `<label>-s<seed>` run directory given, every `atk-<setting>.json`
// report in it (written by `splitfleet attack --run DIR --out DIR/atk-<setting>.json`), grouped by
// (label, setting, objective, craft, ε) into a markdown table of mean ± 95 % t-interval over seeds.
// ASR counts over the attacked images (those the real model classifies correctly); the ratio divides
// by the white-box success of the same seed's run at the same ε — the per-sample worst case
// (whitebox-worst) where any report of that directory ran it, else PGD. A report named
// atk-whitebox.json contributes only its baselines. A stop-gap until the study command of issue #20.
// --json FILE also writes every per-seed row (the pooled tables' inputs) to FILE.
// With --ref SETTING/OBJECTIVE/CRAFT, also every row's ASR minus that row's, paired within each seed
// (same model, same images), with its 95 % t-interval over seeds.
//   node scripts/pool-attacks.ts [--ref ours-in1024/observe/pgd] runs/authors/train-*-s*
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AttackReportSchema, type AttackReport } from '@splitfleet/attack';
import { formatInterval, formatPercentInterval, seedInterval } from '@splitfleet/splitcore';

type Cell = AttackReport['objectives'][number]['targets'][number]['suite']['cells'][number];
interface Row { label: string; setting: string; objective: string; method: string; epsilon: number; seed: number; asr: number; ratio: number | null; attacked: number; middleCosine: number; lia: number | null }

const cellsOf = (o: AttackReport['objectives'][number]): Cell[] => o.targets.flatMap((t) => t.suite.cells);

function rowsOfRun(dir: string): { label: string; rows: Row[]; baselines: Row[]; clean: number | null } {
  const m = /^(.*)-s(\d+)$/.exec(basename(dir));
  if (!m) throw new Error(`${dir}: expected a directory named <label>-s<seed>`);
  const [label, seed] = [m[1]!, Number(m[2])];
  const reports = readdirSync(dir).filter((f) => /^atk-.*\.json$/.test(f))
    .map((f) => ({ setting: f.slice(4, -5), r: AttackReportSchema.parse(JSON.parse(readFileSync(join(dir, f), 'utf8'))) }));
  const wb = new Map<number, Cell>();
  const worst = new Map<number, Cell>();
  const baselines: Row[] = [];
  let clean: number | null = null;
  for (const { setting, r } of reports)
    for (const c of cellsOf(r.objectives[0]!).filter((c) => !c.method.startsWith('spadv-'))) {
      if (c.method === 'whitebox-pgd') wb.set(c.epsilon, c);
      if (c.method === 'whitebox-worst') worst.set(c.epsilon, c);
      clean = c.cleanAccuracy;
      // a baseline is the same cell in every report of one run (same model, images and seed): count it once
      if (baselines.some((b) => b.method === c.method && b.epsilon === c.epsilon)) continue;
      baselines.push({ label, setting, objective: '–', method: c.method, epsilon: c.epsilon, seed, asr: c.successRate, ratio: null, attacked: c.evaluated, middleCosine: NaN, lia: null });
    }
  const rows = reports.filter(({ setting }) => setting !== 'whitebox').flatMap(({ setting, r }) => r.objectives.flatMap((o) => cellsOf(o).filter((c) => c.method.startsWith('spadv-')).map((c): Row => {
    const w = worst.get(c.epsilon) ?? wb.get(c.epsilon);
    return {
      label, setting, objective: o.objective, method: c.method, epsilon: c.epsilon, seed, asr: c.successRate,
      ratio: w && w.successRate > 0 ? c.successRate / w.successRate : null, attacked: c.evaluated,
      middleCosine: o.targets[0]!.suite.shadow.middleCosine ?? NaN, lia: o.labelInferenceAccuracy,
    };
  })));
  return { label, rows, baselines, clean };
}

function pooled(rows: Row[], keyOf: (r: Row) => string): Map<string, Row[]> {
  const g = new Map<string, Row[]>();
  for (const r of rows) g.set(keyOf(r), [...(g.get(keyOf(r)) ?? []), r]);
  return g;
}

const iv = (v: number[]) => (v.length ? formatPercentInterval(seedInterval(v)) : '–');
const ratioIv = (v: number[]) => (v.length ? formatInterval(seedInterval(v)) : '–');
const eps = (e: number) => (Math.abs(e - 8 / 255) < 1e-6 ? '8/255' : String(e));

const args = process.argv.slice(2);
const refAt = args.indexOf('--ref');
const ref = refAt >= 0 ? args.splice(refAt, 2)[1]! : null;
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1]! : null;
const runs = args.map(rowsOfRun);
const key = (r: Row) => [r.label, r.setting, r.objective, r.method, r.epsilon].join('|');
console.log('| run | setting | objective | craft | ε | SPADV ASR | ÷ white-box | seeds | attacked/seed | middle cos |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const g of pooled(runs.flatMap((r) => r.rows), key).values()) {
  const r = g[0]!;
  const ratios = g.map((x) => x.ratio).filter((x): x is number => x !== null);
  const cos = g.reduce((s, x) => s + x.middleCosine, 0) / g.length;
  console.log(`| ${r.label} | ${r.setting} | ${r.objective} | ${r.method.replace('spadv-', '')} | ${eps(r.epsilon)} | ${iv(g.map((x) => x.asr))} | ${ratioIv(ratios)} | ${g.length} | ${Math.round(g.reduce((s, x) => s + x.attacked, 0) / g.length)} | ${cos.toFixed(3)} |`);
}
console.log('\n| run | baseline | ε | ASR | seeds |');
console.log('|---|---|---|---|---|');
for (const g of pooled(runs.flatMap((r) => r.baselines), (r) => [r.label, r.method, r.epsilon].join('|')).values())
  console.log(`| ${g[0]!.label} | ${g[0]!.method} | ${eps(g[0]!.epsilon)} | ${iv(g.map((x) => x.asr))} | ${g.length} |`);
console.log('\n| run | clean accuracy on the evaluated images | seeds |');
console.log('|---|---|---|');
for (const label of new Set(runs.map((r) => r.label))) {
  const cleans = runs.filter((r) => r.label === label && r.clean !== null).map((r) => r.clean!);
  if (cleans.length) console.log(`| ${label} | ${iv(cleans)} | ${cleans.length} |`);
}

if (ref) {
  const [setting, objective, craft] = ref.split('/');
  const all = runs.flatMap((r) => r.rows);
  const refOf = (r: Row) => all.find((x) => x.label === r.label && x.seed === r.seed && x.epsilon === r.epsilon && x.setting === setting && x.objective === objective && x.method === `spadv-${craft}`);
  console.log(`\n| run | setting | objective | craft | ε | ASR − ${ref} (paired by seed) | seeds |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const g of pooled(all, key).values()) {
    const d = g.flatMap((r) => { const b = refOf(r); return b && b !== r ? [r.asr - b.asr] : []; });
    if (!d.length) continue;
    const r = g[0]!;
    const i = seedInterval(d);
    const pp = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(1)}`;
    console.log(`| ${r.label} | ${r.setting} | ${r.objective} | ${r.method.replace('spadv-', '')} | ${eps(r.epsilon)} | ${pp(i.mean)}${i.halfWidth === null ? '' : ` ± ${(100 * i.halfWidth).toFixed(1)}`} points | ${d.length} |`);
  }
}

if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ runs: runs.map((r) => ({ label: r.label, clean: r.clean, rows: r.rows, baselines: r.baselines })) }, null, 1)}\n`);
