import type { AttackReport } from '@splitfleet/attack';

/** The shape of results.json (versioned; bump RESULTS_SCHEMA_VERSION on breaking changes). */
export const RESULTS_SCHEMA_VERSION = 1;

export interface ClientRoundResult {
  readonly id: number;
  readonly samples: number;
  readonly steps: number;
  readonly trainLoss: number | null;
  /** Accuracy on the test set of the model this client holds after the round. */
  readonly testAccuracy: number | null;
  readonly testLoss: number | null;
  /** Test accuracy re-weighted by this client's own label distribution. */
  readonly labelWeightedAccuracy: number | null;
  readonly computeSeconds: number | null;
  /** Virtual clock: compute × slowdown + traffic over the client's links + latency per message. */
  readonly simulatedSeconds: number | null;
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Dropped from this round (timeout, disconnect or error). */
  readonly dropped: boolean;
}

export interface RoundResult {
  readonly round: number;
  readonly testAccuracy: number;
  readonly testLoss: number;
  readonly trainLoss: number | null;
  readonly wallSeconds: number;
  readonly simulatedSeconds: number;
  /** Clients chosen for the round (available, sampled and within the deadline). */
  readonly selected: number[];
  readonly notSelected: number[];
  /** Left out because their predicted simulated time exceeded training.deadlineSeconds. */
  readonly stragglers: number[];
  readonly participants: number[];
  readonly dropped: number[];
  readonly clients: ClientRoundResult[];
}

export interface ClientInfo {
  readonly id: number;
  readonly runtime: string;
  readonly backend: string;
  readonly adapter: string | null;
  /** Browser clients: the user agent they reported. */
  readonly userAgent: string | null;
  readonly samples: number;
  readonly labelCounts: number[];
}

export interface RunResults {
  readonly schemaVersion: number;
  readonly runId: string;
  readonly config: unknown;
  readonly seed: number;
  /** Backend of the server's middle. */
  readonly backend: string;
  readonly clientBackends: Record<string, number>;
  readonly environment: { node: string; platform: string; tfjs: string; cpus: number };
  readonly clients: ClientInfo[];
  readonly rounds: RoundResult[];
  readonly population?: unknown;
  readonly final: { testAccuracy: number; testLoss: number } | null;
  readonly timings: { startedAt: string; finishedAt: string | null; wallSeconds: number };
  readonly status: 'running' | 'completed' | 'failed';
  readonly error?: string;
  /** Set when training ended before training.rounds (POST /api/stop on the dashboard). */
  readonly stoppedEarly?: string;
  /** SPADV: perClient[], aggregate, baselines, the attack config, and every objective's full cells. */
  readonly attack?: AttackReport;
}
