import type { RunResults } from '../experiment/results.ts';
import type { PooledRow } from './pool.ts';
import { defencePoints } from './defence-table.ts';
import type { SweepPoint } from './sweep.ts';

// A study's charts drawn from the pooled rows and the runs' per-client rows (sweep.html).
type Vl = (spec: object) => Promise<string>;
type Chart = [title: string, svg: string];

const pointLabel = (settings: Record<string, unknown>) => Object.entries(settings).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') || 'all';

/** Pooled ASR vs ε per method with 95 % error bars, one panel per grid point. */
export async function pooledCharts(pooled: readonly PooledRow[], vl: Vl): Promise<Chart[]> {
  const values = pooled.filter((r) => r.asr).map((r) => ({
    point: pointLabel(r.settings), epsilon: r.epsilon,
    method: r.objective ? `${r.method} (${r.objective})` : r.method, asr: r.asr!.estimate, low: r.asr!.low, high: r.asr!.high,
  }));
  if (!values.length) return [];
  const x = { field: 'epsilon', type: 'quantitative', title: 'ε (L∞)' };
  return [[`Attack success vs ε with 95 % intervals over seeds and images (${pooled[0]!.runs} runs per point)`, await vl({
    data: { values }, facet: { column: { field: 'point', type: 'nominal', title: null } },
    spec: { width: 220, height: 160, layer: [
      { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'asr', type: 'quantitative', title: 'ASR (correctly classified)' }, color: { field: 'method', type: 'nominal' } } },
      { mark: 'errorbar', encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: { field: 'method', type: 'nominal' } } },
    ] },
  })]];
}

/**
 * Every client of every run: its SPADV success against the Hellinger distance of its labels to
 * D_aux, one colour per grid point with that point's least-squares line — whether a skewed D_aux
 * protects clients unlike it, over all seeds at once.
 */
export async function perClientChart(points: readonly SweepPoint[], results: ReadonlyMap<string, RunResults>, vl: Vl): Promise<Chart[]> {
  const values = points.flatMap((p) => (results.get(p.id)?.attack?.perClient ?? [])
    .filter((c) => c.hellingerToAux !== null)
    .map((c) => ({ point: pointLabel(JSON.parse(p.group) as Record<string, unknown>), seed: p.config.seed, client: c.id, hellingerToAux: c.hellingerToAux, asr: c.asr })));
  if (!values.length) return [];
  const x = { field: 'hellingerToAux', type: 'quantitative', title: 'H(client labels, D_aux)' };
  const y = { field: 'asr', type: 'quantitative', title: 'SPADV ASR (client re-weighted)' };
  const color = { field: 'point', type: 'nominal', title: null };
  return [[`SPADV success per client vs the Hellinger distance of its labels to D_aux (${values.length} clients over all runs; lines: least squares per point)`, await vl({
    data: { values }, width: 420, height: 240,
    layer: [
      { mark: { type: 'point', filled: true, opacity: 0.6 }, encoding: { x, y, color, tooltip: [{ field: 'point' }, { field: 'seed' }, { field: 'client' }] } },
      { transform: [{ regression: 'asr', on: 'hellingerToAux', groupby: ['point'] }], mark: 'line', encoding: { x, y, color } },
    ],
  })]];
}

/** Of (accuracy, ASR) points, those no other point beats on both (higher accuracy and lower ASR). */
export function paretoFront<T extends { accuracy: number; asr: number }>(points: readonly T[]): T[] {
  return points.filter((p) => !points.some((q) => q !== p && q.accuracy >= p.accuracy && q.asr <= p.asr && (q.accuracy > p.accuracy || q.asr < p.asr)));
}

/**
 * A defence study's robustness–utility trade-off: clean accuracy against SPADV's success for every
 * defence and strength (error bars: 95 % intervals; lines join one defence's strengths), the Pareto
 * front ringed in black.
 */
export async function defenceChart(pooled: readonly PooledRow[], vl: Vl): Promise<Chart[]> {
  const values = defencePoints(pooled).filter((p) => p.row.asr && p.row.cleanAccuracy).map((p) => ({
    defence: p.kind, strength: p.strength ?? 0, accuracy: p.row.cleanAccuracy!.mean, asr: p.row.asr!.estimate, low: p.row.asr!.low, high: p.row.asr!.high,
  }));
  if (values.length < 2) return [];
  const front = paretoFront(values);
  const x = { field: 'accuracy', type: 'quantitative', title: 'clean accuracy', scale: { zero: false } };
  const color = { field: 'defence', type: 'nominal' };
  return [[`Clean accuracy vs SPADV success per defence and strength (error bars: 95 % intervals; ringed: the Pareto front, ${front.length} points)`, await vl({
    width: 460, height: 280,
    layer: [
      { data: { values }, mark: { type: 'line', point: true }, encoding: { x, y: { field: 'asr', type: 'quantitative', title: 'SPADV ASR' }, color, order: { field: 'strength' }, tooltip: [{ field: 'defence' }, { field: 'strength' }] } },
      // the bars share the line's axis title (Vega-Lite would otherwise name the axis after both fields)
      { data: { values }, mark: 'errorbar', encoding: { x, y: { field: 'low', type: 'quantitative', title: 'SPADV ASR' }, y2: { field: 'high' }, color } },
      { data: { values: front }, mark: { type: 'point', size: 160, color: 'black', filled: false }, encoding: { x, y: { field: 'asr', type: 'quantitative' } } },
    ],
  })]];
}
