// Node worker_thread entry: hosts several simulated clients on one tfjs backend, driven by comlink.
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { initBackend, type AutoChoice, type BackendRequest } from './node/backend.ts';
import { readDatasetCached } from './node/data.ts';
import { makeWorkerApi } from './worker-api.ts';

export type { ClientOutcome } from './worker-api.ts';

/** What the fleet hands every worker at start (startFleet). */
export interface FleetWorkerData {
  /** `auto` as the fleet decided it once for all its workers (null: the fleet did not ask for auto). */
  readonly autoBackend: AutoChoice | null;
}

const fromFleet = (workerData ?? { autoBackend: null }) as FleetWorkerData;

const api = makeWorkerApi<BackendRequest>({
  runtime: 'node',
  initBackend: (requested) => initBackend(requested, fromFleet.autoBackend ?? undefined),
  loadDataset: (name, dir) => readDatasetCached(name, dir),
  residentBytes: () => process.memoryUsage().rss,
  userAgent: null,
});

export type WorkerApi = typeof api;

if (!parentPort) throw new Error('worker.ts must run as a worker_thread');
Comlink.expose(api, nodeEndpoint(parentPort));
