import { describe, expect, it } from 'vitest';
import { expandSweep } from './sweep.ts';
import { pooledMarkdown, poolStudy } from './pool.ts';
import type { RunResults } from '../experiment/results.ts';
import { ConfigError } from '../experiment/config.ts';

const cell = (method: string, outcomes: string) => ({ method, epsilon: 0.1, outcomes });

/** A finished run whose one target's cells have the given per-image outcomes. */
function run(seed: number, accuracy: number, spadv: string, whitebox: string, lia = 0.8, clientIds = [0, 1]): RunResults {
  return {
    seed, final: { testAccuracy: accuracy }, timings: { wallSeconds: 1 }, privacy: { distanceCorrelation: accuracy / 2 },
    // two rounds of two clients: (1 + 2 MiB) + (3 + 2 MiB) on the wire, (4 + 8) + 12 messages
    rounds: [{ clients: [{ bytesUp: 2 ** 20, bytesDown: 0, messages: 4 }, { bytesUp: 0, bytesDown: 2 * 2 ** 20, messages: 8 }] }, { clients: [{ bytesUp: 3 * 2 ** 20, bytesDown: 2 * 2 ** 20, messages: 12 }] }],
    attack: {
      primary: { method: 'spadv-pgd' }, epsilons: [0.1],
      objectives: [{ objective: 'observe', labelInferenceAccuracy: lia, shadowSeconds: 1, targets: [{ label: 'global model', clientIds, suite: { shadow: { agreement: 0.5 }, cells: [cell('spadv-pgd', spadv), cell('whitebox-worst', whitebox), cell('noise', '-000')] } }] }],
    },
  } as unknown as RunResults;
}

describe('studies: seeds per grid point, pooled with intervals', () => {
  const spec = { base: { attack: { method: 'spadv' }, partition: { kind: 'dirichlet' } }, grid: { 'partition.alpha': [0.1, 0.5] }, seeds: [1, 2] };

  it('every grid point runs once per seed (and per attacker seed); points of a grid point share a group', () => {
    const points = expandSweep(spec);
    expect(points).toHaveLength(4);
    expect(new Set(points.map((p) => p.id)).size).toBe(4);
    expect(points.map((p) => p.config.seed)).toEqual([1, 2, 1, 2]);
    expect(new Set(points.map((p) => p.group)).size).toBe(2);
    const crossed = expandSweep({ ...spec, auxSeeds: [7, 8, 9] });
    expect(crossed).toHaveLength(12);
    expect(crossed.slice(0, 3).map((p) => p.config.attack.aux.seed)).toEqual([7, 8, 9]);
    expect(expandSweep({ base: {}, seeds: [5, 6] }).map((p) => p.config.seed)).toEqual([5, 6]);
  });

  it('bad seed lists and a seed in the grid of a study are config errors naming the option', () => {
    expect(() => expandSweep({ ...spec, seeds: [] })).toThrow(ConfigError);
    expect(() => expandSweep({ ...spec, seeds: [1, 1] })).toThrow(/seeds: \[1,1\] is not allowed; expected a non-empty list of distinct integers/);
    expect(() => expandSweep({ ...spec, auxSeeds: [0.5] })).toThrow(/auxSeeds/);
    expect(() => expandSweep({ base: {}, grid: { seed: [1, 2] }, seeds: [3] })).toThrow(/grid.seed: set by "seeds"/);
    expect(() => expandSweep({ base: {} } as never)).toThrow(/"grid".*"seeds"/);
  });

  it('pools each grid point over its runs: estimates are the mean over runs, intervals bracket them, baselines stand apart', () => {
    const points = expandSweep(spec);
    // point α=0.1: seed 1 — 3 of 4 images attacked (one misclassified), SPADV fools 1, white-box 3; seed 2 — all attacked, SPADV 2, white-box 2
    const results = new Map([
      [points[0]!.id, run(1, 0.8, '-100', '-111', 0.7)], [points[1]!.id, run(2, 0.9, '1100', '1100', 0.9)],
      [points[2]!.id, run(1, 0.7, '0000', '1111')], // α = 0.5 has one finished run
    ]);
    const rows = poolStudy(points, results);
    const at = (alpha: number, method: string) => rows.find((r) => r.settings['partition.alpha'] === alpha && r.method === method)!;
    const spadv = at(0.1, 'spadv-pgd');
    expect(spadv.settings).toEqual({ 'partition.alpha': 0.1 }); // seeds are what is pooled, not a setting
    expect(spadv).toMatchObject({ objective: 'observe', runs: 2, trainingRuns: 2, images: 8 }); // one row per image: the two clients weigh it, they do not repeat it
    // column means over runs: fooled (1/4 + 2/4)/2, attacked (3/4 + 1)/2, white-box fooled (3/4 + 2/4)/2
    expect(spadv.asr!.estimate).toBeCloseTo(0.375 / 0.875, 12);
    expect(spadv.asrAll!.estimate).toBeCloseTo(0.375 + 1 - 0.875, 12);
    expect(spadv.robustAccuracy!.estimate).toBeCloseTo(0.875 - 0.375, 12);
    expect(spadv.ratioToWhitebox!.estimate).toBeCloseTo(0.375 / 0.625, 12);
    expect(spadv.cleanAccuracy!.mean).toBeCloseTo(0.85, 12);
    expect(spadv.labelInference!.mean).toBeCloseTo(0.8, 12);
    expect(spadv.privacy!.mean).toBeCloseTo(0.425, 12); // one value per training run: (0.8/2 + 0.9/2)/2
    expect(spadv.megabytesPerRound!.mean).toBeCloseTo(4, 12);
    expect(spadv.roundTripsPerRound!.mean).toBeCloseTo(3, 12); // (1 + 2 + 3) forward/backward trips over 2 rounds
    for (const i of [spadv.asr!, spadv.ratioToWhitebox!]) expect(i.low).toBeLessThanOrEqual(i.high);
    expect(at(0.1, 'noise')).toMatchObject({ objective: null, ratioToWhitebox: null, labelInference: null });
    expect(at(0.5, 'spadv-pgd')).toMatchObject({ runs: 1, trainingRuns: 1 });
    expect(at(0.5, 'spadv-pgd').ratioToWhitebox!.estimate).toBe(0);
    const md = pooledMarkdown(rows);
    expect(md).toContain('| 0.1 | observe | 0.1 | spadv-pgd | 2 (2 trained, 8 images) | 85.0 ± ');
    expect(md).toContain('ASR (correct): over the images the real model classifies correctly');
    // the summary leads: one line per grid point, SPADV first, then each baseline, then the ratio
    const summary = md.slice(0, md.indexOf('### Every figure')).split('\n');
    expect(summary[0]).toBe('### ε = 0.1: attack success over the correctly classified images');
    expect(summary[2]).toMatch(/^\| partition\.alpha \| runs \| clean accuracy \| spadv-pgd \(observe\) \| .* \| spadv-pgd \(observe\) ÷ white-box \| label inference \| dCor\(x, z sent\) \| MB per round \| round trips per round \|$/);
    expect(summary.filter((l) => /^\| 0\.(1|5) \|/.test(l))).toHaveLength(2);
    expect(summary.find((l) => l.startsWith('| 0.1 |'))).toContain(`| 2 | 85.0 ± `);
  });

  it('a model serving many clients weighs its images more but does not count them more often: the interval is as wide as with one client', () => {
    const points = expandSweep(spec);
    const images = '1100101101001011010011';
    const one = poolStudy(points, new Map([[points[0]!.id, run(1, 0.8, images, '1'.repeat(images.length), 0.8, [0])]]));
    const eight = poolStudy(points, new Map([[points[0]!.id, run(1, 0.8, images, '1'.repeat(images.length), 0.8, [0, 1, 2, 3, 4, 5, 6, 7])]]));
    const asr = (rows: typeof one) => rows.find((r) => r.method === 'spadv-pgd')!.asr!;
    expect(asr(eight)).toEqual(asr(one));
    expect(asr(one).high - asr(one).low).toBeGreaterThan(0.3); // 22 images: a wide interval, as it should be
  });

  it('a run written before per-image outcomes were recorded pools to no interval rather than a wrong one', () => {
    const points = expandSweep(spec);
    const rows = poolStudy(points, new Map([[points[0]!.id, run(1, 0.8, '', '')]]));
    expect(rows.find((r) => r.method === 'spadv-pgd')).toMatchObject({ runs: 0, asr: null, ratioToWhitebox: null });
  });
});
