import { describe, expect, it } from 'vitest';
import type { AttackCell, SuiteResult } from '../suite-result.ts';
import type { ObjectiveReport } from './report.ts';
import type { AttackReport } from './report.ts';
import { cellIntervals, clientAttackRows, headDistances, spread } from './summarize.ts';

/**
 * One cell over two classes of 10 test samples each, all attacked: class 0's perturbations are small
 * (L∞ ≤ 0.02, L2 0.5 each), class 1's large (L∞ ≤ 0.1, L2 2.0 each).
 */
const cell: AttackCell = {
  method: 'spadv-pgd', epsilon: 0.1, targeted: false, evaluated: 20, cleanAccuracy: 1, robustAccuracy: 0.75, successRate: 0.25, successRateAll: 0.25, outcomes: '10000000001111000000',
  targetedSuccess: null, linfMean: 0.06, linfMax: 0.1, l2Mean: 1.25, l2Max: 2, seconds: 0, queriesPerSample: 1,
  perClass: { total: [10, 10], correct: [10, 10], fooled: [1, 4], hit: [0, 0], targetable: [0, 0], l2Sum: [5, 20], linfMax: [0.02, 0.1] },
};
const suite: SuiteResult = { cleanAccuracy: 1, evaluated: 20, cells: [cell], shadow: { agreement: 1, smashedCosine: 1, channelMeanGap: 0, middleCosine: 1 }, examples: { clean: [], adversarial: [], method: '', epsilon: 0 } };
const targets: ObjectiveReport['targets'] = [{ label: 'global model', clientIds: [0, 1, 2], shadow: 'fleet', suite }];
// client 0 holds only class 0, client 1 only class 1, client 2 three of class 0 for one of class 1
const labels = [0, 0, 0, 0, 1, 1, 1, 1];
const partitions = [[0, 1], [4, 5], [0, 1, 2, 4]];

describe('per-client attack rows', () => {
  const objective: ObjectiveReport = {
    objective: 'observe', shadowSeconds: 1, shadowFinalLoss: 0, labelInferenceAccuracy: 0.9, relativeToWhitebox: [], targets,
    shadows: [{ key: 'fleet', scope: 'fleet', clientIds: [0, 1, 2], fallbackIds: [], observedSamples: 64, seconds: 1, finalLoss: 0, labelInferenceAccuracy: 0.9, observedBytes: 0, weightBytes: 0, targetMap: null }],
  };
  const rows = clientAttackRows(objective, 'spadv-pgd', 0.1, false, { labels, partitions, classes: 2, auxClassShare: [0.5, 0.5] });

  it('measure the perturbation over the client’s own re-weighted evaluation, not the whole cell’s', () => {
    expect(rows.map((r) => r.linfMax)).toEqual([0.02, 0.1, 0.1]);
    expect(rows[0]!.l2Mean).toBeCloseTo(0.5, 12);
    expect(rows[1]!.l2Mean).toBeCloseTo(2, 12);
    // weights 3/4 and 1/4 on the class means 0.5 and 2.0
    expect(rows[2]!.l2Mean).toBeCloseTo(0.75 * 0.5 + 0.25 * 2, 12);
  });

  it('re-weight success the same way (the ASR each client meets)', () => {
    expect(rows[0]!.asr).toBeCloseTo(0.1, 12);
    expect(rows[1]!.asr).toBeCloseTo(0.4, 12);
    expect(rows[2]!.asr).toBeCloseTo(0.75 * 0.1 + 0.25 * 0.4, 12);
  });

  it('divide by the strongest white-box cell against the same model, re-weighted to the same client', () => {
    const pgdCell: AttackCell = { ...cell, method: 'whitebox-pgd', perClass: { ...cell.perClass, fooled: [2, 5] } };
    const worst: AttackCell = { ...cell, method: 'whitebox-worst', perClass: { ...cell.perClass, fooled: [5, 10] } };
    const withWb: ObjectiveReport = { ...objective, targets: [{ ...targets[0]!, suite: { ...suite, cells: [cell, pgdCell, worst] } }] };
    const r = clientAttackRows(withWb, 'spadv-pgd', 0.1, false, { labels, partitions, classes: 2, auxClassShare: [0.5, 0.5] });
    // the worst case (not PGD) is the yardstick: classes 0 and 1 fall 50 % and 100 % of the time
    expect(r.map((x) => x.whiteboxAsr)).toEqual([0.5, 1, 0.75 * 0.5 + 0.25 * 1]);
    expect(r[0]!.ratioToWhitebox).toBeCloseTo(0.1 / 0.5, 12);
    expect(r[2]!.ratioToWhitebox).toBeCloseTo((0.75 * 0.1 + 0.25 * 0.4) / 0.625, 12);
    expect(rows.map((x) => x.whiteboxAsr)).toEqual([null, null, null]);
  });
});

describe('per-client spread and head distances', () => {
  it('spread gives min, median (mean of the middle two for an even count) and max; null for none', () => {
    expect(spread([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4 });
    expect(spread([])).toBeNull();
  });

  it('head distance is ‖h_i − h̄‖ / ‖h̄‖ (hand-computed), 0 for clients sharing one head', () => {
    const d = headDistances(new Map([[0, [Float32Array.from([1, 0])]], [1, [Float32Array.from([3, 0])]]]));
    // mean (2, 0): each head is 1 away, ‖h̄‖ = 2
    expect([...d.entries()]).toEqual([[0, 0.5], [1, 0.5]]);
    const same = headDistances(new Map([[4, [Float32Array.from([1, 2])]], [7, [Float32Array.from([1, 2])]]]));
    expect([...same.values()]).toEqual([0, 0]);
  });
});

describe('cell intervals (report.html robust accuracy vs ε)', () => {
  it('every cell gets its figure as the estimate and an interval around it; cells without outcomes are left out', () => {
    const noise: AttackCell = { ...cell, method: 'noise', outcomes: '00000000000000000001', successRate: 0.05, successRateAll: 0.05, robustAccuracy: 0.95 };
    const old: AttackCell = { ...cell, method: 'whitebox-pgd', outcomes: undefined as never };
    const objective: ObjectiveReport = { objective: 'observe', shadowSeconds: 1, shadowFinalLoss: 0, labelInferenceAccuracy: 0.9, relativeToWhitebox: [], targets: [{ ...targets[0]!, suite: { ...suite, cells: [cell, noise, old] } }], shadows: [] };
    const got = cellIntervals({ objectives: [objective] } as unknown as AttackReport);
    expect(got.map((c) => c.method)).toEqual(['spadv-pgd', 'noise']);
    for (const [c, want] of [[got[0]!, cell], [got[1]!, noise]] as const) {
      expect(c.asr.estimate).toBeCloseTo(want.successRate, 12);
      expect(c.robustAccuracy.estimate).toBeCloseTo(want.robustAccuracy, 12);
      expect(c.asr.low).toBeLessThanOrEqual(c.asr.estimate);
      expect(c.asr.high).toBeGreaterThanOrEqual(c.asr.estimate);
      expect(c.asr.high - c.asr.low).toBeGreaterThan(0);
    }
  });
});
