// Pools SPADV's shadow scopes (issue #19) over seeds, per client. Every `<label>-s<seed>` run directory
// given holds one report per scope, `atk-<scope>.json`, and `atk-whitebox.json`, whose per-client rows
// carry each client's own white-box success (`whiteboxAsr`: the strongest white-box attack the report
// ran, re-weighted to that client's labels). Per run and scope:
//   fleet ratio   = mean over clients of SPADV's ASR ÷ mean over clients of the white-box ASR,
//   min ratio     = the worst-served client's ASR ÷ its own white-box ASR,
//   below 0.5×    = clients under half their own white-box success,
// then mean ± 95 % t-interval over seeds, and, with --ref SCOPE, each scope minus that one paired
// within a seed (same models, same images). ASR counts over the images the client's real model
// classifies correctly, re-weighted to the client's label distribution (the report's perClient rows).
// --json FILE writes every per-seed row.
//   node scripts/pool-scopes.ts [--ref fleet] [--json FILE] runs/scopes/local-a0.3-c8-s*
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AttackReportSchema, type AttackReport } from '@splitfleet/attack';
import { formatInterval, formatPercentInterval, seedInterval } from '@splitfleet/splitcore';

interface ScopeRow {
  label: string; scope: string; seed: number; clients: number; shadows: number; shadowSeconds: number;
  meanAsr: number; fleetRatio: number | null; minRatio: number | null; below05: number; undefinedRatios: number; lia: number | null; clean: number; whitebox: number;
}

const read = (f: string): AttackReport => AttackReportSchema.parse(JSON.parse(readFileSync(f, 'utf8')));
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

function rowsOfRun(dir: string): ScopeRow[] {
  const m = /^(.*)-s(\d+)$/.exec(basename(dir));
  if (!m) throw new Error(`${dir}: expected a directory named <label>-s<seed>`);
  const [label, seed] = [m[1]!, Number(m[2])];
  const files = readdirSync(dir).filter((f) => /^atk-.*\.json$/.test(f));
  if (!files.includes('atk-whitebox.json')) throw new Error(`${dir}: no atk-whitebox.json (scripts/studies/fleet-scopes-attack.sh … whitebox)`);
  const whitebox = new Map(read(join(dir, 'atk-whitebox.json')).perClient.map((c) => [c.id, c.whiteboxAsr]));
  return files.filter((f) => f !== 'atk-whitebox.json').map((f) => {
    const r = read(join(dir, f));
    const clients = r.perClient.map((c) => {
      const wb = c.whiteboxAsr ?? whitebox.get(c.id) ?? null;
      if (wb === null) throw new Error(`${dir}/${f}: no white-box success for client ${c.id}`);
      return { asr: c.asr, wb, clean: c.cleanAccuracy };
    });
    // a client no white-box attack moves (e.g. a collapsed model that predicts one class) has no ratio
    const ratios = clients.filter((c) => c.wb > 0).map((c) => c.asr / c.wb);
    const wbMean = mean(clients.map((c) => c.wb));
    const o = r.objectives[0]!;
    return {
      label, scope: f.slice(4, -5), seed, clients: clients.length, shadows: o.shadows.length, shadowSeconds: o.shadowSeconds,
      meanAsr: mean(clients.map((c) => c.asr)), fleetRatio: wbMean > 0 ? mean(clients.map((c) => c.asr)) / wbMean : null,
      minRatio: ratios.length ? Math.min(...ratios) : null, below05: ratios.filter((x) => x < 0.5).length, undefinedRatios: clients.length - ratios.length,
      lia: o.labelInferenceAccuracy, clean: mean(clients.map((c) => c.clean)), whitebox: wbMean,
    };
  });
}

/** Seeds where `f` is defined (a run whose white-box success is 0 has no ratio). */
const defined = (g: readonly ScopeRow[], f: (x: ScopeRow) => number | null): number[] => g.flatMap((x) => (f(x) === null ? [] : [f(x)!]));

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1]! : null;
};
const ref = option('--ref');
const jsonOut = option('--json');
const rows = args.flatMap(rowsOfRun);
const groups = new Map<string, ScopeRow[]>();
for (const r of rows) groups.set(`${r.label}|${r.scope}`, [...(groups.get(`${r.label}|${r.scope}`) ?? []), r]);

const pct = (v: number[]) => formatPercentInterval(seedInterval(v));
const times = (v: number[]) => (v.length ? formatInterval(seedInterval(v)) : '–');
const secs = (v: number[]) => formatInterval(seedInterval(v), ' s', 0);
console.log('| fleet | scope | shadows | white-box ASR | SPADV ASR (mean over clients) | fleet ÷ white-box | worst client ÷ own white-box | clients < 0.5× (per seed) | label inference | shadow training | seeds |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const g of groups.values()) {
  const r = g[0]!;
  const lia = g.flatMap((x) => (x.lia === null ? [] : [x.lia]));
  const none = g.reduce((n, x) => n + x.undefinedRatios, 0);
  console.log(`| ${r.label} | ${r.scope} | ${mean(g.map((x) => x.shadows)).toFixed(1)} | ${pct(g.map((x) => x.whitebox))} | ${pct(g.map((x) => x.meanAsr))} | ${times(defined(g, (x) => x.fleetRatio))} | ${times(defined(g, (x) => x.minRatio))} | ${g.map((x) => x.below05).join(', ')} of ${r.clients}${none ? ` (${none} without a ratio)` : ''} | ${lia.length ? pct(lia) : '–'} | ${secs(g.map((x) => x.shadowSeconds))} | ${g.length} |`);
}

if (ref) {
  console.log(`\n| fleet | scope | fleet ratio − ${ref} | worst-client ratio − ${ref} | shadow time ÷ ${ref} | seeds (paired) |`);
  console.log('|---|---|---|---|---|---|');
  for (const g of groups.values()) {
    const pairs = g.flatMap((r) => {
      const b = rows.find((x) => x.label === r.label && x.seed === r.seed && x.scope === ref);
      return b && r.scope !== ref ? [{ r, b }] : [];
    });
    if (!pairs.length) continue;
    const diff = (f: (x: ScopeRow) => number | null) => {
      const d = pairs.flatMap(({ r, b }) => (f(r) === null || f(b) === null ? [] : [f(r)! - f(b)!]));
      if (!d.length) return '–';
      const i = seedInterval(d);
      return `${i.mean >= 0 ? '+' : ''}${formatInterval(i, '')}`;
    };
    console.log(`| ${g[0]!.label} | ${g[0]!.scope} | ${diff((x) => x.fleetRatio)} | ${diff((x) => x.minRatio)} | ${times(pairs.map(({ r, b }) => r.shadowSeconds / b.shadowSeconds))} | ${pairs.length} |`);
  }
}

// every run, for the record: pooled figures are only as good as the rows under them
console.log('\n| fleet | scope | seed | clean accuracy (mean over clients) | white-box ASR | SPADV ASR | fleet ÷ white-box | worst client ÷ own | clients < 0.5× | label inference | shadow training |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
const pc1 = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)} %`);
const x2 = (v: number | null) => (v === null ? '–' : `${v.toFixed(2)}×`);
for (const r of [...rows].sort((a, b) => a.label.localeCompare(b.label) || a.scope.localeCompare(b.scope) || a.seed - b.seed))
  console.log(`| ${r.label} | ${r.scope} | ${r.seed} | ${pc1(r.clean)} | ${pc1(r.whitebox)} | ${pc1(r.meanAsr)} | ${x2(r.fleetRatio)} | ${x2(r.minRatio)} | ${r.below05} of ${r.clients} | ${pc1(r.lia)} | ${r.shadowSeconds.toFixed(0)} s |`);

if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ rows }, null, 1)}\n`);
