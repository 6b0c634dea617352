import { describe, expect, it } from 'vitest';
import { vegaLiteToSvg } from '../output/report.ts';
import type { TopLevelSpec } from 'vega-lite';
import { defenceTargetMarkdown } from './defence-table.ts';
import type { PooledRow } from './pool.ts';
import { defenceChart, paretoFront } from './study-charts.ts';

const iv = (v: number) => ({ runs: 3, rows: 900, estimate: v, low: v - 0.05, high: v + 0.05, resamples: 2000 });
const seeds = (v: number) => ({ n: 3, mean: v, sd: 0.01, halfWidth: 0.02 });
function row(defence: unknown, asr: number, accuracy: number, mb = 10, trips = 100): PooledRow {
  return {
    settings: { defence }, objective: 'observe', epsilon: 0.1, method: 'spadv-pgd', runs: 3, trainingRuns: 3, images: 900,
    cleanAccuracy: seeds(accuracy), asr: iv(asr), asrAll: iv(asr), robustAccuracy: iv(1 - asr), ratioToWhitebox: iv(asr / 0.7),
    labelInference: seeds(0.9), privacy: seeds(0.8), megabytesPerRound: seeds(mb), roundTripsPerRound: seeds(trips),
  };
}

// undefended SPADV: 50 %; the ≤ 0.3× target is 15 %
const rows = [
  row([], 0.5, 0.8),
  row({ kind: 'smashed-noise', sigma: 0.1 }, 0.4, 0.79), row({ kind: 'smashed-noise', sigma: 1 }, 0.12, 0.6),
  row({ kind: 'label-rr', epsilon: 8 }, 0.45, 0.8), row({ kind: 'label-rr', epsilon: 1 }, 0.3, 0.7),
  row({ kind: 'quantise', bits: 8 }, 0.49, 0.8, 3), row({ kind: 'quantise', bits: 1 }, 0.14, 0.7, 1),
  { ...row({ kind: 'noise' }, 0.1, 0.8), method: 'whitebox-pgd', objective: null },
];

describe('the defence study’s answer', () => {
  it('names per defence the weakest strength reaching ≤ 0.3× undefended success, its accuracy cost and traffic — or the strongest tried', () => {
    const md = defenceTargetMarkdown(rows).split('\n');
    expect(md[0]).toContain('≤ 0.3× its undefended success (50.0 ± 5.0 %; spadv-pgd, ε = 0.1)');
    expect(md).toContain('| smashed-noise | sigma = 1 | 12.0 ± 5.0 % | 60.0 ± 2.0 % | -20.0 points | 1.00× (round trips 1.00×) |');
    // label-rr protects more as ε falls: ε = 1 was the strongest tried, and it stays above 15 %
    expect(md).toContain('| label-rr | not reached (strongest tried: epsilon = 1) | 30.0 ± 5.0 % | 70.0 ± 2.0 % | -10.0 points | 1.00× (round trips 1.00×) |');
    // quantisation reaches it at 1 bit, with a tenth of the traffic
    expect(md).toContain('| quantise | bits = 1 | 14.0 ± 5.0 % | 70.0 ± 2.0 % | -10.0 points | 0.10× (round trips 1.00×) |');
  });

  it('counts adversarial training’s round trips beside its bytes (each PGD step one more)', () => {
    const md = defenceTargetMarkdown([...rows, row({ kind: 'adversarial', epsilon: 0.1 }, 0.1, 0.75, 40, 400)]).split('\n');
    expect(md).toContain('| adversarial | epsilon = 0.1 | 10.0 ± 5.0 % | 75.0 ± 2.0 % | -5.0 points | 4.00× (round trips 4.00×) |');
  });

  it('is empty for a study without a defence grid', () => {
    expect(defenceTargetMarkdown(rows.map((r) => ({ ...r, settings: { 'partition.alpha': 0.1 } })))).toBe('');
  });

  it('the Pareto front keeps exactly the points no other beats on accuracy and success at once', () => {
    const pts = [{ accuracy: 0.8, asr: 0.5 }, { accuracy: 0.8, asr: 0.45 }, { accuracy: 0.7, asr: 0.14 }, { accuracy: 0.7, asr: 0.3 }, { accuracy: 0.6, asr: 0.12 }];
    expect(paretoFront(pts)).toEqual([{ accuracy: 0.8, asr: 0.45 }, { accuracy: 0.7, asr: 0.14 }, { accuracy: 0.6, asr: 0.12 }]);
  });

  it('draws the trade-off chart with the front ringed', async () => {
    const vl = (spec: object) => vegaLiteToSvg({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec } as TopLevelSpec);
    const [[title, svg]] = (await defenceChart(rows, vl)) as [[string, string]];
    expect(title).toContain('the Pareto front, 4 points');
    expect(svg).toContain('<svg');
  });
});
