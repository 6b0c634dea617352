import { Rng } from '../rng/rng.ts';

/** A simulated device: how fast it computes, how fast it talks, how often it is there. */
export interface ClientProfile {
  /** Multiplies measured compute time (1 = this machine). */
  readonly computeSlowdown: number;
  readonly uplinkMbps: number;
  readonly downlinkMbps: number;
  /** One-way latency per message. */
  readonly latencyMs: number;
  /** Probability that the client is unavailable in a round. */
  readonly dropoutProbability: number;
  /** Optional availability trace: rounds in [from, to) during which the client is online. */
  readonly onlineRounds?: readonly (readonly [number, number])[];
  readonly tier: string;
}

export const NETWORK_TIERS: Readonly<Record<string, { up: number; down: number; latencyMs: number }>> = {
  '3g': { up: 0.4, down: 1.5, latencyMs: 150 },
  '4g': { up: 5, down: 20, latencyMs: 50 },
  wifi: { up: 20, down: 50, latencyMs: 10 },
  lan: { up: 1000, down: 1000, latencyMs: 0.5 },
};

export interface ProfileConfig {
  /** σ of the log-normal compute slowdown (median 1); 0 = homogeneous. */
  readonly computeSigma: number;
  /** Mixture weights over NETWORK_TIERS names. */
  readonly network: Readonly<Record<string, number>>;
  readonly dropoutProbability: number;
}

export function drawProfiles(cfg: ProfileConfig, clients: number, seed: number): ClientProfile[] {
  if (!(cfg.computeSigma >= 0)) throw new Error(`profiles.computeSigma must be ≥ 0, got ${cfg.computeSigma}`);
  if (!(cfg.dropoutProbability >= 0 && cfg.dropoutProbability < 1)) throw new Error(`profiles.dropoutProbability must be in [0, 1), got ${cfg.dropoutProbability}`);
  const tiers = Object.entries(cfg.network);
  for (const [t, w] of tiers) {
    if (!NETWORK_TIERS[t]) throw new Error(`profiles.network: unknown tier "${t}"; known: ${Object.keys(NETWORK_TIERS).join(', ')}`);
    if (!(w >= 0)) throw new Error(`profiles.network.${t} must be a weight ≥ 0, got ${w}`);
  }
  const total = tiers.reduce((a, [, w]) => a + w, 0);
  if (!(total > 0)) throw new Error('profiles.network needs at least one tier with weight > 0');
  const rng = Rng.fromSeed(seed).fork('profiles');
  return Array.from({ length: clients }, () => {
    let r = rng.float() * total;
    const [tier] = tiers.find(([, w]) => (r -= w) <= 0) ?? tiers[tiers.length - 1]!;
    const t = NETWORK_TIERS[tier]!;
    return {
      computeSlowdown: Math.exp(cfg.computeSigma * rng.normal()),
      uplinkMbps: t.up, downlinkMbps: t.down, latencyMs: t.latencyMs,
      dropoutProbability: cfg.dropoutProbability, tier,
    };
  });
}

/**
 * Parses a profile trace (docs/population.md): JSON array of objects with the ClientProfile fields,
 * or CSV with header `computeSlowdown,uplinkMbps,downlinkMbps,latencyMs,dropoutProbability[,online]`
 * where `online` is `from-to;from-to` round ranges.
 */
export function parseProfileTrace(text: string, name: string): ClientProfile[] {
  const t = text.trim();
  const check = (p: ClientProfile, k: number): ClientProfile => {
    for (const f of ['computeSlowdown', 'uplinkMbps', 'downlinkMbps'] as const)
      if (!(p[f] > 0)) throw new Error(`${name}: client ${k}: ${f} must be > 0, got ${p[f]}`);
    if (!(p.latencyMs >= 0)) throw new Error(`${name}: client ${k}: latencyMs must be ≥ 0, got ${p.latencyMs}`);
    if (!(p.dropoutProbability >= 0 && p.dropoutProbability < 1)) throw new Error(`${name}: client ${k}: dropoutProbability must be in [0, 1), got ${p.dropoutProbability}`);
    return p;
  };
  if (t.startsWith('[')) {
    const arr = JSON.parse(t) as Partial<ClientProfile>[];
    return arr.map((p, k) => check({ tier: 'trace', dropoutProbability: 0, latencyMs: 0, ...p } as ClientProfile, k));
  }
  const [head, ...rows] = t.split(/\r?\n/).filter((l) => l.trim());
  const cols = (head ?? '').split(',').map((c) => c.trim());
  return rows.map((line, k) => {
    const v = Object.fromEntries(line.split(',').map((x, i) => [cols[i], x.trim()]));
    const online = v.online ? (v.online as string).split(';').map((r: string) => r.split('-').map(Number) as [number, number]) : undefined;
    return check({
      computeSlowdown: Number(v.computeSlowdown), uplinkMbps: Number(v.uplinkMbps), downlinkMbps: Number(v.downlinkMbps),
      latencyMs: Number(v.latencyMs ?? 0), dropoutProbability: Number(v.dropoutProbability ?? 0), tier: 'trace',
      ...(online ? { onlineRounds: online } : {}),
    }, k);
  });
}

/** Traffic of one client in one round, as the server counted it. */
export interface Traffic {
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly messages: number;
}

/**
 * The virtual clock: simulated seconds for a client's round = measured compute × slowdown + its
 * activation/gradient traffic over its links + one latency per message.
 */
export function simulatedSeconds(p: ClientProfile, computeSeconds: number, t: Traffic): number {
  return computeSeconds * p.computeSlowdown + (t.bytesUp * 8) / (p.uplinkMbps * 1e6) + (t.bytesDown * 8) / (p.downlinkMbps * 1e6) + (t.messages * p.latencyMs) / 1000;
}
