import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ClientDefences, combineUpdates, errorReply, middleForward, strategyFor, type AssignedEvaluation, tensorToFrame, type BackwardRequest, type ClientProfile, type ErrorReply, type EvalResult, type ForwardRequest, type Hello, type ImageSet,
  type PartModel, type RoundDone,
  type RoundResult, type ServerTaps, type SplitModel, type WeightArray, type WireTensor,
} from '@splitfleet/splitcore';
import type { Config } from '../experiment/config.ts';
import type { ExperimentSetup } from '../experiment/setup.ts';
import type { ClientInfo } from '../experiment/results.ts';
import { ClientRegistry, type ClientConn, type IoSocket } from './admission.ts';
import { FramePolicy, isTensor } from './frames.ts';
import { CraftServing } from './lockstep/craft-serving.ts';
import { MiddlePool } from './lockstep/middle-pool.ts';
import { PerClientMiddleServing } from './lockstep/per-client-middle.ts';
import { SharedMiddleServing } from './lockstep/shared-middle.ts';
import type { BackwardAck, ForwardAck, StepServing, StepServingDeps } from './lockstep/step-serving.ts';
import { ModelState, type ServerStateMeta } from './model-state.ts';
import { RoundRunner } from './round-runner.ts';
import { EphemeralClients, type SummonFleet } from './ephemeral-clients.ts';
import { mintToken } from './auth.ts';
import type { PopulationView } from './population-view.ts';
import { TapQueue } from './tap-queue.ts';
import { FleetAgents } from './fleet-agents.ts';
import { Transport, type TransportHandlers } from './transport.ts';

export type { ServerStateMeta } from './model-state.ts';

export interface SplitServerOptions {
  readonly config: Config;
  readonly runId: string;
  /** The run's split, partitions, held-out pool and profiles (experiment/setup.ts). */
  readonly setup: ExperimentSetup;
  readonly host?: string;
  readonly port?: number;
  readonly log?: (line: string) => void;
  /** Called after every lockstep step of a round (for progress bars). */
  readonly onStep?: (round: number, step: number, steps: number) => void;
  /** Observation taps (attacks); registered at construction, none by default. */
  readonly taps?: readonly ServerTaps[];
  /** Token authentication (socket.io middleware); null: open server (tests of the protocol only). */
  readonly auth?: { readonly secret: string } | null;
  /** Handler of every HTTP request that is not socket.io's (the dashboard); none: 404. */
  readonly http?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Population runs (fleet.population): asks the run's fleet to instantiate the clients sampled for a round. */
  readonly summonFleet?: SummonFleet;
}

/**
 * The split-learning server: composes the transport (sockets, auth, frame checks), admission (client
 * slots), the step engine the training mode needs (lockstep shared middle, or per-client copies), the
 * tap queue and the round loop. It holds no training logic of its own.
 */
export class SplitServer {
  readonly split: SplitModel;
  readonly profiles: readonly ClientProfile[];
  readonly maxFrameBytes: number;
  private readonly state: ModelState;
  private readonly registry: ClientRegistry;
  private readonly frames: FramePolicy;
  private readonly taps: TapQueue;
  private readonly log: (line: string) => void;
  private readonly opts: SplitServerOptions;
  private serving!: StepServing;
  /** Adversarial training's craft round trips (answered against the middle `serving` says). */
  private craft!: CraftServing;
  private runner!: RoundRunner;
  private transport!: Transport;
  /** Population runs: the clients summoned for each round (null: a standing fleet). */
  private ephemeral: EphemeralClients | null = null;
  /** Population runs served to fleets on other hosts: their agents (acceptFleetAgents). */
  private agents: FleetAgents | null = null;
  /** The first test samples are every client's evaluation set: how many, and of each class (evalDone's bound). */
  private readonly evaluation: AssignedEvaluation;

  private constructor(opts: SplitServerOptions) {
    const { config: cfg, setup } = opts;
    this.opts = opts;
    this.log = opts.log ?? (() => {});
    this.split = setup.split;
    this.profiles = setup.profiles;
    this.state = new ModelState(setup.split, cfg.training.optimizer);
    this.frames = new FramePolicy(setup.split, cfg.training.batchSize);
    this.maxFrameBytes = this.frames.maxFrameBytes;
    this.taps = new TapQueue(opts.taps ?? [], { capacity: cfg.server.taps.queue, whenFull: cfg.server.taps.whenFull, log: this.log });
    const testCount = Math.min(cfg.data.testSamples ?? setup.data.test.count, setup.data.test.count);
    this.evaluation = assignedEvaluation(setup.data.test, testCount);
    this.registry = new ClientRegistry({
      runId: opts.runId, seed: cfg.seed, slots: cfg.fleet.clients, partitions: setup.partitions, inputNoise: setup.inputNoise,
      profiles: setup.profiles, trainLabels: setup.data.train.labels, classes: setup.data.train.classes, population: cfg.fleet.population !== null,
      assignmentBase: {
        model: setup.split.model, cut: setup.split.cut, dataset: { name: cfg.data.name, dir: cfg.data.dir },
        testSamples: testCount, batchSize: cfg.training.batchSize,
        optimizer: cfg.training.optimizer, mode: cfg.training.mode, defence: cfg.defence,
      },
    });
  }

  static async start(opts: SplitServerOptions): Promise<SplitServer> {
    const s = new SplitServer(opts);
    await s.startServing();
    const cfg = opts.config;
    s.transport = await Transport.listen({
      runId: opts.runId, slots: cfg.fleet.clients, auth: opts.auth ?? null, rateLimit: cfg.server.rateLimit, maxBadFrames: cfg.server.maxBadFrames,
      maxFrameBytes: s.maxFrameBytes, pingIntervalMs: cfg.server.pingIntervalSeconds * 1000,
      pingTimeoutMs: (cfg.server.pingTimeoutSeconds ?? Math.max(60, Math.ceil(cfg.fleet.clients / 2))) * 1000,
      host: opts.host, port: opts.port, http: opts.http, log: s.log,
    }, s.handlers());
    return s;
  }

  /** The step engine of the mode's strategy, and the round loop around it. */
  private async startServing(): Promise<void> {
    const cfg = this.opts.config;
    const strategy = strategyFor(cfg.training.mode);
    const deps: StepServingDeps = {
      middle: this.state.middle, frames: this.frames, taps: this.taps, stepTimeoutMs: cfg.training.stepTimeoutSeconds * 1000, seed: cfg.seed,
      middleChunkRows: cfg.server.middleChunkRows,
      events: { drop: (id, why) => this.runner.drop(id, why), count: (id, up, down) => this.runner.count(id, up, down), step: (r, st, n) => this.opts.onStep?.(r, st, n) },
    };
    const aggregation = cfg.training.aggregation;
    if (strategy.middle === 'per-client') this.serving = new PerClientMiddleServing(deps, cfg.training.optimizer, (u) => combineUpdates(aggregation, u));
    else this.serving = new SharedMiddleServing(deps, await this.startPool(middleThreadsOf(cfg)), this.state.opt);
    const defences = new ClientDefences(cfg.defence, this.split.model.classes);
    this.craft = new CraftServing(deps, this.serving, defences.adversarial()?.steps ?? 0);
    this.ephemeral = cfg.fleet.population === null ? null : this.ephemeralClients();
    this.runner = new RoundRunner({
      population: this.ephemeral && { size: cfg.fleet.clients, clients: this.ephemeral },
      strategy, serving: this.serving, registry: this.registry, state: this.state, frames: this.frames, taps: this.taps, profiles: this.profiles, log: this.log,
      settings: {
        seed: cfg.seed, batchSize: cfg.training.batchSize, maxStepsPerRound: cfg.training.maxStepsPerRound, stepTimeoutMs: cfg.training.stepTimeoutSeconds * 1000,
        sample: cfg.fleet.sample, availability: cfg.fleet.availability, deadlineSeconds: cfg.training.deadlineSeconds, tripsPerStep: defences.roundTripsPerStep(), aggregation, evaluation: this.evaluation,
      },
    });
  }

  private ephemeralClients(): EphemeralClients {
    const cfg = this.opts.config;
    const { summonFleet, auth, runId } = this.opts;
    if (!summonFleet) throw new Error('fleet.population: this server was started without a fleet to summon clients from');
    return new EphemeralClients({
      registry: this.registry, summonFleet, joinTimeoutMs: cfg.fleet.joinTimeoutSeconds * 1000, log: this.log,
      // a summoned client proves its id with a token minted for this round (without auth, ids would follow join order)
      mint: (id) => (auth ? mintToken(auth.secret, { run: runId, client: id, exp: Math.floor(Date.now() / 1000) + cfg.server.tokenTtlSeconds }) : null),
    });
  }

  private async startPool(threads: number): Promise<MiddlePool> {
    return MiddlePool.start(this.state.middle, threads, this.log).catch(async (e: Error) => {
      // worker threads that cannot start (a sandbox without them) cost speed, not the run
      this.log(`${e.message}; the middle runs on the main thread only (server.middleThreads ${threads} → 1)`);
      return MiddlePool.start(this.state.middle, 1, this.log);
    });
  }

  private handlers(): TransportHandlers {
    return {
      hello: (socket, msg, tokenId) => this.onHello(socket, msg, tokenId),
      isConnected: (id) => this.registry.get(id)?.connected ?? false,
      disconnected: (c, reason) => {
        c.connected = false;
        this.craft.forget(c.id);
        if (this.ephemeral?.takeDismissal(c.id)) return;
        this.log(`client ${c.id} disconnected (${reason})`);
        this.runner.drop(c.id, `disconnected: ${reason}`);
      },
      message: (event, c, msg, ack) => {
        if (event === 'forward') return this.onForward(c, msg as ForwardRequest, ack as ForwardAck);
        if (event === 'backward') {
          const m = msg as BackwardRequest;
          const engine = m.purpose === 'craft' ? this.craft : this.serving;
          return engine.backward(c.id, m.round, m.step, m.gm, ack as BackwardAck);
        }
        if (event === 'roundDone') return this.runner.roundDone(c.id, msg as RoundDone);
        return this.runner.evalDone(c.id, msg as EvalResult);
      },
    };
  }

  private onHello(socket: IoSocket, hello: Hello, tokenId: number | undefined): ClientConn | ErrorReply {
    // with auth the token decides the client id (independent of join order and host); without it,
    // ids follow join order
    const known = tokenId !== undefined ? this.registry.get(tokenId) : undefined;
    if (known) {
      if (known.connected) return errorReply('already-connected', `client ${tokenId} is already connected`);
      this.registry.reconnect(known, socket);
      this.log(`client ${known.id} reconnected; it takes part again from the next round`);
      return known;
    }
    if (tokenId === undefined && this.registry.full) return errorReply('unknown-client', `the run is full (${this.registry.slots} clients)`);
    const c = this.registry.admit(socket, hello, tokenId);
    this.log(`client ${c.id} joined (${hello.runtime}/${hello.backend}${hello.adapter ? `, ${hello.adapter}` : ''}, ${c.assignment.trainIndices.length} samples)`);
    return c;
  }

  private onForward(c: ClientConn, msg: ForwardRequest, ack: ForwardAck): ErrorReply | null {
    if (msg.purpose === 'train') return this.serving.forward(c.id, msg.round, msg.step, msg.z, ack);
    if (msg.purpose === 'craft') return this.craft.forward(c.id, msg.round, msg.step, msg.z, ack);
    // evaluation changes nothing: answered at once, with the authoritative middle — only while the
    // server awaits this client's evaluation (no free compute for anyone else)
    if (!this.runner.isEvaluating(c.id)) return errorReply('not-expected', `client ${c.id}: no evaluation was asked of you`);
    const z = this.frames.smashed(msg.z);
    if (!isTensor(z)) return z;
    const m = middleForward(this.state.middle, z);
    z.dispose();
    void tensorToFrame(m).then((f) => {
      m.dispose();
      ack({ type: 'middle', m: f });
    });
    return null;
  }

  get url(): string {
    return this.transport.url;
  }

  /**
   * Lets fleet agents on any host take this population's summons (`splitfleet serve`; fleet-agents.ts);
   * the same hub every call. Needs token auth: the agent token is what admits an agent.
   */
  acceptFleetAgents(): FleetAgents {
    const auth = this.opts.auth;
    if (!auth) throw new Error('fleet agents need server.auth: the agent token is what admits an agent');
    return (this.agents ??= new FleetAgents(this.transport.io, {
      secret: auth.secret, runId: this.opts.runId, summonTimeoutMs: this.opts.config.fleet.joinTimeoutSeconds * 1000, log: this.log,
    }));
  }

  get middle(): PartModel {
    return this.state.middle;
  }

  get connectedClients(): number {
    return this.registry.connectedIds().length;
  }

  clientInfo(): ClientInfo[] {
    return this.registry.info();
  }

  /** Who is connected and who is in the current round (the dashboard's client list). */
  clientStates(): { id: number; connected: boolean; active: boolean; backend: string; runtime: string; samples: number; address: string; userAgent: string | null }[] {
    return this.registry.all().map((c) => ({
      id: c.id, connected: c.connected, active: this.serving.isActive(c.id), backend: c.hello.backend, runtime: c.hello.runtime,
      samples: c.assignment.trainIndices.length, address: c.address, userAgent: c.hello.userAgent ?? null,
    }));
  }

  population(): PopulationView {
    return this.registry.population();
  }

  /** population.csv's content, chunk by chunk (one row per registered client, id order). */
  populationRows(): Generator<string> {
    return this.registry.populationRows();
  }

  /** Resolves when every configured client has joined; rejects after the join timeout. */
  waitForClients(timeoutMs = this.opts.config.fleet.joinTimeoutSeconds * 1000): Promise<void> {
    return this.registry.waitForAll(timeoutMs, this.url);
  }

  runRound(round: number): Promise<RoundResult> {
    return this.runner.runRound(round);
  }

  /** Training indices of every client id (evaluation and reporting only). */
  get clientPartitions(): readonly (readonly number[])[] {
    return this.opts.setup.partitions;
  }

  /** The shared head+tail (shared modes). */
  get globalWeights(): readonly WeightArray[] {
    return this.state.global;
  }

  /** Head and tail weights a client sent at the end of its last completed round. */
  clientWeights(id: number): readonly WeightArray[] | undefined {
    return this.state.perClient.get(id);
  }

  /** Observations the taps dropped because their queue was full (server.taps.whenFull: drop). */
  get tapsDropped(): number {
    return this.taps.dropped;
  }

  exportState(): Promise<{ meta: ServerStateMeta; tensors: Record<string, WireTensor> }> {
    return this.state.exportState();
  }

  importState(meta: ServerStateMeta, tensors: ReadonlyMap<string, WireTensor>): Promise<void> {
    return this.state.importState(meta, tensors);
  }

  middleWeights(): Promise<WeightArray[]> {
    return this.state.middle.getWeights();
  }

  private closing: Promise<void> | null = null;

  /** Tells the clients, closes sockets, the middle's threads and the model; a second call waits for the first. */
  close(reason = 'run finished'): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason: string): Promise<void> {
    await this.transport.close(reason, this.registry.all());
    this.taps.clear();
    this.craft.clear();
    await this.serving.close();
    this.state.dispose();
  }
}

/** The first `n` test samples, which every client evaluates on, and how many of each class they hold. */
function assignedEvaluation(test: ImageSet, n: number): AssignedEvaluation {
  const totalByClass = new Array<number>(test.classes).fill(0);
  for (let i = 0; i < n; i++) totalByClass[test.labels[i]!]!++;
  return { samples: n, totalByClass };
}

/**
 * The middle's threads when `server.middleThreads` is left null: 2, but 1 for a population run —
 * there a second thread is a second V8 isolate and wasm heap (≈ 40 MB of the server's resident
 * memory at 100,000 registered clients) and bought no speed: a 100-client round took 9.7–11 s on one
 * thread against 11.8–12.3 s on two, its fleet sharing the cores (docs/population.md).
 */
export function middleThreadsOf(cfg: Config): number {
  return cfg.server.middleThreads ?? (cfg.fleet.population === null ? 2 : 1);
}
