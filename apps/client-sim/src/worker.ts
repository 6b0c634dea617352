// Node worker_thread entry: hosts several simulated clients on one tfjs backend, driven by comlink.
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { initBackend, type BackendRequest } from './node/backend.ts';
import { readDatasetCached } from './node/data.ts';
import { makeWorkerApi } from './worker-api.ts';

export type { ClientOutcome } from './worker-api.ts';

const api = makeWorkerApi<BackendRequest>({
  runtime: 'node',
  initBackend,
  loadDataset: (name, dir) => readDatasetCached(name, dir),
  residentBytes: () => process.memoryUsage().rss,
  userAgent: null,
});

export type WorkerApi = typeof api;

if (!parentPort) throw new Error('worker.ts must run as a worker_thread');
Comlink.expose(api, nodeEndpoint(parentPort));
