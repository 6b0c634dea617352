import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readDataset, startFleet, type FleetHandle } from '@splitfleet/client-sim';
import { parseConfig, type Config, type ConfigInput } from '../apps/server/src/experiment/config.ts';
import { SplitServer } from '../apps/server/src/server/split-server.ts';
import { mintTokens, newSecret } from '../apps/server/src/server/auth.ts';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';

/** A small, fast config for end-to-end tests (wasm everywhere, bounded steps). */
export function testConfig(over: ConfigInput = {}): Config {
  const base: ConfigInput = {
    seed: 7,
    fleet: { clients: 2, workers: 1, backend: 'wasm', joinTimeoutSeconds: 60 },
    training: { mode: 'splitfed', rounds: 1, batchSize: 16, maxStepsPerRound: 3, stepTimeoutSeconds: 60 },
    data: { testSamples: 200 },
  };
  const merged = merge(base, over) as { fleet: { clients?: number; population?: number | null } };
  // a population run's clients are its population: the base's 2 standing clients do not apply
  if (over.fleet?.population != null && over.fleet.clients === undefined) delete merged.fleet.clients;
  return parseConfig(merged);
}

function merge(a: unknown, b: unknown): unknown {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null || Array.isArray(b)) return b === undefined ? a : b;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) out[k] = merge(out[k], v);
  return out;
}

const toClose: (() => unknown)[] = [];

/**
 * Closes `thing` after the current test, passed or failed (test/e2e-setup.ts runs closeTracked in
 * afterEach), so a failing test leaks no server, worker or port. Closing twice is harmless.
 */
export function closeAfterTest<T>(thing: T, close: (t: T) => unknown): T {
  toClose.push(() => close(thing));
  return thing;
}

/** Closes, newest first, everything registered with closeAfterTest. */
export async function closeTracked(): Promise<void> {
  for (const close of toClose.splice(0).reverse()) await Promise.resolve(close()).catch(() => {});
}

export interface Harness {
  readonly server: SplitServer;
  readonly fleet: FleetHandle | null;
  readonly logs: string[];
  close(): Promise<void>;
}

/** Server in this (test) process on wasm; the fleet in worker_threads, talking over loopback socket.io. */
export async function startHarness(cfg: Config, opts: { fleetClients?: number; auth?: boolean } = {}): Promise<Harness> {
  await initBackend('wasm');
  const data = readDataset(cfg.data.name, cfg.data.dir);
  const logs: string[] = [];
  const secret = opts.auth ? newSecret() : null;
  const server = await SplitServer.start({ config: cfg, runId: 'test', setup: setupExperiment(cfg, data), log: (l) => logs.push(l), auth: secret ? { secret } : null });
  const n = opts.fleetClients ?? cfg.fleet.clients;
  const tokens = secret ? mintTokens(secret, 'test', cfg.fleet.clients, 3600) : undefined;
  const fleet = n > 0 ? await startFleet({ serverUrl: server.url, clients: n, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log: (l) => logs.push(l), ...(tokens ? { tokens } : {}) }) : null;
  closeAfterTest(server, (x) => x.close());
  if (fleet) closeAfterTest(fleet, (f) => f.terminate());
  return {
    server, fleet, logs,
    async close() {
      await server.close();
      if (fleet) {
        await Promise.race([fleet.finished, new Promise((r) => setTimeout(r, 5000))]);
        await fleet.terminate();
      }
    },
  };
}

/**
 * A population run's server (fleet.population) with an ephemeral fleet of worker_threads it
 * summons the sampled clients from, each round (authenticated, as a run does it).
 */
export async function startPopulationHarness(cfg: Config): Promise<Harness> {
  await initBackend('wasm');
  const data = readDataset(cfg.data.name, cfg.data.dir);
  const logs: string[] = [];
  let fleet: FleetHandle | null = null;
  const server = await SplitServer.start({
    config: cfg, runId: 'test', setup: setupExperiment(cfg, data), log: (l) => logs.push(l), auth: { secret: newSecret() },
    summonFleet: (entries) => fleet!.summon(entries),
  });
  fleet = await startFleet({ serverUrl: server.url, clients: 0, ephemeral: true, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log: (l) => logs.push(l) });
  closeAfterTest(server, (x) => x.close());
  closeAfterTest(fleet, (f) => f.terminate());
  return {
    server, fleet, logs,
    async close() {
      await server.close();
      await fleet!.terminate();
    },
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Polls `cond` until it holds; fails after `timeoutMs` (a condition, never a bare sleep). */
export async function until(cond: () => boolean, timeoutMs = 60_000, everyMs = 20): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export { tf };

/** Runs `cfg.training.rounds` rounds and returns the live tensor counts after each, on the server and on every client. */
export async function tensorCountsPerRound(cfg: Config): Promise<{ server: number[]; clients: number[][] }> {
  const h = await startHarness(cfg);
  await h.server.waitForClients();
  const server: number[] = [];
  const clients: number[][] = [];
  for (let r = 0; r < cfg.training.rounds; r++) {
    await h.server.runRound(r);
    server.push(tf.memory().numTensors);
    clients.push((await h.fleet!.memory()).map((m) => m.numTensors));
  }
  await h.close();
  return { server, clients };
}
