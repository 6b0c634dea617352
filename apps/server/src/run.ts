import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readDataset, startFleet, type FleetHandle } from '@splitfleet/client-sim';
import { writeJsonAtomic } from './atomic.ts';
import type { Config } from './config.ts';
import { RESULTS_SCHEMA_VERSION, type RoundResult, type RunResults } from './results.ts';
import { SplitServer } from './split-server.ts';

const FLEET_MAIN = fileURLToPath(new URL('../../client-sim/src/main.ts', import.meta.url));

export interface RunOptions {
  readonly outDir: string;
  /** 'process' (default): the fleet is a separate OS process; 'workers': worker_threads of this process. */
  readonly fleet?: 'process' | 'workers';
  readonly log?: (line: string) => void;
  readonly onRound?: (r: RoundResult, total: number) => void;
  /** Called once the server listens (tests use it to reach the server). */
  readonly onServer?: (s: SplitServer) => void;
}

export interface RunOutcome {
  readonly results: RunResults;
  readonly server: SplitServer;
  readonly resultsPath: string;
}

function launchFleetProcess(url: string, cfg: Config, log: (l: string) => void): ChildProcess {
  const child = spawn(process.execPath, [FLEET_MAIN, '--server', url, '--clients', String(cfg.fleet.clients), '--workers', String(cfg.fleet.workers), '--backend', cfg.fleet.backend], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
  });
  const relay = (buf: Buffer) => buf.toString().split('\n').filter(Boolean).forEach((l) => log(l));
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  return child;
}

/**
 * Runs one experiment: server in this process, fleet as a separate process (or worker_threads),
 * `rounds` rounds, results.json rewritten atomically after every round.
 */
export async function runExperiment(cfg: Config, opts: RunOptions): Promise<RunOutcome> {
  const log = opts.log ?? (() => {});
  const outDir = resolve(opts.outDir);
  mkdirSync(outDir, { recursive: true });
  writeJsonAtomic(join(outDir, 'config.json'), cfg);
  const runId = `${Date.now().toString(36)}-${cfg.seed}`;
  const started = new Date();
  const backend = await initBackend(cfg.fleet.backend === 'webgpu' ? 'webgpu' : cfg.fleet.backend === 'cpu' ? 'cpu' : 'wasm');
  const data = readDataset(cfg.data.name, cfg.data.dir);
  const rounds: RoundResult[] = [];
  const server = await SplitServer.start({ config: cfg, runId, train: data.train, test: data.test, log });
  opts.onServer?.(server);
  log(`server listening on ${server.url} (middle on ${backend.backend}; ${cfg.fleet.clients} clients, ${cfg.training.mode}, data ${data.dir})`);
  const resultsPath = join(outDir, 'results.json');
  const snapshot = (status: RunResults['status'], error?: string): RunResults => {
    const counts: Record<string, number> = {};
    for (const c of server.clientInfo()) counts[c.backend] = (counts[c.backend] ?? 0) + 1;
    const last = rounds[rounds.length - 1];
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION, runId, config: cfg, seed: cfg.seed, backend: backend.backend,
      clientBackends: counts,
      environment: { node: process.version, platform: `${process.platform}-${process.arch}`, tfjs: tf.version_core, cpus: cpus().length },
      clients: server.clientInfo(), rounds,
      final: last ? { testAccuracy: last.testAccuracy, testLoss: last.testLoss } : null,
      timings: { startedAt: started.toISOString(), finishedAt: status === 'running' ? null : new Date().toISOString(), wallSeconds: (Date.now() - started.getTime()) / 1000 },
      status, ...(error ? { error } : {}),
    };
  };
  let child: ChildProcess | null = null;
  let fleet: FleetHandle | null = null;
  let fleetExit: Promise<number | null> = Promise.resolve(0);
  try {
    if ((opts.fleet ?? 'process') === 'process') {
      child = launchFleetProcess(server.url, cfg, log);
      const c = child;
      fleetExit = new Promise((res) => c.once('exit', (code) => res(code)));
      void fleetExit.then((code) => {
        if (code && server.connectedClients === 0) log(`fleet process exited with code ${code}`);
      });
    } else {
      fleet = await startFleet({ serverUrl: server.url, clients: cfg.fleet.clients, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log });
    }
    await server.waitForClients();
    log(`all ${cfg.fleet.clients} clients joined`);
    for (let r = 0; r < cfg.training.rounds; r++) {
      const res = await server.runRound(r);
      rounds.push(res);
      writeJsonAtomic(resultsPath, snapshot('running'));
      opts.onRound?.(res, cfg.training.rounds);
    }
    const results = snapshot('completed');
    writeJsonAtomic(resultsPath, results);
    await server.close();
    if (fleet) {
      await fleet.finished;
      await fleet.terminate();
    }
    await fleetExit;
    return { results, server, resultsPath };
  } catch (e) {
    writeJsonAtomic(resultsPath, snapshot('failed', (e as Error).message));
    await server.close(`run failed: ${(e as Error).message}`).catch(() => {});
    child?.kill('SIGKILL');
    await fleet?.terminate();
    throw e;
  }
}
