import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../experiment/atomic.ts';
import { readAttack, readResults, type RunResults } from '../experiment/results.ts';
import { DATASET_INPUT } from '../experiment/model-config.ts';
import { cellIntervals, primaryIntervals, type AttackReport } from '@splitfleet/attack';
import { formatBootstrapBounds, strategyFor, type BootstrapInterval } from '@splitfleet/splitcore';

/** Renders a Vega-Lite spec to an SVG string, headless (no browser, no canvas). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  // loaded on first use: every CLI command imports this module, and vega costs a training server ≈ 16 MB resident
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

/** A grayscale or RGB image ([0,1] floats, HWC) as a PNG data URI, scaled up `zoom` times. */
export function imageDataUri(pixels: ArrayLike<number>, h: number, w: number, c: number, zoom = 3): string {
  const png = new PNG({ width: w * zoom, height: h * zoom });
  for (let y = 0; y < h * zoom; y++)
    for (let x = 0; x < w * zoom; x++) {
      const base = (Math.floor(y / zoom) * w + Math.floor(x / zoom)) * c;
      const o = (y * w * zoom + x) * 4;
      for (let k = 0; k < 3; k++) png.data[o + k] = Math.round(255 * Math.min(1, Math.max(0, pixels[base + (c === 1 ? 0 : k)]!)));
      png.data[o + 3] = 255;
    }
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

function rowsOf(r: RunResults) {
  const rounds = r.rounds.map((x) => ({ round: x.round + 1, testAccuracy: x.testAccuracy, testLoss: x.testLoss, trainLoss: x.trainLoss, wallSeconds: x.wallSeconds, simulatedSeconds: x.simulatedSeconds ?? null, participants: x.participants.length, dropped: x.dropped.length }));
  const clients = r.rounds.flatMap((x) => x.clients.map((c) => ({ round: x.round + 1, ...c })));
  return { rounds, clients };
}

function attackRows(a: AttackReport | undefined) {
  if (!a) return [];
  return a.objectives.flatMap((o) => o.targets.flatMap((t) => t.suite.cells.map((c) => ({
    objective: o.objective, target: t.label, method: c.method, epsilon: c.epsilon, successRate: c.successRate,
    robustAccuracy: c.robustAccuracy, cleanAccuracy: c.cleanAccuracy, targetedSuccess: c.targetedSuccess,
    linfMax: c.linfMax, l2Mean: c.l2Mean, evaluated: c.evaluated, seconds: c.seconds, shadowAgreement: t.suite.shadow.agreement,
    smashedCosine: t.suite.shadow.smashedCosine, labelInferenceAccuracy: o.labelInferenceAccuracy,
  }))));
}

type Chart = [title: string, svg: string];
type Rows = ReturnType<typeof rowsOf>;
const W = 420;
const H = 220;

/** A Vega-Lite chart of the report's standard size (fields given are merged over the defaults). */
async function chart(title: string, spec: Record<string, unknown>): Promise<Chart> {
  return [title, await vegaLiteToSvg({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: W, height: H, ...spec } as TopLevelSpec)];
}

async function trainingCharts({ rounds, clients }: Rows, clientsShareModel: boolean): Promise<Chart[]> {
  if (!rounds.length) return [];
  const long = rounds.flatMap((x) => [
    { round: x.round, metric: 'test accuracy', value: x.testAccuracy },
    { round: x.round, metric: 'test loss', value: x.testLoss },
    ...(x.trainLoss !== null ? [{ round: x.round, metric: 'train loss', value: x.trainLoss }] : []),
  ]);
  // where every client holds the averaged model, per-client accuracy curves carry no information
  const perClient = clientsShareModel ? [] : clients.filter((c) => c.testAccuracy !== null);
  return Promise.all([
    chart('Accuracy and loss per round (global)', { data: { values: long }, mark: { type: 'line', point: true }, encoding: { x: { field: 'round', type: 'ordinal' }, y: { field: 'value', type: 'quantitative' }, color: { field: 'metric', type: 'nominal' } } }),
    ...(perClient.length ? [chart('Test accuracy per client', { data: { values: perClient }, mark: { type: 'line', point: true }, encoding: { x: { field: 'round', type: 'ordinal' }, y: { field: 'testAccuracy', type: 'quantitative', scale: { zero: false } }, color: { field: 'id', type: 'nominal', title: 'client' } } })] : []),
    chart('Wall time per round (s)', { data: { values: rounds }, mark: 'bar', encoding: { x: { field: 'round', type: 'ordinal' }, y: { field: 'wallSeconds', type: 'quantitative', title: 'seconds' } } }),
  ]);
}

/** The label heat map and client sizes, also written as SVG files next to the report. */
async function populationCharts(results: RunResults, runDir: string): Promise<Chart[]> {
  const dist = results.population?.distributions;
  if (dist) return populationHistograms(dist, results.population!.registered ?? 0, runDir);
  const n = results.clients.length;
  const heat = results.clients.flatMap((c) => c.labelCounts.map((count, k) => ({ client: c.id, class: k, count })));
  if (!heat.length) return [];
  const axis = n > 40 ? { labels: false } : {};
  const [, heatSvg] = await chart('', {
    height: Math.max(80, 8 * Math.min(100, n)), data: { values: n > 100 ? heat.filter((h) => h.client < 100) : heat },
    mark: 'rect', encoding: { x: { field: 'class', type: 'ordinal' }, y: { field: 'client', type: 'ordinal', axis }, color: { field: 'count', type: 'quantitative' } },
  });
  const sizes = results.clients.map((c, i) => ({ client: c.id, samples: c.samples, hellinger: results.population?.clients[i]?.hellinger ?? null }));
  const [, sizeSvg] = await chart('', {
    data: { values: sizes }, mark: 'bar',
    encoding: { x: { field: 'client', type: 'ordinal', axis }, y: { field: 'samples', type: 'quantitative' }, color: { field: 'hellinger', type: 'quantitative', title: 'Hellinger to global' } },
  });
  writeFileAtomic(join(runDir, 'population-heatmap.svg'), heatSvg);
  writeFileAtomic(join(runDir, 'population-sizes.svg'), sizeSvg);
  return [
    [`Label distribution (client × class${n > 100 ? ', first 100 clients' : ''})`, heatSvg],
    ['Samples per client (colour: Hellinger distance to the global label distribution)', sizeSvg],
  ];
}

type Distributions = NonNullable<NonNullable<RunResults['population']>['distributions']>;

/** A population too large to draw client by client: histograms of sizes and label skew (the rows are in population.csv). */
async function populationHistograms(dist: Distributions, registered: number, runDir: string): Promise<Chart[]> {
  const histogram = async (key: string, title: string): Promise<Chart | null> => {
    const d = dist[key];
    if (!d) return null;
    const bars = d.histogram.counts.map((count, k) => ({ from: d.histogram.edges[k]!, to: d.histogram.edges[k + 1]!, count }));
    const [, svg] = await chart('', {
      data: { values: bars }, mark: 'bar',
      encoding: { x: { field: 'from', type: 'quantitative', bin: { binned: true }, title }, x2: { field: 'to' }, y: { field: 'count', type: 'quantitative', title: 'clients' } },
    });
    writeFileAtomic(join(runDir, `population-${key}.svg`), svg);
    const q = d.quantiles;
    return [`${title}: ${d.count.toLocaleString('en')} of ${registered.toLocaleString('en')} registered clients (median ${q.median.toPrecision(3)}, 10–90 % ${q.p10.toPrecision(3)}–${q.p90.toPrecision(3)}; one row per client in population.csv)`, svg];
  };
  const charts = await Promise.all([histogram('samples', 'Samples per client'), histogram('hellinger', 'Hellinger distance to the global label distribution (clients holding data)')]);
  return charts.filter((c): c is Chart => c !== null);
}

async function clockChart(results: RunResults): Promise<Chart[]> {
  if (!results.rounds.length) return [];
  const t = results.rounds.flatMap((x) => [
    { round: x.round + 1, clock: 'simulated', seconds: x.simulatedSeconds },
    { round: x.round + 1, clock: 'wall', seconds: x.wallSeconds },
  ]);
  return [await chart('Simulated vs wall time per round', { data: { values: t }, mark: 'bar', encoding: { x: { field: 'round', type: 'ordinal' }, xOffset: { field: 'clock' }, y: { field: 'seconds', type: 'quantitative' }, color: { field: 'clock', type: 'nominal' } } })];
}

/** Per-client SPADV success against the Hellinger distance of the client's labels to D_aux and against its head's distance from the mean head, coloured by the shadow scope used. */
async function clientScatters(attack: AttackReport): Promise<Chart[]> {
  const pc = attack.perClient.map((c) => ({ client: c.id, asr: c.asr, hellingerToAux: c.hellingerToAux, headDistance: c.headDistance, scope: c.scope }));
  const scatter = (field: 'hellingerToAux' | 'headDistance', title: string) =>
    chart(`SPADV success per client vs ${title} (${attack.primary.method}, ε=${attack.primary.epsilon}; colour: the shadow's scope)`, {
      data: { values: pc.filter((c) => c[field] !== null) }, mark: { type: 'point', filled: true },
      encoding: { x: { field, type: 'quantitative', title }, y: { field: 'asr', type: 'quantitative', title: 'attack success rate' }, color: { field: 'scope', type: 'nominal' }, tooltip: [{ field: 'client' }] },
    });
  return Promise.all([
    ...(pc.some((c) => c.hellingerToAux !== null) ? [scatter('hellingerToAux', 'Hellinger distance of the client\'s labels to D_aux')] : []),
    // all heads equal (the synchronising modes): nothing to plot against
    ...(pc.some((c) => (c.headDistance ?? 0) > 0) ? [scatter('headDistance', 'head distance from the mean head')] : []),
  ]);
}

/** Robust accuracy vs ε for every method with its 95 % interval over the evaluated images (error bars). */
async function robustAccuracyChart(attack: AttackReport): Promise<Chart[]> {
  const values = cellIntervals(attack).map((c) => ({
    method: c.method.startsWith('spadv') ? `${c.method} (${c.objective})` : c.method, epsilon: c.epsilon,
    robustAccuracy: c.robustAccuracy.estimate, low: c.robustAccuracy.low, high: c.robustAccuracy.high,
  }));
  if (!values.length) return [];
  const x = { field: 'epsilon', type: 'quantitative', title: 'ε (L∞)' };
  const color = { field: 'method', type: 'nominal' };
  return [await chart('Robust accuracy vs ε, every method (error bars: 95 % CI over the evaluated images)', {
    data: { values },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'robustAccuracy', type: 'quantitative', title: 'robust accuracy' }, color } },
      { mark: 'errorbar', encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color } },
    ],
  })];
}

async function attackCharts(arows: ReturnType<typeof attackRows>, attack: AttackReport | undefined): Promise<Chart[]> {
  if (!arows.length) return [];
  const charts = [await chart('Attack success rate by method (SPADV vs baselines)', {
    data: { values: arows }, mark: { type: 'line', point: true },
    encoding: { x: { field: 'epsilon', type: 'quantitative', title: 'ε (L∞)' }, y: { field: 'successRate', type: 'quantitative', title: 'attack success rate' }, color: { field: 'method', type: 'nominal' }, strokeDash: { field: 'objective', type: 'nominal' } },
  })];
  if (attack) charts.push(...(await robustAccuracyChart(attack)));
  if (attack?.perClient?.length) {
    const pc = attack.perClient.map((c) => ({ client: c.id, asr: c.asr, robustAccuracy: c.robustAccuracy, hellingerToAux: c.hellingerToAux }));
    charts.push(await chart(`SPADV success per client (${attack.primary.method}, ε=${attack.primary.epsilon}; colour: Hellinger distance of the client's labels to D_aux)`, {
      data: { values: pc }, mark: 'bar',
      encoding: { x: { field: 'client', type: 'ordinal', axis: pc.length > 40 ? { labels: false } : {} }, y: { field: 'asr', type: 'quantitative', title: 'attack success rate' }, color: { field: 'hellingerToAux', type: 'quantitative', title: 'H(client, D_aux)' } },
    }));
    charts.push(...(await clientScatters(attack)));
    const base = [{ attack: 'SPADV', asr: attack.aggregate.asr }, ...Object.entries(attack.baselines).filter(([, m]) => m).map(([k, m]) => ({ attack: k, asr: m!.asr }))];
    charts.push(await chart(`SPADV vs baselines at ε=${attack.primary.epsilon}`, {
      data: { values: base }, mark: 'bar', encoding: { x: { field: 'attack', type: 'nominal', sort: null }, y: { field: 'asr', type: 'quantitative', title: 'attack success rate' }, color: { field: 'attack', type: 'nominal', legend: null } },
    }));
  }
  charts.push(await chart('SPADV success per target model', {
    data: { values: arows.filter((r) => r.method.startsWith('spadv')) }, mark: 'bar',
    encoding: { x: { field: 'target', type: 'nominal' }, xOffset: { field: 'method' }, y: { field: 'successRate', type: 'quantitative' }, color: { field: 'method', type: 'nominal' } },
  }));
  return charts;
}

/** Clean, adversarial and magnified perturbation images of the first target's examples. */
function gallery(results: RunResults, attack: AttackReport | undefined): string {
  const ex = attack?.objectives[0]?.targets[0]?.suite.examples;
  if (!ex || !ex.clean.length) return '';
  const [ih, iw, ic] = DATASET_INPUT[results.config.data.name].inputShape as [number, number, number];
  const cells = ex.clean.map((c, i) => {
    const a = ex.adversarial[i]!;
    const d = a.map((v, j) => 0.5 + (v - c[j]!) / (2 * Math.max(ex.epsilon, 1e-9)));
    return `<tr><td><img src="${imageDataUri(c, ih, iw, ic)}"></td><td><img src="${imageDataUri(a, ih, iw, ic)}"></td><td><img src="${imageDataUri(d, ih, iw, ic)}"></td></tr>`;
  });
  return `<h2>Clean vs adversarial (${ex.method}, ε=${ex.epsilon})</h2><table class="g"><tr><th>clean</th><th>adversarial</th><th>perturbation (magnified to ±ε)</th></tr>${cells.join('')}</table>`;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : (100 * v).toFixed(1) + '%');

function attackTables(attack: AttackReport | undefined, arows: ReturnType<typeof attackRows>): string {
  if (!attack) return '';
  const perClient = attack.perClient?.length
    ? `<h2>SPADV per client (${attack.primary.method}, ${attack.primary.objective}, ε=${attack.primary.epsilon})</h2><p>Test set re-weighted to each client's label distribution; H = Hellinger distance between the client's labels and D_aux's.</p><table><tr><th>client</th><th>samples</th><th>H(aux)</th><th>shadow</th><th>clean</th><th>robust</th><th>ASR</th><th>÷ own white-box</th><th>head distance</th></tr>${attack.perClient.map((c) => `<tr><td>${c.id}</td><td>${c.samples}</td><td>${c.hellingerToAux === null ? '–' : c.hellingerToAux.toFixed(3)}</td><td>${c.shadow}${c.fallback ? ' (fallback)' : ''}</td><td>${pct(c.cleanAccuracy)}</td><td>${pct(c.robustAccuracy)}</td><td>${pct(c.asr)}</td><td>${c.ratioToWhitebox === null ? '–' : c.ratioToWhitebox.toFixed(2) + '×'}</td><td>${c.headDistance === null ? '–' : c.headDistance.toFixed(3)}</td></tr>`).join('')}</table>`
    : '';
  return `${perClient}<h2>Attack summary</h2><table><tr><th>objective</th><th>target</th><th>method</th><th>ε</th><th>success</th><th>robust acc.</th><th>L2 mean</th><th>shadow agreement</th><th>label inference</th></tr>${arows.map((r) => `<tr><td>${r.objective}</td><td>${r.target}</td><td>${r.method}</td><td>${r.epsilon}</td><td>${pct(r.successRate)}</td><td>${pct(r.robustAccuracy)}</td><td>${r.l2Mean.toFixed(2)}</td><td>${pct(r.shadowAgreement)}</td><td>${pct(r.labelInferenceAccuracy)}</td></tr>`).join('')}</table>`;
}

/** ASR with its 95 % interval over this run's evaluated images (one run: image noise only). */
function withInterval(i: BootstrapInterval | null | undefined, fallback: number): string {
  return i ? `${formatBootstrapBounds(i, 'percent')} <small>(estimate [95 % CI] over the evaluated images)</small>` : pct(fallback);
}

/** The answer first: accuracy, SPADV success with its interval, ÷ white-box, the strongest baseline, label inference. */
function summaryPanel(results: RunResults, attack: AttackReport | undefined): string {
  const items: [string, string][] = [['final test accuracy', results.final ? pct(results.final.testAccuracy) : '–']];
  if (attack) {
    const p = attack.primary;
    const iv = primaryIntervals(attack);
    const wb = attack.baselines.whiteBox;
    const others = Object.entries(attack.baselines).filter(([k, m]) => k !== 'whiteBox' && m).sort(([, a], [, b]) => b!.asr - a!.asr);
    const ratio = iv?.ratioToWhitebox
      ? `${formatBootstrapBounds(iv.ratioToWhitebox, 'ratio')} <small>(estimate [95 % CI])</small>`
      : attack.relativeToWhitebox === null ? '–' : `${attack.relativeToWhitebox.toFixed(2)}×`;
    items.push(
      [`SPADV ASR (${p.method}, ${p.objective}, ε=${p.epsilon}; over correctly classified images)`, withInterval(iv?.asr, attack.aggregate.asr)],
      [`÷ white-box (${wb?.method ?? 'not run'}: ${wb ? pct(wb.asr) : '–'})`, ratio],
      ['strongest other baseline', others.length ? `${others[0]![1]!.method} ${pct(others[0]![1]!.asr)}` : '–'],
      ['label inference from gradients', pct(attack.objectives[0]?.labelInferenceAccuracy)],
    );
  }
  const defences = results.config.defence;
  if (defences.length) items.push(['defences', defences.map((d) => d.kind).join(', ')]);
  if (results.privacy) items.push([`privacy proxy: dCor(test inputs, smashed data sent), ${results.privacy.samples} images`, results.privacy.distanceCorrelation.toFixed(3)]);
  return `<div class="summary">${items.map(([k, v]) => `<div><span>${k}</span><b>${v}</b></div>`).join('')}</div>`;
}

/** Writes rounds.csv, clients.csv, attack.csv and a self-contained report.html into the run directory. */
export async function writeReport(runDir: string): Promise<string> {
  const results = readResults(runDir);
  const attack = results.attack ?? readAttack(runDir);
  const rows = rowsOf(results);
  const arows = attackRows(attack);
  writeFileAtomic(join(runDir, 'rounds.csv'), toCsv(rows.rounds));
  writeFileAtomic(join(runDir, 'clients.csv'), toCsv(rows.clients));
  if (arows.length) writeFileAtomic(join(runDir, 'attack.csv'), toCsv(arows));
  const shared = strategyFor(results.config.training.mode).clientsHold === 'global';
  const charts = [...await attackCharts(arows, attack), ...await trainingCharts(rows, shared), ...await populationCharts(results, runDir), ...await clockChart(results)];
  const final = results.final ? `final test accuracy <b>${pct(results.final.testAccuracy)}</b>, ` : '';
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>splitfleet report ${results.runId}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1em}figure{margin:0;overflow-x:auto}.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:.6em;margin:1em 0}.summary div{border:1px solid #ccc;border-radius:6px;padding:.6em}.summary span{display:block;font-size:12px;color:#555}.summary b{font-size:18px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}table.g img{image-rendering:pixelated}</style></head><body>
<h1>splitfleet run ${results.runId}</h1>
<p>${final}${results.rounds.length} rounds, ${results.clients.length} clients, mode ${results.config.training.mode}, backend ${results.backend}, seed ${results.seed}, status ${results.status}, ${results.timings.wallSeconds.toFixed(1)} s.</p>
${summaryPanel(results, attack)}
<div class="charts">${charts.map(([t, svg]) => `<figure><figcaption>${t}</figcaption>${svg}</figure>`).join('\n')}</div>
${attackTables(attack, arows)}
${gallery(results, attack)}
<h2>Configuration</h2><pre>${JSON.stringify(results.config, null, 2).replace(/</g, '&lt;')}</pre>
</body></html>`;
  const path = join(runDir, 'report.html');
  writeFileAtomic(path, html);
  return path;
}
