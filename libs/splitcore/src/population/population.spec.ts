import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { emd, frequencies, hellinger, jensenShannon, summarizeNonIid } from './noniid.ts';
import { drawProfiles, parseProfileTrace, simulatedSeconds } from './profiles.ts';
import { isAvailable, sampleClients } from '../rounds/selection.ts';

describe('non-IID measures', () => {
  it('match hand-computed values', () => {
    const p = [0.5, 0.5, 0];
    const q = [0.25, 0.25, 0.5];
    // Bhattacharyya coefficient = 2·sqrt(0.125) = 0.7071 → H = sqrt(1 − 0.7071)
    expect(hellinger(p, q)).toBeCloseTo(Math.sqrt(1 - 2 * Math.sqrt(0.125)), 12);
    // m = [0.375, 0.375, 0.25]; KL(p‖m) = log2(4/3); KL(q‖m) = 2·0.25·log2(2/3) + 0.5·log2(2)
    const js = (Math.log2(4 / 3) + (0.5 * Math.log2(2 / 3) + 0.5)) / 2;
    expect(jensenShannon(p, q)).toBeCloseTo(Math.sqrt(js), 12);
    expect(emd(p, q)).toBeCloseTo(1, 12);
    expect(hellinger(p, p)).toBe(0);
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 12);
    expect(frequencies([2, 6, 0])).toEqual([0.25, 0.75, 0]);
  });

  it('summarises a population: identical clients are at distance 0, disjoint ones far apart', () => {
    const same = summarizeNonIid([[5, 5], [5, 5]]);
    expect(same.maxHellinger).toBe(0);
    expect(same.meanPairwiseJensenShannon).toBe(0);
    const apart = summarizeNonIid([[10, 0], [0, 10]]);
    expect(apart.meanPairwiseJensenShannon).toBeCloseTo(1, 12);
    expect(apart.clients[0]!.hellinger).toBeCloseTo(Math.sqrt(1 - Math.sqrt(0.5)), 12);
  });

  it('stays finite for subnormal probabilities (fast-check found (p + q)/2 underflowing to 0)', () => {
    expect(jensenShannon([0, 0, 0, 1], [0, 1, 5e-324, 0])).toBeCloseTo(1, 12);
    expect(jensenShannon([0, 1, 5e-324, 0], [0, 0, 0, 1])).toBeCloseTo(1, 12);
  });

  it('distances are symmetric and in [0, 1]', () => {
    const dist = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }).filter((a) => a.some((v) => v > 0)).map((a) => frequencies(a));
    fc.assert(fc.property(dist, dist, (p, q) => {
      for (const f of [hellinger, jensenShannon]) {
        expect(f(p, q)).toBeCloseTo(f(q, p), 12);
        expect(f(p, q)).toBeGreaterThanOrEqual(0);
        expect(f(p, q)).toBeLessThanOrEqual(1 + 1e-12);
      }
    }));
  });
});

describe('device heterogeneity', () => {
  it('draws seeded profiles from a bandwidth mix and log-normal compute', () => {
    const cfg = { computeSigma: 0.5, network: { '3g': 1, wifi: 3 }, dropoutProbability: 0.1 };
    const a = drawProfiles(cfg, 400, 1);
    expect(drawProfiles(cfg, 400, 1)).toEqual(a);
    const wifi = a.filter((p) => p.tier === 'wifi').length / a.length;
    expect(wifi).toBeGreaterThan(0.65);
    expect(wifi).toBeLessThan(0.85);
    const med = a.map((p) => p.computeSlowdown).sort((x, y) => x - y)[200]!;
    expect(med).toBeGreaterThan(0.85);
    expect(med).toBeLessThan(1.15);
    expect(() => drawProfiles({ ...cfg, network: { '5g': 1 } }, 2, 1)).toThrow(/unknown tier "5g"; known: 3g, 4g, wifi, lan/);
  });

  it('the virtual clock adds compute × slowdown, traffic over the links and latency per message', () => {
    const p = { computeSlowdown: 2, uplinkMbps: 8, downlinkMbps: 16, latencyMs: 10, dropoutProbability: 0, tier: 't' };
    // 1 s compute → 2 s; 1 MB up at 8 Mb/s → 1 s; 2 MB down at 16 Mb/s → 1 s; 4 messages → 0.04 s
    expect(simulatedSeconds(p, 1, { bytesUp: 1e6, bytesDown: 2e6, messages: 4 })).toBeCloseTo(4.04, 12);
  });

  it('reads traces (JSON and CSV with online intervals) and applies availability', () => {
    const csv = 'computeSlowdown,uplinkMbps,downlinkMbps,latencyMs,dropoutProbability,online\n1.5,2,10,40,0,0-2;5-9\n';
    const [p] = parseProfileTrace(csv, 't.csv');
    expect(p!.onlineRounds).toEqual([[0, 2], [5, 9]]);
    expect([0, 1, 2, 5].map((r) => isAvailable(p!, r, 0, 1))).toEqual([true, true, false, true]);
    expect(() => parseProfileTrace('[{"computeSlowdown": 0, "uplinkMbps": 1, "downlinkMbps": 1}]', 'x.json')).toThrow(/x.json: client 0: computeSlowdown must be > 0/);
  });

  it('samples a seeded fraction or count of clients per round', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i);
    expect(sampleClients(ids, 0.2, 3, 1)).toHaveLength(10);
    expect(sampleClients(ids, 0.2, 3, 1)).toEqual(sampleClients(ids, 0.2, 3, 1));
    expect(sampleClients(ids, 0.2, 4, 1)).not.toEqual(sampleClients(ids, 0.2, 3, 1));
    expect(sampleClients(ids, 7, 3, 1)).toHaveLength(7);
    expect(sampleClients(ids, 1, 3, 1)).toEqual(ids);
  });
});
