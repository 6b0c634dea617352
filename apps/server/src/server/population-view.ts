import { distributionOf, type ClientProfile, type Distribution, type NonIidSummary } from '@splitfleet/splitcore';

/** Up to this many clients, results.json lists every client; beyond, it keeps distributions and the rows go to population.csv. */
export const LISTED_CLIENTS = 1000;
export const POPULATION_CSV = 'population.csv';

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

/** The view of a summary (summarizeNonIid of the clients' label counts, in id order) with the clients' profiles. */
export function populationView(s: NonIidSummary, profiles: ClientProfile[], inputNoise: number[]): PopulationView {
  const n = s.clients.length;
  if (n <= LISTED_CLIENTS) return { ...s, registered: n, profiles, inputNoise };
  const of = (f: (i: number) => number) => distributionOf(Float64Array.from({ length: n }, (_, i) => f(i)));
  // label skew of a client without data is undefined (its frequencies are all 0): over the clients that hold some
  const holding = s.clients.flatMap((c, i) => (c.counts.some((v) => v > 0) ? [i] : []));
  const skew = (f: (i: number) => number) => distributionOf(holding.map(f));
  return {
    ...s, clients: [], registered: n, profiles: [], inputNoise: [], rowsFile: POPULATION_CSV,
    distributions: {
      samples: of((i) => s.clients[i]!.counts.reduce((a, b) => a + b, 0)),
      hellinger: skew((i) => s.clients[i]!.hellinger), jensenShannon: skew((i) => s.clients[i]!.jensenShannon), emd: skew((i) => s.clients[i]!.emd),
      computeSlowdown: of((i) => profiles[i]!.computeSlowdown), uplinkMbps: of((i) => profiles[i]!.uplinkMbps),
    },
  };
}

/** population.csv, a chunk of rows at a time: id, samples, the distances, the profile, the label counts. */
export function* populationCsvChunks(s: NonIidSummary, profiles: readonly ClientProfile[], chunk = 5000): Generator<string> {
  const counts = s.clients.map((c) => c.counts);
  const classes = counts[0]?.length ?? 0;
  yield `id,samples,hellinger,jensenShannon,emd,computeSlowdown,uplinkMbps,downlinkMbps,latencyMs,dropoutProbability,tier,${Array.from({ length: classes }, (_, k) => `class${k}`).join(',')}\n`;
  for (let start = 0; start < counts.length; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(counts.length, start + chunk); i++) {
      const c = s.clients[i]!;
      const p = profiles[i]!;
      lines.push([i, c.counts.reduce((a, b) => a + b, 0), c.hellinger, c.jensenShannon, c.emd, p.computeSlowdown, p.uplinkMbps, p.downlinkMbps, p.latencyMs, p.dropoutProbability, p.tier, ...c.counts].join(','));
    }
    yield `${lines.join('\n')}\n`;
  }
}
