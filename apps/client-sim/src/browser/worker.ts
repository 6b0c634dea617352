// Browser Web Worker entry: the same worker API as the Node worker_thread, on a browser platform.
import * as Comlink from 'comlink';
import { initBrowserBackend, type BrowserBackendRequest } from './backend.ts';
import { loadDatasetOverHttp } from './data.ts';
import { makeWorkerApi } from '../worker-api.ts';

const origin = self.location.origin;
const api = makeWorkerApi<BrowserBackendRequest>({
  runtime: 'browser',
  initBackend: (b) => initBrowserBackend(b, `${origin}/client/wasm/`),
  loadDataset: (name) => loadDatasetOverHttp(origin, name),
  residentBytes: () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null,
  userAgent: navigator.userAgent,
});

export type BrowserWorkerApi = typeof api;
Comlink.expose(api);
