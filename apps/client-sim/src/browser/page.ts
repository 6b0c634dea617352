// Page script (fleet page and join page): runs each client in its own dedicated Web Worker and
// reports worker errors with the client they belong to. Exposed as window.splitfleet.
import * as Comlink from 'comlink';
import type { BrowserWorkerApi } from './worker.ts';
import type { BrowserBackendRequest } from './backend.ts';
import type { ClientOutcome, WorkerBackend } from '../worker-api.ts';

interface Hosted {
  readonly worker: Worker;
  readonly api: Comlink.Remote<BrowserWorkerApi>;
  readonly slot: number;
  clientId: number | null;
}

const hosted: Hosted[] = [];
const errors: string[] = [];

function spawn(slot: number): Hosted {
  const worker = new Worker('/client/worker.js', { type: 'module', name: `splitfleet-client-${slot}` });
  const h: Hosted = { worker, api: Comlink.wrap<BrowserWorkerApi>(worker), slot, clientId: null };
  worker.addEventListener('error', (e) => errors.push(`client ${h.clientId ?? `slot ${slot}`}: worker error: ${e.message}`));
  worker.addEventListener('messageerror', () => errors.push(`client ${h.clientId ?? `slot ${slot}`}: undecodable worker message`));
  return h;
}

export interface StartOptions {
  readonly serverUrl?: string;
  readonly slots: number[];
  readonly tokens: (string | null)[] | null;
  readonly backend: BrowserBackendRequest;
  readonly fleetId: string;
}

const api = {
  /** One Web Worker per client: init the backend, connect, join. Resolves with ids and backends. */
  async start(o: StartOptions): Promise<{ clientIds: number[]; backends: WorkerBackend[] }> {
    const url = o.serverUrl ?? location.origin;
    const mine = o.slots.map((slot) => spawn(slot));
    hosted.push(...mine);
    const backends = await Promise.all(mine.map((h) => h.api.init(o.backend)));
    const clientIds = await Promise.all(
      mine.map(async (h, i) => {
        const t = o.tokens?.[i];
        const [id] = await h.api.join(url, [h.slot], o.fleetId, t ? [t] : null);
        h.clientId = id!;
        return id!;
      }),
    );
    return { clientIds, backends };
  },

  /** Resolves when every client ended; the logs and worker errors of all of them come along. */
  async untilEnded(): Promise<{ outcomes: ClientOutcome[]; logs: string[]; errors: string[] }> {
    const outcomes = (await Promise.all(hosted.map((h) => h.api.untilEnded()))).flat();
    const logs = (await Promise.all(hosted.map((h) => h.api.drainLogs()))).flat();
    return { outcomes, logs, errors: errors.slice() };
  },

  async progress(): Promise<{ clientId: number | null; rounds: number }[]> {
    return (await Promise.all(hosted.map((h) => h.api.progress()))).flat();
  },

  async leave(): Promise<void> {
    await Promise.all(hosted.map((h) => h.api.leave()));
  },

  async drainLogs(): Promise<string[]> {
    return (await Promise.all(hosted.map((h) => h.api.drainLogs()))).flat();
  },

  errors(): string[] {
    return errors.slice();
  },

  /**
   * Runs the seeded training self-test (WorkerApi.trainingSelfTest) in fresh workers on two
   * backends and compares them: losses per step and the largest weight difference.
   */
  async compareBackends(a: BrowserBackendRequest, b: BrowserBackendRequest, steps: number): Promise<{ info: WorkerBackend[]; losses: number[][]; maxWeightDiff: number; finite: boolean }> {
    const run = async (backend: BrowserBackendRequest) => {
      const h = spawn(-1);
      try {
        const info = await h.api.init(backend);
        return { info, ...(await h.api.trainingSelfTest(steps)) };
      } finally {
        h.worker.terminate();
      }
    };
    const [ra, rb] = [await run(a), await run(b)];
    let max = 0;
    let finite = true;
    ra.weights.forEach((w, i) => w.forEach((v, j) => {
      const u = rb.weights[i]![j]!;
      if (!Number.isFinite(v) || !Number.isFinite(u)) finite = false;
      max = Math.max(max, Math.abs(v - u));
    }));
    return { info: [ra.info, rb.info], losses: [ra.losses, rb.losses], maxWeightDiff: max, finite };
  },
};

export type PageApi = typeof api;
(globalThis as unknown as { splitfleet: PageApi }).splitfleet = api;
