import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFleet, type FleetHandle } from '@splitfleet/client-sim';
import { reservedSlots, type Config } from './config.ts';

const CLI = fileURLToPath(new URL('../cli/cli.ts', import.meta.url));

/** Where a run's clients come from (RunOptions.fleet). */
export type FleetPlacement = 'process' | 'workers' | 'external';

/** A started fleet: what to wait for when the run ends, and how to stop it when it fails. */
export interface LaunchedFleet {
  readonly finished: Promise<unknown>;
  kill(): Promise<void>;
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
    return { finished: Promise.resolve(), kill: async () => {} };
  }
  if (where === 'process') {
    const child = launchFleetProcess(url, cfg, log, tokens?.file ?? null);
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    void exited.then((code) => {
      if (code && connected() === 0) log(`fleet process exited with code ${code}`);
    });
    return { finished: exited, kill: async () => void child.kill('SIGKILL') };
  }
  const fleet: FleetHandle = await startFleet({ serverUrl: url, clients, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log, ...(tokens ? { tokens: [...tokens.list] } : {}) });
  return { finished: fleet.finished.then(() => fleet.terminate()), kill: () => fleet.terminate() };
}
