import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { startFleet, type FleetHandle } from '@splitfleet/client-sim';
import { initBackend, readDataset } from '@splitfleet/client-sim/node';
import { writeFileAtomic, writeJsonAtomic } from './atomic.ts';
import { mintTokens, newSecret } from '../server/auth.ts';
import type { Config } from './config.ts';
import { RESULTS_SCHEMA_VERSION, type RoundResult, type RunResults } from './results.ts';
import { SplitServer } from '../server/split-server.ts';
import { heldOutIndices, ObservationRecorder } from '@splitfleet/attack';
import { Dashboard, type DashboardPoint } from '../output/dashboard.ts';
import { runHttpHandler } from '../server/run-http.ts';
import { runSpadv, type AttackReport, type AttackTarget } from './attack-run.ts';
import { observationsFrom, observationTensors, readCheckpoint, weightsToTensors, writeCheckpoint, type ObservedMeta } from './checkpoint.ts';
import { existsSync, readFileSync } from 'node:fs';
import type { ServerStateMeta } from '../server/split-server.ts';

const CLI = fileURLToPath(new URL('../cli/cli.ts', import.meta.url));

export interface RunOptions {
  readonly outDir: string;
  /**
   * 'process' (default): the fleet is a separate OS process; 'workers': worker_threads of this
   * process; 'external': wait for fleets started elsewhere (`splitfleet fleet --server URL`).
   */
  readonly fleet?: 'process' | 'workers' | 'external';
  readonly host?: string;
  readonly port?: number;
  readonly onStep?: (round: number, step: number, steps: number) => void;
  readonly log?: (line: string) => void;
  readonly onRound?: (r: RoundResult, total: number) => void;
  /** Called once the server listens (tests use it to reach the server). */
  readonly onServer?: (s: SplitServer) => void;
  readonly onAttackProgress?: (label: string, done: number, total: number) => void;
  /** Continue the run in outDir from its last round checkpoint. */
  readonly resume?: boolean;
  /**
   * false: train and record for the attack (held-out pool, observations, final.ckpt) but leave the
   * attack stage to a later `attack` (sweeps share one training run between attack settings).
   */
  readonly attack?: boolean;
}

function dashPoint(r: RoundResult): DashboardPoint {
  return { round: r.round, testAccuracy: r.testAccuracy, testLoss: r.testLoss, trainLoss: r.trainLoss, participants: r.participants.length, dropped: r.dropped.length };
}

export interface RunOutcome {
  readonly results: RunResults;
  readonly server: SplitServer;
  readonly resultsPath: string;
}

function launchFleetProcess(url: string, cfg: Config, log: (l: string) => void, tokenFile: string | null): ChildProcess {
  // tokens go through a 0600 file in the run directory: never on a command line (visible in ps),
  // and not in the environment either (one variable is limited to 128 KiB: ~800 tokens)
  const child = spawn(process.execPath, [CLI, 'fleet', '--server', url, '--clients', String(cfg.fleet.clients), '--workers', String(cfg.fleet.workers), '--backend', cfg.fleet.backend, '--runtime', cfg.fleet.runtime, ...(tokenFile ? ['--tokens', tokenFile] : [])], {
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
  const ckptPath = join(outDir, 'checkpoint.ckpt');
  const resultsPath = join(outDir, 'results.json');
  let previous: RunResults | null = null;
  if (opts.resume) {
    if (!existsSync(ckptPath) || !existsSync(resultsPath)) throw new Error(`cannot resume ${outDir}: no checkpoint.ckpt/results.json (was it started with checkpoints on?)`);
    previous = JSON.parse(readFileSync(resultsPath, 'utf8')) as RunResults;
  } else writeJsonAtomic(join(outDir, 'config.json'), cfg);
  const runId = previous?.runId ?? `${Date.now().toString(36)}-${cfg.seed}`;
  const started = previous ? new Date(previous.timings.startedAt) : new Date();
  const backend = await initBackend(cfg.fleet.backend === 'webgpu' ? 'webgpu' : cfg.fleet.backend === 'cpu' ? 'cpu' : 'wasm');
  const data = readDataset(cfg.data.name, cfg.data.dir);
  const rounds: RoundResult[] = [];
  const attacking = cfg.attack.method === 'spadv';
  const heldOut = attacking ? heldOutIndices(data.train.count, cfg.attack.aux.holdout, cfg.seed) : [];
  const recorder = attacking ? new ObservationRecorder(cfg.attack.observe.batches) : null;
  let attack: AttackReport | null = null;
  const secret = cfg.server.auth ? (process.env.SPLITFLEET_SECRET || newSecret()) : null;
  const tokens = secret ? mintTokens(secret, runId, cfg.fleet.clients, cfg.server.tokenTtlSeconds) : null;
  let stopRequested = false;
  let serverRef: SplitServer | null = null;
  const dash = cfg.server.dashboard
    ? new Dashboard({
        runId, mode: cfg.training.mode, rounds: cfg.training.rounds, clients: () => serverRef?.clientStates() ?? [],
        adminToken: process.env.SPLITFLEET_ADMIN_TOKEN || null,
        onStop: () => {
          stopRequested = true;
          log('dashboard: stop requested; training ends after the current round');
        },
      })
    : null;
  const server = await SplitServer.start({
    config: cfg, runId, train: data.train, test: data.test, log, heldOut, auth: secret ? { secret } : null, taps: recorder ? [recorder] : [],
    host: opts.host, port: opts.port,
    http: runHttpHandler({
      dataDir: data.dir, clients: cfg.fleet.clients, tokens, dashboard: dash,
      connected: () => (serverRef?.clientStates() ?? []).filter((c) => c.connected).map((c) => c.id),
    }),
    onStep: (r, st, n) => {
      dash?.onStep(r, st, n);
      opts.onStep?.(r, st, n);
    },
  });
  serverRef = server;
  opts.onServer?.(server);
  let firstRound = 0;
  if (previous) {
    const ck = readCheckpoint<{ server: ServerStateMeta; observed: ObservedMeta[] }>(ckptPath);
    await server.importState(ck.meta.server, ck.tensors);
    recorder?.restore(observationsFrom(ck.meta.observed, ck.tensors));
    rounds.push(...previous.rounds.filter((r) => r.round <= ck.meta.server.round));
    firstRound = ck.meta.server.round + 1;
    log(`resuming ${outDir} after round ${firstRound} (checkpoint ${ckptPath})`);
  }
  log(`server listening on ${server.url} (middle on ${backend.backend}; ${cfg.fleet.clients} clients, ${cfg.training.mode}, data ${data.dir})`);
  if (dash) log(`dashboard: ${server.url}/ (${dash.snapshot().controllable ? 'admin control enabled' : 'read-only'})`);
  for (const r of rounds) dash?.onRound(dashPoint(r));
  const snapshot = (status: RunResults['status'], error?: string): RunResults => {
    const counts: Record<string, number> = {};
    for (const c of server.clientInfo()) counts[c.backend] = (counts[c.backend] ?? 0) + 1;
    const last = rounds[rounds.length - 1];
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION, runId, config: cfg, seed: cfg.seed, backend: backend.backend,
      clientBackends: counts,
      environment: { node: process.version, platform: `${process.platform}-${process.arch}`, tfjs: tf.version_core, cpus: cpus().length },
      clients: server.clientInfo(), rounds, population: server.population(),
      final: last ? { testAccuracy: last.testAccuracy, testLoss: last.testLoss } : null,
      timings: { startedAt: started.toISOString(), finishedAt: status === 'running' ? null : new Date().toISOString(), wallSeconds: (Date.now() - started.getTime()) / 1000 },
      status, ...(error ? { error } : {}), ...(attack ? { attack } : {}), ...(stopRequested ? { stoppedEarly: 'stop requested from the dashboard' } : {}),
    };
  };
  let child: ChildProcess | null = null;
  let fleet: FleetHandle | null = null;
  let fleetExit: Promise<number | null> = Promise.resolve(0);
  try {
    const tokenFile = join(outDir, 'tokens.json');
    if (tokens) writeFileAtomic(tokenFile, JSON.stringify(tokens), 0o600);
    if (opts.fleet === 'external') {
      log(`waiting for ${cfg.fleet.clients} clients: splitfleet fleet --server ${server.url} --clients N${tokens ? ` --tokens ${tokenFile}` : ''}`);
    } else if ((opts.fleet ?? 'process') === 'process') {
      child = launchFleetProcess(server.url, cfg, log, tokens ? tokenFile : null);
      const c = child;
      fleetExit = new Promise((res) => c.once('exit', (code) => res(code)));
      void fleetExit.then((code) => {
        if (code && server.connectedClients === 0) log(`fleet process exited with code ${code}`);
      });
    } else {
      fleet = await startFleet({ serverUrl: server.url, clients: cfg.fleet.clients, workers: cfg.fleet.workers, backend: cfg.fleet.backend, log, ...(tokens ? { tokens } : {}) });
    }
    await server.waitForClients();
    log(`all ${cfg.fleet.clients} clients joined`);
    for (let r = firstRound; r < cfg.training.rounds; r++) {
      const res = await server.runRound(r);
      rounds.push(res);
      // checkpoint first, then results: a crash in between leaves a checkpoint one round ahead of
      // results.json, and resume takes the rounds it has from results and redoes none twice
      if (cfg.training.checkpointEvery > 0 && ((r + 1) % cfg.training.checkpointEvery === 0 || r === cfg.training.rounds - 1)) {
        const st = await server.exportState();
        const obs = observationTensors(recorder?.observed ?? []);
        writeCheckpoint(ckptPath, { server: st.meta, observed: obs.meta }, { ...st.tensors, ...obs.tensors });
      }
      writeJsonAtomic(resultsPath, snapshot('running'));
      dash?.onRound(dashPoint(res));
      opts.onRound?.(res, cfg.training.rounds);
      if (stopRequested && r < cfg.training.rounds - 1) {
        log(`stopped from the dashboard after round ${r + 1} of ${cfg.training.rounds}`);
        break;
      }
    }
    const targets: AttackTarget[] =
      cfg.training.mode === 'local'
        ? server.clientInfo().flatMap((c) => {
            const w = server.clientWeights(c.id);
            return w ? [{ label: `client ${c.id}`, clientIds: [c.id], headTail: w }] : [];
          })
        : [{ label: 'global model', clientIds: server.clientInfo().map((c) => c.id), headTail: server.globalWeights }];
    const middle = await server.middleWeights();
    const obs = observationTensors(recorder?.observed ?? []);
    writeCheckpoint(join(outDir, 'final.ckpt'), {
      kind: 'final', rounds: rounds.length, heldOut, targets: targets.map((t) => ({ label: t.label, clientIds: t.clientIds })), observed: obs.meta,
    }, {
      ...weightsToTensors('middle', middle),
      ...Object.assign({}, ...targets.map((t, i) => weightsToTensors(`target${i}`, t.headTail))),
      ...obs.tensors,
    });
    if (attacking && opts.attack !== false) {
      attack = await runSpadv({
        cfg, split: server.split, train: data.train, test: data.test, heldOut, middle,
        observed: recorder!.observed, targets, partitions: server.clientPartitions, log,
        onProgress: (label, d, t) => {
          dash?.onAttack(label, d, t);
          opts.onAttackProgress?.(label, d, t);
        },
      });
      writeJsonAtomic(join(outDir, 'attack.json'), attack);
    }
    const results = snapshot('completed');
    writeJsonAtomic(resultsPath, results);
    dash?.setStatus('completed');
    dash?.close();
    await server.close();
    if (fleet) {
      await fleet.finished;
      await fleet.terminate();
    }
    await fleetExit;
    return { results, server, resultsPath };
  } catch (e) {
    writeJsonAtomic(resultsPath, snapshot('failed', (e as Error).message));
    dash?.setStatus('failed', (e as Error).message);
    dash?.close();
    await server.close(`run failed: ${(e as Error).message}`).catch(() => {});
    child?.kill('SIGKILL');
    await fleet?.terminate();
    throw e;
  }
}
