import { mkdirSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readDataset } from '@splitfleet/client-sim/node';
import { ObservationRecorder, runSpadv, type AttackReport, type AttackTarget } from '@splitfleet/attack';
import { observationsFrom, observationTensors, strategyFor, weightsToTensors, type ImageSet, type ObservedMeta, type RoundResult } from '@splitfleet/splitcore';
import { writeChunksAtomic, writeFileAtomic, writeJsonAtomic } from './atomic.ts';
import { mintAgentToken, mintTokens, newSecret } from '../server/auth.ts';
import { reservedSlots, type Config } from './config.ts';
import { readResults, RESULTS_SCHEMA_VERSION, type RunResults } from './results.ts';
import { toolProvenance } from './provenance.ts';
import { smashedPrivacy, type SmashedPrivacy } from './privacy.ts';
import { SplitServer, type ServerStateMeta } from '../server/split-server.ts';
import { Dashboard, type DashboardPoint } from '../output/dashboard.ts';
import { runHttpHandler } from '../server/run-http.ts';
import { JoinSlots } from '../server/join-slots.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { awaitFleetAgents, launchEphemeralFleet, launchFleet, type FleetPlacement, type LaunchedFleet } from './fleet-launch.ts';
import type { SummonFleet } from '../server/ephemeral-clients.ts';
import { loadAttackerImages, serverNeedsTrainImages, setupExperiment, type ExperimentSetup } from './setup.ts';

export interface RunOptions {
  readonly outDir: string;
  /**
   * 'process' (default): the fleet is a separate OS process; 'workers': worker_threads of this
   * process; 'external': wait for fleets started elsewhere (`splitfleet fleet --server URL`).
   */
  readonly fleet?: FleetPlacement;
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

export interface RunOutcome {
  readonly results: RunResults;
  readonly server: SplitServer;
  readonly resultsPath: string;
}

function dashPoint(r: RoundResult): DashboardPoint {
  return { round: r.round, testAccuracy: r.testAccuracy, testLoss: r.testLoss, trainLoss: r.trainLoss, participants: r.participants.length, dropped: r.dropped.length };
}

/** One run in progress: its directory, setup, server, recorder and what it has produced so far. */
interface RunContext {
  readonly cfg: Config;
  readonly opts: RunOptions;
  readonly log: (line: string) => void;
  readonly outDir: string;
  readonly runId: string;
  readonly started: Date;
  readonly backend: string;
  readonly setup: ExperimentSetup;
  /** attack.aux.source dataset: the attacker's images, in the clients' input shape. */
  readonly auxImages: ImageSet | undefined;
  readonly recorder: ObservationRecorder | null;
  readonly rounds: RoundResult[];
  readonly dash: Dashboard | null;
  server: SplitServer;
  stopRequested: boolean;
  attack: AttackReport | null;
  privacy: SmashedPrivacy | null;
}

const paths = (outDir: string) => ({ ckpt: join(outDir, 'checkpoint.ckpt'), results: join(outDir, 'results.json'), final: join(outDir, 'final.ckpt'), tokens: join(outDir, 'tokens.json') });

/** results.json as it stands: written after every round, and at the end. */
function snapshot(c: RunContext, status: RunResults['status'], error?: string): RunResults {
  const counts: Record<string, number> = {};
  for (const ci of c.server.clientInfo()) counts[ci.backend] = (counts[ci.backend] ?? 0) + 1;
  const last = c.rounds[c.rounds.length - 1];
  return {
    schemaVersion: RESULTS_SCHEMA_VERSION, runId: c.runId, config: c.cfg, seed: c.cfg.seed, backend: c.backend,
    clientBackends: counts,
    environment: { node: process.version, platform: `${process.platform}-${process.arch}`, tfjs: tf.version_core, cpus: cpus().length, splitfleet: toolProvenance() },
    clients: c.server.clientInfo(), rounds: c.rounds, population: c.server.population(),
    final: last ? { testAccuracy: last.testAccuracy, testLoss: last.testLoss } : null,
    timings: { startedAt: c.started.toISOString(), finishedAt: status === 'running' ? null : new Date().toISOString(), wallSeconds: (Date.now() - c.started.getTime()) / 1000 },
    tapsDropped: c.server.tapsDropped, status, ...(error ? { error } : {}), ...(c.attack ? { attack: c.attack } : {}), ...(c.privacy ? { privacy: c.privacy } : {}), ...(c.stopRequested ? { stoppedEarly: 'stop requested from the dashboard' } : {}),
  };
}

/** The run's directory: a fresh one gets config.json; a resumed one gives back its results so far. */
function openRunDir(cfg: Config, opts: RunOptions): { outDir: string; previous: RunResults | null } {
  const outDir = resolve(opts.outDir);
  mkdirSync(outDir, { recursive: true });
  const p = paths(outDir);
  if (!opts.resume) {
    writeJsonAtomic(join(outDir, 'config.json'), cfg);
    return { outDir, previous: null };
  }
  if (!existsSync(p.ckpt) || !existsSync(p.results)) throw new Error(`cannot resume ${outDir}: no checkpoint.ckpt/results.json (was it started with checkpoints on?)`);
  return { outDir, previous: readResults(outDir) };
}

/** The server with its dashboard, join page and HTTP routes, listening. */
async function startRunServer(c: Omit<RunContext, 'server'>, tokens: readonly string[] | null, secret: string | null, summonFleet: SummonFleet): Promise<SplitServer> {
  let server: SplitServer | null = null;
  const data = c.setup.data;
  const s = await SplitServer.start({
    config: c.cfg, runId: c.runId, setup: c.setup, log: c.log, auth: secret ? { secret } : null, taps: c.recorder ? [c.recorder] : [], summonFleet,
    host: c.opts.host, port: c.opts.port,
    http: runHttpHandler({
      dataDir: data.dir, dashboard: c.dash,
      join: new JoinSlots({
        clients: c.cfg.fleet.clients, openSlots: c.cfg.fleet.openSlots, tokens, log: c.log,
        connected: () => (server?.clientStates() ?? []).filter((x) => x.connected).map((x) => x.id),
      }),
    }),
    onStep: (r, st, n) => {
      c.dash?.onStep(r, st, n);
      c.opts.onStep?.(r, st, n);
    },
  });
  server = s;
  return s;
}

/** Loads the last round checkpoint into the server and recorder; returns the first round still to run. */
async function resumeFrom(c: RunContext, previous: RunResults): Promise<number> {
  const ck = readCheckpoint<{ server: ServerStateMeta; observed: ObservedMeta[] }>(paths(c.outDir).ckpt);
  await c.server.importState(ck.meta.server, ck.tensors);
  c.recorder?.restore(observationsFrom(ck.meta.observed, ck.tensors));
  c.rounds.push(...previous.rounds.filter((r) => r.round <= ck.meta.server.round));
  c.log(`resuming ${c.outDir} after round ${ck.meta.server.round + 1} (checkpoint ${paths(c.outDir).ckpt})`);
  return ck.meta.server.round + 1;
}

/** Trains the remaining rounds; checkpoint then results after each, so a crash redoes no round twice. */
async function trainRounds(c: RunContext, firstRound: number): Promise<void> {
  const total = c.cfg.training.rounds;
  for (let r = firstRound; r < total; r++) {
    const res = await c.server.runRound(r);
    c.rounds.push(res);
    // checkpoint first, then results: a crash in between leaves a checkpoint one round ahead of
    // results.json, and resume takes the rounds it has from results and redoes none twice
    const every = c.cfg.training.checkpointEvery;
    if (every > 0 && ((r + 1) % every === 0 || r === total - 1)) {
      const st = await c.server.exportState();
      const obs = observationTensors(c.recorder?.observed ?? []);
      writeCheckpoint(paths(c.outDir).ckpt, { server: st.meta, observed: obs.meta }, { ...st.tensors, ...obs.tensors });
    }
    writeJsonAtomic(paths(c.outDir).results, snapshot(c, 'running'));
    c.dash?.onRound(dashPoint(res));
    c.opts.onRound?.(res, total);
    if (c.stopRequested && r < total - 1) {
      c.log(`stopped from the dashboard after round ${r + 1} of ${total}`);
      break;
    }
  }
}

/**
 * The real client models an attack is evaluated against: what each client holds when training ends —
 * its own head+tail where clients keep theirs (`local`; `sequential`, where each keeps the copy it
 * handed on), else the shared model every client received (one target for all of them).
 */
function attackTargets(c: RunContext): AttackTarget[] {
  const s = c.server;
  if (strategyFor(c.cfg.training.mode).clientsHold === 'own')
    return s.clientInfo().flatMap((ci) => {
      const w = s.clientWeights(ci.id);
      return w ? [{ label: `client ${ci.id}`, clientIds: [ci.id], headTail: [...w] }] : [];
    });
  return [{ label: 'global model', clientIds: s.clientInfo().map((ci) => ci.id), headTail: [...s.globalWeights] }];
}

/** final.ckpt (what `attack --run` reads), then the attack itself unless it is left for later. */
async function finishTraining(c: RunContext): Promise<void> {
  const targets = attackTargets(c);
  const middle = await c.server.middleWeights();
  const obs = observationTensors(c.recorder?.observed ?? []);
  writeCheckpoint(paths(c.outDir).final, {
    kind: 'final', rounds: c.rounds.length, heldOut: c.setup.heldOut, targets: targets.map((t) => ({ label: t.label, clientIds: t.clientIds })), observed: obs.meta,
  }, { ...weightsToTensors('middle', middle), ...Object.assign({}, ...targets.map((t, i) => weightsToTensors(`target${i}`, t.headTail))), ...obs.tensors });
  const { data, split, heldOut, partitions } = c.setup;
  c.privacy = await smashedPrivacy(split, data.test, targets, c.cfg.defence, c.cfg.seed);
  if (!c.recorder || c.opts.attack === false) return;
  const report = await runSpadv({
    attack: c.cfg.attack, seed: c.cfg.seed, trainingBatchSize: c.cfg.training.batchSize, split, train: data.train, test: data.test, heldOut, middle, observed: c.recorder.observed, targets, partitions, defence: c.cfg.defence, log: c.log,
    ...(c.auxImages ? { auxImages: c.auxImages } : {}),
    onProgress: (label, d, t) => {
      c.dash?.onAttack(label, d, t);
      c.opts.onAttackProgress?.(label, d, t);
    },
  });
  c.attack = { ...report, tool: toolProvenance() };
  writeJsonAtomic(join(c.outDir, 'attack.json'), c.attack);
}

/** Everything a run needs before its server starts: directory, id, backend, data, setup, dashboard. */
async function prepare(cfg: Config, opts: RunOptions) {
  const log = opts.log ?? (() => {});
  // partitions first: a config they cannot satisfy fails before anything is written
  const setup = setupExperiment(cfg, readDataset(cfg.data.name, cfg.data.dir, { trainImages: serverNeedsTrainImages(cfg) }));
  const auxImages = loadAttackerImages(cfg, setup.split.head.inputShape);
  const { outDir, previous } = openRunDir(cfg, opts);
  const runId = previous?.runId ?? `${Date.now().toString(36)}-${cfg.seed}`;
  const backend = await initBackend(cfg.fleet.backend === 'webgpu' ? 'webgpu' : cfg.fleet.backend === 'cpu' ? 'cpu' : 'wasm');
  const ctx = {
    cfg, opts, log, outDir, runId, started: previous ? new Date(previous.timings.startedAt) : new Date(), backend: backend.backend, setup, auxImages,
    recorder: cfg.attack.method === 'spadv' ? new ObservationRecorder(cfg.attack.observe.batches, { perClient: cfg.attack.shadowScope !== 'fleet' }) : null,
    rounds: [] as RoundResult[], stopRequested: false, attack: null as AttackReport | null, privacy: null as SmashedPrivacy | null, dash: null as Dashboard | null,
  };
  if (cfg.server.dashboard)
    ctx.dash = new Dashboard({
      runId, mode: cfg.training.mode, rounds: cfg.training.rounds, clients: () => (ctx as Partial<RunContext>).server?.clientStates() ?? [],
      adminToken: process.env.SPLITFLEET_ADMIN_TOKEN || null,
      onStop: () => {
        ctx.stopRequested = true;
        log('dashboard: stop requested; training ends after the current round');
      },
    });
  return { ctx, previous };
}

/**
 * Starts the run's fleet: a standing one (every client joins before the first round, tokens in the
 * run directory) or, for a population, an ephemeral one the server summons clients from each round.
 */
async function bringFleet(c: RunContext, where: FleetPlacement, tokens: readonly string[] | null, secret: string | null): Promise<LaunchedFleet> {
  const cfg = c.cfg;
  const p = paths(c.outDir);
  if (cfg.fleet.population !== null) {
    const view = c.server.population();
    if (view.rowsFile) writeChunksAtomic(join(c.outDir, view.rowsFile), c.server.populationRows());
    let fleet: LaunchedFleet;
    if (where === 'external') {
      // the agents' namespace exists before the token that lets an agent in is written
      const agents = c.server.acceptFleetAgents();
      // fleets on other hosts take their summons with an agent token (population runs need auth)
      if (secret) writeFileAtomic(p.tokens, JSON.stringify({ agent: mintAgentToken(secret, c.runId, cfg.server.tokenTtlSeconds) }), 0o600);
      fleet = await awaitFleetAgents(agents, c.server.url, p.tokens, cfg, c.log);
    } else fleet = await launchEphemeralFleet(where, c.server.url, cfg, c.log);
    c.log(`a population of ${cfg.fleet.clients} registered clients: the sampled ones are summoned each round (fleet.sample ${cfg.fleet.sample})`);
    return fleet;
  }
  // the fleet's file holds only the reserved slots' tokens: open slots are the join page's to hand out
  const fleetTokens = tokens?.slice(0, reservedSlots(cfg)) ?? null;
  if (fleetTokens) writeFileAtomic(p.tokens, JSON.stringify(fleetTokens), 0o600);
  if (cfg.fleet.openSlots > 0) c.log(`${cfg.fleet.openSlots} open slot(s) for anyone who opens ${c.server.url}/join`);
  const fleet = await launchFleet(where, c.server.url, cfg, fleetTokens ? { list: fleetTokens, file: p.tokens } : null, c.log, () => c.server.connectedClients);
  await c.server.waitForClients();
  c.log(`all ${cfg.fleet.clients} clients joined`);
  return fleet;
}

/**
 * Runs one experiment: server in this process, fleet as a separate process (or worker_threads),
 * `rounds` rounds, results.json rewritten atomically after every round, then the attack.
 */
export async function runExperiment(cfg: Config, opts: RunOptions): Promise<RunOutcome> {
  const { ctx, previous } = await prepare(cfg, opts);
  const secret = cfg.server.auth ? (process.env.SPLITFLEET_SECRET || newSecret()) : null;
  // a population's clients get a token when they are summoned, not all of them up front
  const tokens = secret && cfg.fleet.population === null ? mintTokens(secret, ctx.runId, cfg.fleet.clients, cfg.server.tokenTtlSeconds) : null;
  let fleet: LaunchedFleet | null = null;
  const summonFleet: SummonFleet = (entries) => fleet?.summon?.(entries) ?? Promise.resolve([]);
  const c: RunContext = Object.assign(ctx, { server: await startRunServer(ctx, tokens, secret, summonFleet) });
  opts.onServer?.(c.server);
  const firstRound = previous ? await resumeFrom(c, previous) : 0;
  c.log(`server listening on ${c.server.url} (middle on ${c.backend}; ${cfg.fleet.clients} clients, ${cfg.training.mode}, data ${c.setup.data.dir})`);
  if (c.dash) c.log(`dashboard: ${c.server.url}/ (${c.dash.snapshot().controllable ? 'admin control enabled' : 'read-only'})`);
  for (const r of c.rounds) c.dash?.onRound(dashPoint(r));
  const p = paths(c.outDir);
  try {
    fleet = await bringFleet(c, opts.fleet ?? 'process', tokens, secret);
    await trainRounds(c, firstRound);
    await finishTraining(c);
    const results = snapshot(c, 'completed');
    writeJsonAtomic(p.results, results);
    c.dash?.setStatus('completed');
    c.dash?.close();
    await c.server.close();
    await fleet.end();
    return { results, server: c.server, resultsPath: p.results };
  } catch (e) {
    writeJsonAtomic(p.results, snapshot(c, 'failed', (e as Error).message));
    c.dash?.setStatus('failed', (e as Error).message);
    c.dash?.close();
    await c.server.close(`run failed: ${(e as Error).message}`).catch(() => {});
    await fleet?.kill();
    throw e;
  }
}
