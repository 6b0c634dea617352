import { Worker } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { BackendInfo, BackendRequest } from './node/backend.ts';
import { chooseAutoBackend } from './node/auto-backend.ts';
import type { FleetWorkerData, WorkerApi } from './worker.ts';
import { startBrowserFleet } from './browser/launch.ts';
import { takeSummonsAsAgent } from './fleet-agent.ts';
import type { ClientOutcome, WorkerBackend } from './worker-api.ts';

export interface FleetOptions {
  readonly serverUrl: string;
  readonly clients: number;
  readonly workers: number;
  readonly backend: BackendRequest;
  readonly log?: (line: string) => void;
  /** Per-slot auth tokens (slot s uses tokens[s]); required when the server authenticates. */
  readonly tokens?: readonly string[];
  /**
   * A population run (fleet.population): start `workers` workers with no client; the server
   * summons the clients it samples each round (`FleetHandle.summon`). `clients` is then ignored.
   */
  readonly ephemeral?: boolean;
}

/** A client the server summons for one round: its id and the token that proves it. */
export interface SummonEntry {
  readonly id: number;
  readonly token: string | null;
}

export interface FleetHandle {
  readonly fleetId: string;
  readonly backends: WorkerBackend[];
  readonly clientIds: number[][];
  /** Resolves when all clients ended; a crashed worker is reported with its client ids, not thrown. */
  readonly finished: Promise<{ outcomes: ClientOutcome[]; crashed: { worker: number; clientIds: number[]; error: string }[] }>;
  /** Fault injection for reliability tests and chaos runs: terminates worker i as if it crashed. */
  injectWorkerCrash(i: number): Promise<void>;
  /** tfjs tensor count and resident memory of each worker. */
  memory(): Promise<{ numTensors: number; rssBytes: number }[]>;
  /** Ephemeral fleets: instantiates these clients (client id mod workers picks the worker); resolves with the ids that joined. */
  summon(entries: readonly SummonEntry[]): Promise<number[]>;
  terminate(): Promise<void>;
}

/**
 * Starts a fleet: `workers` worker_threads, clients dealt round-robin over them, each client its
 * own socket.io connection to the server.
 */
export async function startFleet(opts: FleetOptions): Promise<FleetHandle> {
  // Mesa's EGL reads the real process environment; workers only get a copy of process.env.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const log = opts.log ?? (() => {});
  const fleetId = randomUUID();
  const nWorkers = Math.max(1, opts.ephemeral ? opts.workers : Math.min(opts.workers, opts.clients));
  // auto is decided once per fleet, outside its workers: Dawn loaded in several worker_threads
  // crashes the process at exit (node/auto-backend.ts)
  const workerData: FleetWorkerData = { autoBackend: opts.backend === 'auto' ? await chooseAutoBackend() : null };
  const workers = Array.from({ length: nWorkers }, () => new Worker(new URL('./worker.ts', import.meta.url), { workerData }));
  const apis = workers.map((w) => Comlink.wrap<WorkerApi>(nodeEndpoint(w)));
  const slots: number[][] = Array.from({ length: nWorkers }, () => []);
  if (!opts.ephemeral) for (let s = 0; s < opts.clients; s++) slots[s % nWorkers]!.push(s);
  // a terminated worker never answers a comlink call: remember which are gone
  const exited = new Set<number>();
  const exitErrors = workers.map(
    (w, i) => new Promise<string>((resolve) => {
      w.once('error', (e) => resolve(e.stack ?? String(e)));
      w.once('exit', (code) => {
        exited.add(i);
        resolve(code === 0 ? '' : `worker exited with code ${code}`);
      });
    }),
  );
  const backends = await Promise.all(apis.map((a) => a.init(opts.backend)));
  backends.forEach((b, i) => log(`worker ${i}: backend ${b.backend}${b.adapter ? ` (${b.adapter})` : ''}${b.note ? ` — ${b.note}` : ''}`));
  if (opts.tokens && opts.tokens.length < opts.clients) throw new Error(`${opts.clients} clients but only ${opts.tokens.length} tokens`);
  const clientIds = await Promise.all(apis.map((a, i) => a.join(opts.serverUrl, slots[i]!, fleetId, opts.tokens ? slots[i]!.map((s) => opts.tokens![s]!) : null)));
  const drain = setInterval(() => {
    for (const [i, a] of apis.entries()) if (!exited.has(i)) void a.drainLogs().then((ls) => ls.forEach(log), () => {});
  }, 500);
  drain.unref();
  const finished = Promise.all(
    apis.map((a, i) =>
      Promise.race([
        a.untilEnded().then((o) => ({ ok: true as const, o })),
        exitErrors[i]!.then((error) => ({ ok: false as const, error })),
      ]),
    ),
  ).then(async (rs) => {
    clearInterval(drain);
    const outcomes: ClientOutcome[] = [];
    const crashed: { worker: number; clientIds: number[]; error: string }[] = [];
    rs.forEach((r, i) => {
      if (r.ok) outcomes.push(...r.o);
      else {
        crashed.push({ worker: i, clientIds: clientIds[i]!, error: r.error });
        log(`worker ${i} (clients ${clientIds[i]!.join(', ')}) crashed: ${r.error}`);
      }
    });
    // a terminated worker never answers a comlink call: drain only the live ones
    const dead = new Set(crashed.map((c) => c.worker));
    for (const [i, a] of apis.entries()) if (!dead.has(i)) for (const l of await a.drainLogs().catch(() => [] as string[])) log(l);
    return { outcomes, crashed };
  });
  return {
    fleetId, backends, clientIds, finished,
    memory: () => Promise.all(apis.map((a) => a.memory())),
    async summon(entries) {
      const byWorker = apis.map(() => [] as { slot: number; token: string | null }[]);
      for (const e of entries) byWorker[e.id % nWorkers]!.push({ slot: e.id, token: e.token });
      const ids = await Promise.all(apis.map((a, i) => (byWorker[i]!.length && !exited.has(i) ? a.summon(opts.serverUrl, byWorker[i]!, fleetId) : Promise.resolve([]))));
      return ids.flat();
    },
    async injectWorkerCrash(i: number) {
      const w = workers[i];
      if (!w) throw new Error(`no worker ${i}`);
      w.emit('error', new Error(`injected crash of worker ${i}`));
      await w.terminate();
    },
    async terminate() {
      clearInterval(drain);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export type FleetRuntime = 'node' | 'browser' | 'mixed';

/**
 * Runs a fleet until the server ends the run; returns the process exit code (1 if a worker or page
 * crashed). `browser` runs every client as a Web Worker in headless Chromium; `mixed` runs the first
 * half on Node worker_threads and the rest in Chromium.
 */
export async function runFleet(opts: FleetOptions & { quiet?: boolean; runtime?: FleetRuntime; perPage?: number }): Promise<number> {
  const log = (l: string) => {
    if (!opts.quiet) console.log(`[fleet] ${l}`);
  };
  const runtime = opts.runtime ?? 'node';
  const nNode = runtime === 'node' ? opts.clients : runtime === 'browser' ? 0 : Math.ceil(opts.clients / 2);
  const nBrowser = opts.clients - nNode;
  const node = nNode > 0 ? await startFleet({ ...opts, clients: nNode, log, ...(opts.tokens ? { tokens: opts.tokens.slice(0, nNode) } : {}) }) : null;
  if (node) log(`${nNode} node clients joined over ${node.backends.length} workers`);
  let browser: Awaited<ReturnType<typeof startBrowserFleet>> | null = null;
  try {
    if (nBrowser > 0) {
      browser = await startBrowserFleet({
        serverUrl: opts.serverUrl, clients: nBrowser, backend: opts.backend, tokens: opts.tokens ? opts.tokens.slice(nNode) : null,
        firstSlot: nNode, fleetId: randomUUID(), perPage: opts.perPage, log,
      });
      log(`${nBrowser} browser clients joined as Web Workers in Chromium (${browser.clientIds.length} pages)`);
    }
  } catch (e) {
    await node?.terminate();
    throw e;
  }
  const [rn, rb] = await Promise.all([node?.finished, browser?.finished]);
  await node?.terminate();
  await browser?.terminate();
  for (const c of rn?.crashed ?? []) console.error(`[fleet] worker ${c.worker} crashed (clients ${c.clientIds.join(', ')}): ${c.error}`);
  for (const c of rb?.crashed ?? []) console.error(`[fleet] browser page ${c.page} failed (clients ${c.clientIds.join(', ')}): ${c.error}`);
  return (rn?.crashed.length ?? 0) + (rb?.crashed.length ?? 0) > 0 ? 1 : 0;
}

/** Tokens for a fleet: a JSON list from a file, else from SPLITFLEET_TOKENS; none when neither is set. */
export function loadTokens(file: string | undefined, first = 0): string[] | null {
  const text = file ? readFileSync(file, 'utf8') : process.env.SPLITFLEET_TOKENS;
  if (!text) return null;
  const list = JSON.parse(text) as unknown;
  if (typeof list === 'object' && list !== null && 'agent' in list) throw new Error(`${file ?? 'SPLITFLEET_TOKENS'}: a population run's fleet agent token: start this fleet with --ephemeral`);
  if (!Array.isArray(list) || !list.every((t) => typeof t === 'string')) throw new Error(`${file ?? 'SPLITFLEET_TOKENS'}: expected a JSON list of token strings`);
  return list.slice(first);
}

/** Messages between a run and an ephemeral fleet process over Node's IPC channel (population runs). */
export type FleetControl =
  | { readonly type: 'summon'; readonly request: number; readonly entries: readonly SummonEntry[] }
  | { readonly type: 'end' };
export type FleetReply = { readonly type: 'ready' } | { readonly type: 'summoned'; readonly request: number; readonly ids: number[] };

/**
 * An ephemeral fleet (population runs): workers start with no client and instantiate the clients the
 * server samples each round. Its orders come over the IPC channel from the run that started it, or —
 * with `agentToken`, from `splitfleet serve` on any host — over the network as a fleet agent
 * (fleet-agent.ts). Ends when told to or when its orders' source goes away; resolves with the exit code.
 */
export async function serveEphemeralFleet(opts: Omit<FleetOptions, 'clients' | 'tokens' | 'ephemeral'> & { quiet?: boolean; agentToken?: string }): Promise<number> {
  if (!opts.agentToken && !process.send) throw new Error('an ephemeral fleet takes its orders over IPC from the run that starts it, or from a server with --tokens <run dir>/tokens.json (splitfleet serve)');
  const log = (l: string) => {
    if (!opts.quiet) console.log(`[fleet] ${l}`);
  };
  const fleet = await startFleet({ ...opts, clients: 0, ephemeral: true, log });
  log(`ephemeral fleet ready on ${fleet.backends.length} workers`);
  const code = opts.agentToken ? await takeSummonsAsAgent(fleet, opts.serverUrl, opts.agentToken, log) : await takeSummonsOverIpc(fleet);
  await fleet.terminate();
  return code;
}

async function takeSummonsOverIpc(fleet: FleetHandle): Promise<number> {
  await new Promise<void>((resolve) => {
    process.on('message', (m: FleetControl) => {
      if (m.type === 'end') return resolve();
      void fleet.summon(m.entries).then((ids) => process.send!({ type: 'summoned', request: m.request, ids } satisfies FleetReply));
    });
    process.once('disconnect', () => resolve());
    // the run sends no order before this: a message without a listener would be lost
    process.send!({ type: 'ready' } satisfies FleetReply);
  });
  return 0;
}
