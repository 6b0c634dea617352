import { describe, expect, it } from 'vitest';
import { expandSweep, markdownTable, sweepRows, trainingConfig } from './sweep.ts';
import type { RunResults } from '../experiment/results.ts';

const cell = (method: string, epsilon: number, successRate: number) => ({ method, epsilon, successRate, robustAccuracy: 0.5 * (1 - successRate) });

describe('sweep tables', () => {
  const points = expandSweep({ base: { attack: { method: 'spadv' } }, grid: { 'model.cut': [{ headEnd: 2, tailStart: 5 }], 'attack.aux.size': [32, 128] } });

  it('points differing only in attack.* share one training config; others do not', () => {
    expect(points).toHaveLength(2);
    expect(points[0]!.id).not.toBe(points[1]!.id);
    expect(trainingConfig(points[0]!.config)).toEqual(trainingConfig(points[1]!.config));
    const other = expandSweep({ base: { attack: { method: 'spadv' } }, grid: { 'partition.kind': ['iid'], seed: [1, 2] } });
    expect(trainingConfig(other[0]!.config)).not.toEqual(trainingConfig(other[1]!.config));
  });

  it('one row per point × objective × ε with SPADV beside each baseline; object settings stay readable', () => {
    const res = (spadv: number) => ({
      final: { testAccuracy: 0.8 }, timings: { wallSeconds: 1 },
      attack: {
        primary: { method: 'spadv-pgd' }, epsilons: [0.1],
        objectives: [{ objective: 'observe', labelInferenceAccuracy: 0.9, shadowSeconds: 2, targets: [{ suite: { shadow: { agreement: 0.7 }, cells: [cell('spadv-pgd', 0.1, spadv), cell('whitebox-pgd', 0.1, 0.8), cell('noise', 0.1, 0.02)] } }] }],
      },
    }) as unknown as RunResults;
    const rows = sweepRows(points, new Map([[points[0]!.id, res(0.4)], [points[1]!.id, res(0.6)]]));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ 'model.cut': 'headEnd=2 tailStart=5', 'attack.aux.size': 32, objective: 'observe', epsilon: 0.1, spadvAsr: 0.4, whiteBoxAsr: 0.8, noiseAsr: 0.02, transferAsr: null, labelInference: 0.9 });
    expect(rows[1]!.ratioToWhiteBox).toBeCloseTo(0.75);
    const md = markdownTable(rows).split('\n');
    expect(md[0]).toContain('| spadvAsr |');
    expect(md[2]).toContain('headEnd=2 tailStart=5');
    expect(md[2]).not.toContain('[object Object]');
  });
});
