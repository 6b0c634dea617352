// The API a fleet worker exposes over comlink, the same for a Node worker_thread and a browser Web
// Worker: only the platform pieces (backend set-up, data loading, memory figure) differ.
import * as tf from '@tensorflow/tfjs-core';
import { io } from 'socket.io-client';
import { cnnSmall, composedStep, makeOptimizer, disposeOptimizer, PartModel, Rng, split } from '@splitfleet/splitcore';
import { SplitClient, type ClientHost, type ClientSocket } from './client.ts';

export interface ClientOutcome {
  readonly slot: number;
  readonly clientId: number | null;
  readonly rounds: number;
  readonly reason: string;
}

/** What a worker's backend set-up reports (Node and browser hosts alike). */
export interface WorkerBackend {
  readonly backend: string;
  readonly adapter: string | null;
  readonly note: string | null;
}

export interface WorkerPlatform<B extends string> {
  readonly runtime: ClientHost['runtime'];
  initBackend(requested: B): Promise<WorkerBackend>;
  loadDataset: ClientHost['loadDataset'];
  /** Resident memory of this worker's process (Node) or JS heap (browser), bytes; null if unknown. */
  residentBytes(): number | null;
  readonly userAgent: string | null;
}

export function makeWorkerApi<B extends string>(p: WorkerPlatform<B>) {
  let backend: WorkerBackend | null = null;
  const clients: SplitClient[] = [];
  const logs: string[] = [];

  /** One client: its own socket.io connection (authenticated when a token is given), joined to the run. */
  async function connect(url: string, slot: number, fleetId: string, token: string | null): Promise<SplitClient> {
    if (!backend) throw new Error('init the backend first');
    const host: ClientHost = {
      runtime: p.runtime, backend: backend.backend, adapter: backend.adapter, userAgent: p.userAgent,
      loadDataset: p.loadDataset, log: (line) => logs.push(line),
    };
    const socket: ClientSocket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...(token ? { auth: { token } } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (e) => reject(new Error(`client slot ${slot}: cannot connect to ${url}: ${e.message}`)));
    });
    const c = new SplitClient(socket, host, slot, fleetId);
    await c.join().catch((e: Error) => {
      c.dispose();
      socket.disconnect();
      throw new Error(`client slot ${slot}: ${e.message}`);
    });
    return c;
  }

  return {
    async init(requested: B): Promise<WorkerBackend> {
      backend = await p.initBackend(requested);
      return backend;
    },

    /** Connects and joins one client per slot; resolves with their client ids. */
    async join(url: string, slots: number[], fleetId: string, tokens: string[] | null): Promise<number[]> {
      const ids: number[] = [];
      for (const [k, slot] of slots.entries()) {
        const c = await connect(url, slot, fleetId, tokens ? tokens[k]! : null);
        clients.push(c);
        ids.push(c.id!);
      }
      return ids;
    },

    /**
     * Ephemeral clients (a population run, fleet.population): instantiates one client per entry for
     * the round it was sampled for, each with its own authenticated connection; when the server
     * dismisses it (or the connection ends) it is disposed and forgotten. Resolves with the ids joined;
     * an entry that cannot join is logged and left out (the server then counts it as not taking part).
     */
    async summon(url: string, entries: { slot: number; token: string | null }[], fleetId: string): Promise<number[]> {
      const joined = await Promise.all(entries.map(async (e) => {
        try {
          const c = await connect(url, e.slot, fleetId, e.token);
          void c.ended.then(() => c.dispose());
          return c.id;
        } catch (err) {
          logs.push((err as Error).message);
          return null;
        }
      }));
      return joined.filter((id): id is number => id !== null);
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

    /** Leaves the run now (the join page's leave button): disconnects every client of this worker. */
    leave(): void {
      for (const c of clients) c.leave();
    },

    /** Rounds completed so far per client (progress views). */
    progress(): { clientId: number | null; rounds: number }[] {
      return clients.map((c) => ({ clientId: c.id, rounds: c.rounds }));
    },

    /**
     * A fixed, seeded piece of real training on this worker's backend (cnn-small, SGD, synthetic
     * seeded batches): the same call on two backends must give the same losses and weights within
     * float tolerance. Used to check WebGPU against wasm where they run.
     */
    async trainingSelfTest(steps: number, seed = 1): Promise<{ backend: string; losses: number[]; weights: Float32Array[] }> {
      const s = split(cnnSmall, cnnSmall.defaultCut, seed);
      const parts = [new PartModel(s.head, s.init.head), new PartModel(s.middle, s.init.middle), new PartModel(s.tail, s.init.tail)];
      const opt = makeOptimizer({ name: 'sgd', lr: 0.05, momentum: 0 });
      const r = Rng.fromSeed(seed).fork('self-test');
      const losses: number[] = [];
      for (let k = 0; k < steps; k++) {
        const x = tf.tensor(Float32Array.from({ length: 8 * 784 }, () => r.float()), [8, 28, 28, 1]);
        const y = tf.tensor1d(Int32Array.from({ length: 8 }, () => r.int(10)), 'int32');
        losses.push(await composedStep(parts, opt, x, y, 10));
        tf.dispose([x, y]);
      }
      const weights = await Promise.all(parts.flatMap((p) => p.vars).map(async (v) => (await v.data()) as Float32Array));
      disposeOptimizer(opt);
      parts.forEach((p) => p.dispose());
      return { backend: tf.getBackend(), losses, weights };
    },

    drainLogs(): string[] {
      return logs.splice(0);
    },

    memory(): { numTensors: number; rssBytes: number } {
      return { numTensors: tf.memory().numTensors, rssBytes: p.residentBytes() ?? 0 };
    },
  };
}
