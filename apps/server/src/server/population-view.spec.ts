import { describe, expect, it } from 'vitest';
import { summarizeNonIid } from '@splitfleet/splitcore';
import { LISTED_CLIENTS, populationCsvChunks, populationView, type PopulationSource } from './population-view.ts';

const profile = { computeSlowdown: 1, uplinkMbps: 10, downlinkMbps: 20, latencyMs: 5, dropoutProbability: 0, tier: 'wifi' };
const source = (counts: number[][]): PopulationSource => ({ size: counts.length, counts: (i) => counts[i]!, profile: () => profile, inputNoise: () => 0 });

describe('results.json population: listed for small fleets, distributions and a CSV for large ones', () => {
  it('lists every client up to LISTED_CLIENTS', () => {
    const counts = [[3, 0], [0, 2]];
    const v = populationView(source(counts));
    expect(v.registered).toBe(2);
    expect(v.clients).toHaveLength(2);
    expect(v.distributions).toBeUndefined();
  });

  it('beyond it keeps distributions (label skew over the clients that hold data) and streams one CSV row per client', () => {
    const n = LISTED_CLIENTS + 500;
    // every third client holds nothing; the others one class each
    const counts = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? [0, 0] : i % 3 === 1 ? [2, 0] : [0, 1]));
    const v = populationView(source(counts));
    expect(v).toMatchObject({ registered: n, clients: [], profiles: [], inputNoise: [], rowsFile: 'population.csv' });
    expect(v.distributions!.samples.count).toBe(n);
    expect(v.distributions!.hellinger.count).toBe(n - Math.ceil(n / 3));
    expect(JSON.stringify(v).length).toBeLessThan(10_000);
    // the means are those of the listed summary of the same clients (computed client by client, never held)
    const listed = summarizeNonIid(counts);
    for (const k of ['meanHellinger', 'maxHellinger', 'meanJensenShannon', 'maxJensenShannon', 'meanEmd'] as const) expect(v[k]).toBeCloseTo(listed[k], 12);
    expect(v.global).toEqual(listed.global);
    const csv = [...populationCsvChunks(source(counts), 400)].join('').trim().split('\n');
    expect(csv).toHaveLength(n + 1);
    expect(csv[0]).toBe('id,samples,hellinger,jensenShannon,emd,computeSlowdown,uplinkMbps,downlinkMbps,latencyMs,dropoutProbability,tier,class0,class1');
    expect(csv[2]).toMatch(/^1,2,[\d.]+,[\d.]+,[\d.]+,1,10,20,5,0,wifi,2,0$/);
    expect(csv[1]).toBe('0,0,,,,1,10,20,5,0,wifi,0,0'); // no data: label skew left empty
  });
});
