import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFleet, type FleetControl, type FleetHandle, type FleetReply, type SummonEntry } from '@splitfleet/client-sim';
import { reservedSlots, type Config } from './config.ts';
import type { FleetAgents } from '../server/fleet-agents.ts';

const CLI = fileURLToPath(new URL('../cli/cli.ts', import.meta.url));

/** Where a run's clients come from (RunOptions.fleet). */
export type FleetPlacement = 'process' | 'workers' | 'external';

/** A started fleet: what to wait for when the run ends, and how to stop it when it fails. */
export interface LaunchedFleet {
  /** After the server closed: a standing fleet's clients end with it; an ephemeral fleet is told to stop. */
  end(): Promise<unknown>;
  kill(): Promise<void>;
  /** Ephemeral fleets (fleet.population): instantiate these clients for a round; resolves with the ids that joined. */
  readonly summon?: (entries: readonly SummonEntry[]) => Promise<number[]>;
}

function launchFleetProcess(url: string, cfg: Config, log: (l: string) => void, tokenFile: string | null): ChildProcess {
  // tokens go through a 0600 file in the run directory: never on a command line (visible in ps),
  // and not in the environment either (one variable is limited to 128 KiB: ~800 tokens)
  const child = spawn(process.execPath, [CLI, 'fleet', '--server', url, '--clients', String(reservedSlots(cfg)), '--workers', String(cfg.fleet.workers), '--backend', cfg.fleet.backend, '--runtime', cfg.fleet.runtime, ...(tokenFile ? ['--tokens', tokenFile] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
  });
  const relay = (buf: Buffer) => buf.toString().split('\n').filter(Boolean).forEach((l) => log(l));
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  return child;
}

/**
 * Starts the run's fleet for the reserved slots (fleet.clients − fleet.openSlots): a separate OS
 * process (default), worker_threads of this process, or nothing (`external`: fleets started
 * elsewhere with `splitfleet fleet --server URL`). Open slots are left to the join page.
 */
export async function launchFleet(where: FleetPlacement, url: string, cfg: Config, tokens: { list: readonly string[]; file: string } | null, log: (l: string) => void, connected: () => number): Promise<LaunchedFleet> {
  const clients = reservedSlots(cfg);
  if (where === 'external' || clients === 0) {
    if (clients > 0) log(`waiting for ${clients} fleet clients: splitfleet fleet --server ${url} --clients N${tokens ? ` --tokens ${tokens.file}` : ''}`);
    return { end: async () => {}, kill: async () => {} };
  }
  if (where === 'process') {
    const child = launchFleetProcess(url, cfg, log, tokens?.file ?? null);
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    void exited.then((code) => {
      if (code && connected() === 0) log(`fleet process exited with code ${code}`);
    });
    return { end: () => exited, kill: async () => void child.kill('SIGKILL') };
  }
  const fleet: FleetHandle = await startFleet({ serverUrl: url, clients, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log, ...(tokens ? { tokens: [...tokens.list] } : {}) });
  const finished = fleet.finished.then(() => fleet.terminate());
  return { end: () => finished, kill: () => fleet.terminate() };
}

/**
 * The fleet of a population run: workers that start empty and instantiate the clients the server
 * samples, round by round — worker_threads of this process, or a child process taking its orders
 * over IPC (`splitfleet fleet --ephemeral`). Fleets on other hosts connect as agents instead
 * (awaitFleetAgents).
 */
export async function launchEphemeralFleet(where: Exclude<FleetPlacement, 'external'>, url: string, cfg: Config, log: (l: string) => void): Promise<LaunchedFleet> {
  if (where === 'workers') {
    const fleet = await startFleet({ serverUrl: url, clients: 0, ephemeral: true, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log });
    return { end: () => fleet.terminate(), kill: () => fleet.terminate(), summon: (entries) => fleet.summon(entries) };
  }
  const child = spawn(process.execPath, [CLI, 'fleet', '--ephemeral', '--server', url, '--workers', String(cfg.fleet.workers), '--backend', cfg.fleet.backend], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
  });
  const relay = (buf: Buffer) => buf.toString().split('\n').filter(Boolean).forEach((l) => log(l));
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const pending = new Map<number, (ids: number[]) => void>();
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: FleetReply) => (m.type === 'ready' ? resolve() : pending.get(m.request)?.(m.ids)));
    void exited.then((code) => reject(new Error(`the ephemeral fleet process exited with code ${code} before it was ready`)));
  });
  void exited.then((code) => {
    // a fleet that died answers no summons: what was asked of it joins nobody
    for (const resolve of pending.values()) resolve([]);
    pending.clear();
    if (code) log(`fleet process exited with code ${code}`);
  });
  let request = 0;
  const send = (m: FleetControl) => child.connected && child.send(m);
  await ready;
  return {
    summon: (entries) => new Promise<number[]>((resolve) => {
      const r = request++;
      pending.set(r, (ids) => { pending.delete(r); resolve(ids); });
      if (!send({ type: 'summon', request: r, entries })) pending.get(r)?.([]);
    }),
    end: () => { send({ type: 'end' }); return exited; },
    kill: async () => void child.kill('SIGKILL'),
  };
}

/**
 * The fleet of a population run served to other hosts (`splitfleet serve`): fleet agents started
 * there with the agent token in `tokenFile` take the server's summons over the network
 * (fleet-agents.ts). Waits for the first agent (fleet.joinTimeoutSeconds); agents may come and go
 * between rounds, and a round's summons go to those connected.
 */
export async function awaitFleetAgents(agents: FleetAgents, url: string, tokenFile: string, cfg: Config, log: (l: string) => void): Promise<LaunchedFleet> {
  const hint = `splitfleet fleet --ephemeral --server ${url} --tokens ${tokenFile}`;
  log(`waiting for fleet agents: ${hint}`);
  await agents.waitForAgent(cfg.fleet.joinTimeoutSeconds * 1000, hint);
  const end = async () => agents.end();
  return { summon: agents.summon, end, kill: end };
}
