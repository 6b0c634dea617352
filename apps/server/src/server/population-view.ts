import {
  distancesTo, distributionOf, frequencies, pairwiseIndices, summarizeNonIid,
  type ClientProfile, type Distribution, type NonIidSummary,
} from '@splitfleet/splitcore';

/** Up to this many clients, results.json lists every client; beyond, it keeps distributions and the rows go to population.csv. */
export const LISTED_CLIENTS = 1000;
export const POPULATION_CSV = 'population.csv';

/** The clients a view describes, by position (0..size-1): read on demand, so 100,000 of them are never held as objects. */
export interface PopulationSource {
  readonly size: number;
  counts(i: number): number[];
  profile(i: number): ClientProfile;
  inputNoise(i: number): number;
}

/** results.json's `population`: non-IID measures and device profiles, per client or as distributions. */
export interface PopulationView extends NonIidSummary {
  /** Clients described (admitted ones of a standing fleet; every registered one of a population run). */
  readonly registered: number;
  readonly profiles: ClientProfile[];
  readonly inputNoise: number[];
  /**
   * Set when there are more than LISTED_CLIENTS: `clients`, `profiles` and `inputNoise` are then
   * empty. The label-skew distributions are over the clients that hold data.
   */
  readonly distributions?: Record<'samples' | 'hellinger' | 'jensenShannon' | 'emd' | 'computeSlowdown' | 'uplinkMbps', Distribution>;
  /** The file beside results.json holding one row per client, when they are not listed here. */
  readonly rowsFile?: string;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const total = (c: readonly number[]) => c.reduce((a, b) => a + b, 0);

/** The global label mix of the described clients (one pass, nothing kept per client). */
function globalMix(src: PopulationSource): number[] {
  const sum: number[] = [];
  for (let i = 0; i < src.size; i++) src.counts(i).forEach((v, k) => (sum[k] = (sum[k] ?? 0) + v));
  return frequencies(sum);
}

/** A client's distances to the global mix, as summarizeNonIid computes them (a client without data has all-zero frequencies). */
const distances = (counts: readonly number[], g: readonly number[]) => distancesTo(frequencies([...counts]), g);

export function populationView(src: PopulationSource): PopulationView {
  const n = src.size;
  if (n <= LISTED_CLIENTS) return { ...summarizeNonIid(range(n).map((i) => src.counts(i))), registered: n, profiles: range(n).map((i) => src.profile(i)), inputNoise: range(n).map((i) => src.inputNoise(i)) };
  const g = globalMix(src);
  const sizes = new Float64Array(n);
  const keys = ['hellinger', 'jensenShannon', 'emd'] as const;
  // means and maxima over every client, as the listed summary has them; distributions over the clients holding data
  const all = { hellinger: 0, jensenShannon: 0, emd: 0 };
  const top = { hellinger: 0, jensenShannon: 0, emd: 0 };
  const holding = { hellinger: [] as number[], jensenShannon: [] as number[], emd: [] as number[] };
  for (let i = 0; i < n; i++) {
    const c = src.counts(i);
    sizes[i] = total(c);
    const d = distances(c, g);
    for (const k of keys) {
      all[k] += d[k];
      top[k] = Math.max(top[k], d[k]);
      if (sizes[i]! > 0) holding[k].push(d[k]);
    }
  }
  // pairs grow as n²: the pairwise mean is over the clients summarizeNonIid would pick, read alone
  const pairwise = summarizeNonIid(pairwiseIndices(n).map((i) => src.counts(i))).meanPairwiseJensenShannon;
  return {
    global: g, clients: [], registered: n, profiles: [], inputNoise: [], rowsFile: POPULATION_CSV,
    meanHellinger: all.hellinger / n, maxHellinger: top.hellinger, meanJensenShannon: all.jensenShannon / n, maxJensenShannon: top.jensenShannon,
    meanEmd: all.emd / n, meanPairwiseJensenShannon: pairwise,
    distributions: {
      samples: distributionOf(sizes), hellinger: distributionOf(holding.hellinger), jensenShannon: distributionOf(holding.jensenShannon), emd: distributionOf(holding.emd),
      computeSlowdown: distributionOf(Float64Array.from(range(n), (i) => src.profile(i).computeSlowdown)), uplinkMbps: distributionOf(Float64Array.from(range(n), (i) => src.profile(i).uplinkMbps)),
    },
  };
}

/** population.csv, a chunk of rows at a time: id, samples, the distances (empty without data), the profile, the label counts. */
export function* populationCsvChunks(src: PopulationSource, chunk = 5000): Generator<string> {
  const g = globalMix(src);
  const classes = g.length;
  yield `id,samples,hellinger,jensenShannon,emd,computeSlowdown,uplinkMbps,downlinkMbps,latencyMs,dropoutProbability,tier,${range(classes).map((k) => `class${k}`).join(',')}\n`;
  for (let start = 0; start < src.size; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(src.size, start + chunk); i++) {
      const c = src.counts(i);
      const d = total(c) > 0 ? distances(c, g) : null; // no data: label skew undefined, left empty
      const p = src.profile(i);
      lines.push([i, total(c), d?.hellinger ?? '', d?.jensenShannon ?? '', d?.emd ?? '', p.computeSlowdown, p.uplinkMbps, p.downlinkMbps, p.latencyMs, p.dropoutProbability, p.tier, ...c].join(','));
    }
    yield `${lines.join('\n')}\n`;
  }
}
