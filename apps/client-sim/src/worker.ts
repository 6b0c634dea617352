// Node worker_thread entry: hosts several simulated clients on one tfjs backend, driven by comlink.
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import * as tf from '@tensorflow/tfjs-core';
import { io } from 'socket.io-client';
import { SplitClient, type ClientHost, type ClientSocket } from './client.ts';
import { initBackend, type BackendInfo, type BackendRequest } from './node/backend.ts';
import { readDatasetCached } from './node/data.ts';

let backend: BackendInfo | null = null;
const clients: SplitClient[] = [];
const logs: string[] = [];

export interface ClientOutcome {
  readonly slot: number;
  readonly clientId: number | null;
  readonly rounds: number;
  readonly reason: string;
}

const api = {
  async init(requested: BackendRequest): Promise<BackendInfo> {
    backend = await initBackend(requested);
    return backend;
  },

  /** Connects and joins one client per slot; resolves with their client ids. */
  async join(url: string, slots: number[], fleetId: string, tokens: string[] | null): Promise<number[]> {
    if (!backend) throw new Error('init the backend first');
    const host: ClientHost = {
      runtime: 'node',
      backend: backend.backend,
      adapter: backend.adapter,
      loadDataset: (name, dir) => readDatasetCached(name, dir),
      log: (line) => logs.push(line),
    };
    const ids: number[] = [];
    for (const [k, slot] of slots.entries()) {
      const socket: ClientSocket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...(tokens ? { auth: { token: tokens[k] } } : {}) });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (e) => reject(new Error(`client slot ${slot}: cannot connect to ${url}: ${e.message}`)));
      });
      const c = new SplitClient(socket, host, slot, fleetId);
      clients.push(c);
      const a = await c.join().catch((e: Error) => {
        throw new Error(`client slot ${slot}: ${e.message}`);
      });
      ids.push(a.clientId);
    }
    return ids;
  },

  /** Resolves when every client of this worker has ended (server shutdown or disconnect). */
  async untilEnded(): Promise<ClientOutcome[]> {
    const out: ClientOutcome[] = [];
    for (const [i, c] of clients.entries()) {
      const reason = await c.ended;
      out.push({ slot: i, clientId: c.id, rounds: c.rounds, reason });
      c.dispose();
    }
    return out;
  },

  drainLogs(): string[] {
    return logs.splice(0);
  },

  memory(): { numTensors: number; rssBytes: number } {
    return { numTensors: tf.memory().numTensors, rssBytes: process.memoryUsage().rss };
  },
};

export type WorkerApi = typeof api;

if (!parentPort) throw new Error('worker.ts must run as a worker_thread');
Comlink.expose(api, nodeEndpoint(parentPort));
