import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import { Server, type Socket } from 'socket.io';
import {
  AssignmentSchema, averageWeights, BackwardRequestSchema, CodecError, EvalResultSchema, errorReply,
  ForwardRequestSchema, frameToTensor, framesToWeights, getModelSpec, HelloSchema, makeOptimizer,
  featureNoiseLevels, frequencies, labelWeighted, isAvailable, sampleClients, simulatedSeconds, summarizeNonIid, type ClientProfile,
  middleForward, middleVjp, parseMessage, partitionExcluding, PartModel, PROTOCOL_VERSION, RoundDoneSchema,
  split, tensorToFrame, weightsToFrames, applyGradients, headerBytes, stepsPerRound, disposeOptimizer,
  type Ack, type Assignment, type ClientToServerEvents, type ErrorReply, type EvalResult, type Hello,
  type ImageSet, type RoundDone, type ServerToClientEvents, type SplitModel, type WeightArray,
  type ServerTaps, type TapEvent, type WireTensor,
} from '@splitfleet/splitcore';
import { StepBarrier } from './lockstep/barrier.ts';
import { MiddlePool } from './lockstep/middle-pool.ts';
import { AuthError, verifyToken } from './auth.ts';
import { resolvePartition, resolveProfiles, type Config } from '../experiment/config.ts';
import type { ClientInfo, ClientRoundResult, RoundResult } from '../experiment/results.ts';

type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

interface ClientConn {
  readonly id: number;
  /** Replaced when the client reconnects (it then takes part again from the next round). */
  socket: IoSocket;
  readonly hello: Hello;
  readonly assignment: Assignment;
  readonly labelCounts: number[];
  connected: boolean;
  /** Smashed data of the step in flight, kept for the backward pass. */
  inflight: { round: number; step: number; z: tf.Tensor } | null;
}

interface ForwardArrival { z: tf.Tensor; ack: Ack<{ type: 'middle'; m: Uint8Array }> }
interface BackwardArrival { gm: tf.Tensor; ack: Ack<{ type: 'gradient'; gz: Uint8Array }> }

interface Waiter<T> { resolve: (v: T | null) => void; timer: NodeJS.Timeout }

export interface SplitServerOptions {
  readonly config: Config;
  readonly runId: string;
  readonly train: ImageSet;
  readonly test: ImageSet;
  readonly host?: string;
  readonly port?: number;
  readonly log?: (line: string) => void;
  readonly onRound?: (r: RoundResult) => void;
  /** Called after every lockstep step of a round (for progress bars). */
  readonly onStep?: (round: number, step: number, steps: number) => void;
  /** Observation taps (attacks); registered at construction, none by default. */
  readonly taps?: readonly ServerTaps[];
  /** Train indices no client holds (attacker's auxiliary pool); excluded from partitions. */
  readonly heldOut?: readonly number[];
  /** Token authentication (socket.io middleware); null: open server (tests of the protocol only). */
  readonly auth?: { readonly secret: string } | null;
  /** Handler of every HTTP request that is not socket.io's (the dashboard); none: 404. */
  readonly http?: (req: IncomingMessage, res: ServerResponse) => void;
}

const KNOWN_EVENTS = new Set(['hello', 'forward', 'backward', 'roundDone', 'evalDone']);

/**
 * The split-learning server: holds the middle and its optimiser, serves forward/backward requests
 * in lockstep steps, orchestrates rounds in the three training modes, and (acting as SplitFed's
 * separate "fed server") averages client-side weights in splitfed mode.
 */
export class SplitServer {
  readonly split: SplitModel;
  readonly middle: PartModel;
  private readonly opt: tf.Optimizer;
  private readonly io: Server<ClientToServerEvents, ServerToClientEvents>;
  private readonly http: HttpServer;
  private readonly clients = new Map<number, ClientConn>();
  private readonly partitions: number[][];
  private readonly log: (line: string) => void;
  private nextId = 0;
  private joinWaiters: (() => void)[] = [];
  private active = new Set<number>();
  /** Which step's forward the pool keeps activations of, for its backward. */
  private stepCache: { round: number; step: number; ids: number[] } | null = null;
  /** Runs the middle's training steps, data-parallel over server.middleThreads threads. */
  private pool!: MiddlePool;
  private round = -1;
  private forwardBarriers = new Map<number, StepBarrier<ForwardArrival>>();
  private backwardBarriers = new Map<number, StepBarrier<BackwardArrival>>();
  private stepsOf = new Map<number, number>();
  private doneWaiters = new Map<number, Waiter<RoundDone>>();
  private evalWaiters = new Map<number, Waiter<EvalResult>>();
  private lastWeights = new Map<number, WeightArray[]>();
  private dropped = new Set<number>();
  /** Global head+tail weights in shared modes. */
  globalWeights: WeightArray[];
  readonly profiles: ClientProfile[];
  private readonly inputNoise: number[];
  /** Bytes and messages per client in the current round (the virtual clock's input). */
  private traffic = new Map<number, { bytesUp: number; bytesDown: number; messages: number }>();
  /** Measured compute seconds per step of each client's last round (straggler prediction). */
  private secondsPerStep = new Map<number, number>();
  readonly maxFrameBytes: number;

  private readonly opts: SplitServerOptions;

  private constructor(opts: SplitServerOptions, http: HttpServer) {
    this.opts = opts;
    const cfg = opts.config;
    const spec = getModelSpec(cfg.model.name);
    this.split = split(spec, cfg.model.cut ?? spec.defaultCut, cfg.seed);
    this.middle = new PartModel(this.split.middle, this.split.init.middle);
    this.opt = makeOptimizer(cfg.training.optimizer);
    this.globalWeights = [...this.split.init.head, ...this.split.init.tail];
    // Partition only what no one else holds: held-out samples (the attacker's pool) are excluded.
    const pc = resolvePartition(cfg);
    this.partitions = partitionExcluding(pc, opts.train.labels, cfg.fleet.clients, cfg.seed, opts.train.classes, opts.heldOut ?? []);
    this.inputNoise = featureNoiseLevels(pc, cfg.fleet.clients);
    this.profiles = resolveProfiles(cfg);
    this.log = opts.log ?? (() => {});
    this.http = http;
    // The largest legal frame: a full batch of smashed data or of the middle's output, or all of a
    // client's head+tail weights (roundDone), plus headers and socket.io framing slack.
    const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1) * 4;
    const batch = cfg.training.batchSize;
    const weightBytes = [...this.split.head.params, ...this.split.tail.params].reduce((a, p) => a + sizeOf(p.shape) + headerBytes(p.shape.length), 0);
    this.maxFrameBytes = Math.max(batch * sizeOf(this.split.middle.inputShape), batch * sizeOf(this.split.middle.outputShape), weightBytes) + 64 * 1024;
    this.io = new Server(http, { maxHttpBufferSize: this.maxFrameBytes, serveClient: false, pingTimeout: (cfg.server.pingTimeoutSeconds ?? Math.max(60, Math.ceil(cfg.fleet.clients / 2))) * 1000, pingInterval: cfg.server.pingIntervalSeconds * 1000 });
    const auth = opts.auth;
    if (auth) {
      // Every connection proves who it is before any event handler runs.
      this.io.use((socket, next) => {
        try {
          const claims = verifyToken(auth.secret, (socket.handshake.auth as { token?: unknown } | undefined)?.token, opts.runId, cfg.fleet.clients);
          if (this.clients.get(claims.client)?.connected) throw new AuthError('reused', `token of client ${claims.client} is already in use by a connected client`);
          (socket.data as { client?: number }).client = claims.client;
          next();
        } catch (e) {
          const err = new Error(e instanceof AuthError ? `auth ${e.reason}: ${e.message}` : 'auth failed') as Error & { data?: unknown };
          err.data = { reason: e instanceof AuthError ? e.reason : 'failed' };
          this.log(`refused a connection: ${err.message}`);
          next(err);
        }
      });
    }
    this.io.on('connection', (s) => this.onConnection(s));
  }

  static async start(opts: SplitServerOptions): Promise<SplitServer> {
    const http = createServer((req, res) => {
      if (opts.http) return opts.http(req, res);
      res.writeHead(404).end();
    });
    const server = new SplitServer(opts, http);
    const threads = opts.config.server.middleThreads;
    server.pool = await MiddlePool.start(server.middle, threads, server.log).catch(async (e: Error) => {
      // worker threads that cannot start (a sandbox without them) cost speed, not the run
      server.log(`${e.message}; the middle runs on the main thread only (server.middleThreads ${threads} → 1)`);
      return MiddlePool.start(server.middle, 1, server.log);
    });
    await new Promise<void>((res, rej) => {
      http.once('error', rej);
      http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => res());
    });
    return server;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo;
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  get connectedClients(): number {
    return [...this.clients.values()].filter((c) => c.connected).length;
  }

  clientInfo(): ClientInfo[] {
    return [...this.clients.values()].sort((a, b) => a.id - b.id).map((c) => ({
      id: c.id, runtime: c.hello.runtime, backend: c.hello.backend, adapter: c.hello.adapter, userAgent: c.hello.userAgent ?? null,
      samples: c.assignment.trainIndices.length, labelCounts: c.labelCounts,
    }));
  }

  private dropStepCache(): void {
    this.pool.drop();
    this.stepCache = null;
  }

  /** Who is connected and who is in the current round (the dashboard's client list). */
  clientStates(): { id: number; connected: boolean; active: boolean; backend: string; runtime: string; samples: number }[] {
    return [...this.clients.values()].sort((a, b) => a.id - b.id).map((c) => ({
      id: c.id, connected: c.connected, active: this.active.has(c.id), backend: c.hello.backend, runtime: c.hello.runtime,
      samples: c.assignment.trainIndices.length,
    }));
  }

  /** Resolves when every configured client has joined; rejects after the join timeout. */
  waitForClients(timeoutMs = this.opts.config.fleet.joinTimeoutSeconds * 1000): Promise<void> {
    const want = this.opts.config.fleet.clients;
    const joined = () => [...this.clients.values()].filter((c) => c.connected).length;
    if (joined() >= want) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`only ${joined()} of ${want} clients joined within ${timeoutMs / 1000}s (fleet.joinTimeoutSeconds); is the fleet running and pointed at ${this.url}?`));
      }, timeoutMs);
      this.joinWaiters.push(() => {
        if (joined() >= want) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  // ---- connection handling ----------------------------------------------------------------

  private onConnection(socket: IoSocket): void {
    let client: ClientConn | null = null;
    let strikes = 0;
    const maxBad = this.opts.config.server.maxBadFrames;
    const reject = (ack: unknown, err: ErrorReply) => {
      if (typeof ack === 'function') (ack as (e: ErrorReply) => void)(err);
      else socket.emit('protocolError', err);
      if (++strikes >= maxBad) {
        this.log(`${client ? `client ${client.id}` : 'a connection'}: disconnected after ${maxBad} bad frames in a row`);
        socket.disconnect(true);
      }
    };
    // per-connection rate limit: a token bucket of server.rateLimit messages per second
    const rate = this.opts.config.server.rateLimit;
    let tokens = rate;
    let last = performance.now();
    socket.use((packet, next) => {
      const now = performance.now();
      tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
      last = now;
      if (tokens < 1) {
        reject(packet[packet.length - 1], errorReply('rate-limited', `more than ${rate} messages per second (server.rateLimit)`));
        return;
      }
      tokens -= 1;
      next();
    });
    socket.onAny((event: string, ...args: unknown[]) => {
      if (!KNOWN_EVENTS.has(event)) reject(args[args.length - 1], errorReply('unknown-event', `unknown event "${event}"; known: ${[...KNOWN_EVENTS].join(', ')}`));
    });
    const ok = () => (strikes = 0);
    socket.on('hello', (raw, ack) => {
      const p = parseMessage(HelloSchema, raw);
      if (!p.ok) return reject(ack, p.error);
      if (p.value.protocol !== PROTOCOL_VERSION) return reject(ack, errorReply('bad-protocol', `protocol ${p.value.protocol} is not the server's ${PROTOCOL_VERSION}`));
      if (client) return reject(ack, errorReply('bad-message', `already joined as client ${client.id}`));
      // with auth the token decides the client id (independent of join order and host); without
      // it, ids follow join order
      const tokenId = (socket.data as { client?: number }).client;
      const known = tokenId !== undefined ? this.clients.get(tokenId) : undefined;
      if (known) {
        if (known.connected) return reject(ack, errorReply('already-connected', `client ${tokenId} is already connected`));
        known.socket = socket;
        known.connected = true;
        client = known;
        this.log(`client ${known.id} reconnected; it takes part again from the next round`);
      } else {
        if (tokenId === undefined && this.nextId >= this.opts.config.fleet.clients) return reject(ack, errorReply('unknown-client', `the run is full (${this.opts.config.fleet.clients} clients)`));
        client = this.admit(socket, p.value, tokenId);
      }
      ok();
      if (typeof ack === 'function') ack(client.assignment);
      for (const w of this.joinWaiters) w();
    });
    const needClient = (ack: unknown): ClientConn | null => {
      if (!client) reject(ack, errorReply('unknown-client', 'send hello first: this connection has no client id'));
      return client;
    };
    socket.on('forward', (raw, ack) => {
      const c = needClient(ack);
      if (c) this.onForward(c, raw, ack, reject, ok);
    });
    socket.on('backward', (raw, ack) => {
      const c = needClient(ack);
      if (c) this.onBackward(c, raw, ack, reject, ok);
    });
    socket.on('roundDone', (raw) => {
      const c = needClient(undefined);
      if (!c) return;
      const p = parseMessage(RoundDoneSchema, raw);
      if (!p.ok) return reject(undefined, p.error);
      this.settle(this.doneWaiters, c.id, p.value);
    });
    socket.on('evalDone', (raw) => {
      const c = needClient(undefined);
      if (!c) return;
      const p = parseMessage(EvalResultSchema, raw);
      if (!p.ok) return reject(undefined, p.error);
      this.settle(this.evalWaiters, c.id, p.value);
    });
    socket.on('disconnect', (reason) => {
      if (!client || client.socket !== socket) return;
      client.connected = false;
      this.log(`client ${client.id} disconnected (${reason})`);
      this.dropClient(client.id, `disconnected: ${reason}`);
    });
  }

  private admit(socket: IoSocket, hello: Hello, fixedId?: number): ClientConn {
    const id = fixedId ?? this.nextId++;
    const cfg = this.opts.config;
    const trainIndices = this.partitions[id]!;
    const testCount = Math.min(cfg.data.testSamples ?? this.opts.test.count, this.opts.test.count);
    const assignment: Assignment = AssignmentSchema.parse({
      type: 'welcome', clientId: id, runId: this.opts.runId, seed: cfg.seed, model: cfg.model.name,
      cut: this.split.cut, dataset: { name: cfg.data.name, dir: cfg.data.dir }, trainIndices,
      testIndices: Array.from({ length: testCount }, (_, i) => i), batchSize: cfg.training.batchSize,
      optimizer: cfg.training.optimizer, mode: cfg.training.mode, inputNoise: this.inputNoise[id] ?? 0,
    });
    const labelCounts = new Array<number>(this.opts.train.classes).fill(0);
    for (const i of trainIndices) labelCounts[this.opts.train.labels[i]!]!++;
    const conn: ClientConn = { id, socket, hello, assignment, labelCounts, connected: true, inflight: null };
    this.clients.set(id, conn);
    this.log(`client ${id} joined (${hello.runtime}/${hello.backend}${hello.adapter ? `, ${hello.adapter}` : ''}, ${trainIndices.length} samples)`);
    return conn;
  }

  // ---- lockstep forward/backward ----------------------------------------------------------

  private expectedAt(step: number): number[] {
    return [...this.active].filter((id) => (this.stepsOf.get(id) ?? 0) > step);
  }

  private barrier<T>(map: Map<number, StepBarrier<T>>, step: number, onComplete: (a: [number, T][], m: number[]) => void): StepBarrier<T> {
    let b = map.get(step);
    if (!b) {
      b = new StepBarrier<T>(this.expectedAt(step), this.opts.config.training.stepTimeoutSeconds * 1000, onComplete);
      map.set(step, b);
    }
    return b;
  }

  private onForward(c: ClientConn, raw: unknown, ack: unknown, reject: (ack: unknown, e: ErrorReply) => void, ok: () => void): void {
    const p = parseMessage(ForwardRequestSchema, raw);
    if (!p.ok) return reject(ack, p.error);
    if (typeof ack !== 'function') return reject(undefined, errorReply('bad-message', 'forward needs an acknowledgement callback'));
    const msg = p.value;
    let z: tf.Tensor;
    try {
      z = frameToTensor(msg.z, { sampleShape: this.split.middle.inputShape, maxBatch: this.opts.config.training.batchSize });
    } catch (e) {
      return reject(ack, toError(e));
    }
    ok();
    if (msg.purpose === 'eval') {
      // Evaluation changes nothing: answer at once.
      const m = middleForward(this.middle, z);
      z.dispose();
      void tensorToFrame(m).then((f) => {
        m.dispose();
        ack({ type: 'middle', m: f });
      });
      return;
    }
    if (msg.round !== this.round || !this.active.has(c.id) || c.inflight) {
      z.dispose();
      return reject(ack, errorReply('not-expected', `client ${c.id} is not expected to send forward for round ${msg.round} step ${msg.step} now (server round ${this.round})`));
    }
    this.count(c.id, msg.z.byteLength, 0);
    const b = this.barrier(this.forwardBarriers, msg.step, (a, m) => void this.runForward(msg.step, a, m));
    const r = b.arrive(c.id, { z, ack: ack as ForwardArrival['ack'] });
    if (r !== 'ok') {
      z.dispose();
      reject(ack, errorReply('not-expected', `forward for step ${msg.step}: ${r}`));
    }
  }

  private async runForward(step: number, arrivals: [number, ForwardArrival][], missing: number[]): Promise<void> {
    for (const id of missing) this.dropClient(id, `no forward for step ${step} within training.stepTimeoutSeconds`);
    if (arrivals.length === 0) return;
    const zs = arrivals.map(([, a]) => a.z);
    // keep the middle's activations for this step's backward (no second forward pass there)
    this.dropStepCache();
    const zcat = zs.length === 1 ? zs[0]! : tf.concat(zs, 0);
    const round = this.round;
    const m = await this.pool.forward(this.middle, zcat);
    if (zcat !== zs[0]) zcat.dispose();
    this.stepCache = { round, step, ids: arrivals.map(([id]) => id) };
    const parts = zs.length === 1 ? [m] : tf.split(m, zs.map((z) => z.shape[0]!), 0);
    const frames = await Promise.all(parts.map((t) => tensorToFrame(t)));
    tf.dispose(parts);
    if (parts[0] !== m) m.dispose();
    arrivals.forEach(([id, a], i) => {
      const c = this.clients.get(id)!;
      if (!this.active.has(id)) {
        a.z.dispose();
        return;
      }
      c.inflight = { round: this.round, step, z: a.z };
      this.count(id, 0, frames[i]!.byteLength);
      a.ack({ type: 'middle', m: frames[i]! });
    });
    for (const [id, a] of arrivals) if (this.active.has(id)) await this.tap('onSmashed', { clientId: id, round: this.round, step, z: a.z });
  }

  /** Calls every tap for an event; a failing tap is reported by name and never stops training. */
  private async tap<E extends TapEvent>(event: E, payload: Parameters<NonNullable<ServerTaps[E]>>[0]): Promise<void> {
    for (const t of this.opts.taps ?? []) {
      const f = t[event] as ((p: typeof payload) => void | Promise<void>) | undefined;
      if (!f) continue;
      try {
        await f.call(t, payload);
      } catch (e) {
        this.log(`hook ${t.name}.${event} failed: ${(e as Error).message}`);
      }
    }
  }

  private onBackward(c: ClientConn, raw: unknown, ack: unknown, reject: (ack: unknown, e: ErrorReply) => void, ok: () => void): void {
    const p = parseMessage(BackwardRequestSchema, raw);
    if (!p.ok) return reject(ack, p.error);
    if (typeof ack !== 'function') return reject(undefined, errorReply('bad-message', 'backward needs an acknowledgement callback'));
    const msg = p.value;
    const fl = c.inflight;
    if (!fl || fl.round !== msg.round || fl.step !== msg.step || msg.round !== this.round)
      return reject(ack, errorReply('not-expected', `client ${c.id} has no forward in flight for round ${msg.round} step ${msg.step}`));
    let gm: tf.Tensor;
    try {
      gm = frameToTensor(msg.gm, { sampleShape: this.split.middle.outputShape, maxBatch: fl.z.shape[0]!, batch: fl.z.shape[0]! });
    } catch (e) {
      return reject(ack, toError(e));
    }
    ok();
    this.count(c.id, msg.gm.byteLength, 0);
    const b = this.barrier(this.backwardBarriers, msg.step, (a, m) => void this.runBackward(msg.step, a, m));
    const r = b.arrive(c.id, { gm, ack: ack as BackwardArrival['ack'] });
    if (r !== 'ok') {
      gm.dispose();
      reject(ack, errorReply('not-expected', `backward for step ${msg.step}: ${r}`));
    }
  }

  private async runBackward(step: number, arrivals: [number, BackwardArrival][], missing: number[]): Promise<void> {
    for (const id of missing) this.dropClient(id, `no backward for step ${step} within training.stepTimeoutSeconds`);
    const live = arrivals.filter(([id]) => this.clients.get(id)?.inflight);
    if (live.length === 0) return;
    const zs = live.map(([id]) => this.clients.get(id)!.inflight!.z);
    const sizes = zs.map((z) => z.shape[0]!);
    const total = sizes.reduce((a, b) => a + b, 0);
    // The middle's update is the gradient of the batch-size-weighted mean of the clients' losses:
    // scale each client's gm by n_i/N, and return each client the gradient of its own loss.
    const gmAll = tf.tidy(() => {
      const gms = live.map(([, a], i) => (live.length === 1 ? tf.clone(a.gm) : tf.mul(a.gm, sizes[i]! / total)));
      return live.length === 1 ? gms[0]! : tf.concat(gms, 0);
    });
    // the forward's activations serve when the same clients, in the same order, came back
    const sc = this.stepCache;
    const cached = sc && sc.round === this.round && sc.step === step && sc.ids.length === live.length && sc.ids.every((id, i) => id === live[i]![0]);
    const vjp = (cached ? await this.pool.backward(this.middle, gmAll) : null) ?? this.recomputedVjp(zs, gmAll);
    gmAll.dispose();
    applyGradients(this.opt, this.middle.vars, vjp.grads);
    tf.dispose(vjp.grads);
    const gz = live.length === 1 ? [vjp.gz] : tf.tidy(() => tf.split(vjp.gz, sizes, 0).map((t, i) => tf.mul(t, total / sizes[i]!)));
    if (live.length > 1) vjp.gz.dispose();
    this.dropStepCache();
    const frames = await Promise.all(gz.map((t) => tensorToFrame(t)));
    tf.dispose(gz);
    // the awaits above (the middle's worker threads, framing) let socket events run: a client that
    // was dropped meanwhile has lost its in-flight forward and gets neither tap nor answer
    const inflight = (id: number) => this.clients.get(id)?.inflight ?? null;
    for (const [id, a] of live) {
      const f = inflight(id);
      if (f) await this.tap('onGradient', { clientId: id, round: this.round, step, z: f.z, gm: a.gm });
    }
    live.forEach(([id, a], i) => {
      const c = this.clients.get(id);
      a.gm.dispose();
      if (!c?.inflight) return;
      c.inflight.z.dispose();
      c.inflight = null;
      this.count(id, 0, frames[i]!.byteLength);
      a.ack({ type: 'gradient', gz: frames[i]! });
    });
    for (const [id, a] of arrivals) if (!live.some(([l]) => l === id)) a.gm.dispose();
    this.opts.onStep?.(this.round, step + 1, Math.max(0, ...[...this.active].map((id) => this.stepsOf.get(id) ?? 0)));
  }

  /** The middle's VJP with a second forward, when the kept activations do not match the clients that came back. */
  private recomputedVjp(zs: tf.Tensor[], gm: tf.Tensor): { gz: tf.Tensor; grads: tf.Tensor[] } {
    const z = zs.length === 1 ? zs[0]! : tf.concat(zs, 0);
    const r = middleVjp(this.middle, z, gm);
    if (z !== zs[0]) z.dispose();
    return r;
  }

  /** Predicted simulated seconds of a client's round: last measured compute per step (or the fleet's median) plus its traffic. */
  private predictSeconds(id: number): number {
    const cfg = this.opts.config;
    const c = this.clients.get(id)!;
    const steps = stepsPerRound(c.assignment.trainIndices.length, cfg.training.batchSize, cfg.training.maxStepsPerRound);
    const known = [...this.secondsPerStep.values()].sort((a, b) => a - b);
    const perStep = this.secondsPerStep.get(id) ?? known[Math.floor(known.length / 2)] ?? 0;
    const sz = (s: readonly number[]) => cfg.training.batchSize * s.reduce((a, b) => a + b, 1) * 4;
    const up = steps * (sz(this.split.middle.inputShape) + sz(this.split.middle.outputShape));
    return simulatedSeconds(this.profiles[id]!, perStep * steps, { bytesUp: up, bytesDown: up, messages: 4 * steps });
  }

  private count(id: number, up: number, down: number): void {
    const t = this.traffic.get(id) ?? { bytesUp: 0, bytesDown: 0, messages: 0 };
    t.bytesUp += up;
    t.bytesDown += down;
    t.messages += 1;
    this.traffic.set(id, t);
  }

  /** Non-IID measures of the population (label counts per client vs the global distribution). */
  population() {
    const summary = summarizeNonIid([...this.clients.values()].sort((a, b) => a.id - b.id).map((c) => c.labelCounts));
    return { ...summary, profiles: this.profiles.slice(0, this.clients.size), inputNoise: this.inputNoise.slice(0, this.clients.size) };
  }

  private dropClient(id: number, why: string): void {
    const c = this.clients.get(id);
    if (c?.inflight) {
      c.inflight.z.dispose();
      c.inflight = null;
    }
    if (!this.active.has(id)) {
      this.settle(this.evalWaiters, id, null);
      return;
    }
    this.active.delete(id);
    this.dropped.add(id);
    this.log(`client ${id} dropped from round ${this.round}: ${why}`);
    for (const b of this.forwardBarriers.values()) b.drop(id)?.z.dispose();
    for (const b of this.backwardBarriers.values()) b.drop(id)?.gm.dispose();
    this.settle(this.doneWaiters, id, null);
    this.settle(this.evalWaiters, id, null);
  }

  // ---- rounds ------------------------------------------------------------------------------

  private settle<T>(map: Map<number, Waiter<T>>, id: number, v: T | null): void {
    const w = map.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    map.delete(id);
    w.resolve(v);
  }

  private wait<T>(map: Map<number, Waiter<T>>, id: number, timeoutMs: number): Promise<T | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        map.delete(id);
        resolve(null);
      }, timeoutMs);
      timer.unref();
      map.set(id, { resolve, timer });
    });
  }

  private beginPhase(ids: number[]): void {
    this.active = new Set(ids);
    this.forwardBarriers = new Map();
    this.backwardBarriers = new Map();
  }

  /** Runs one client group through a phase of local training; returns their roundDone messages. */
  private async trainGroup(ids: number[], weights: WeightArray[] | ((id: number) => WeightArray[])): Promise<Map<number, RoundDone>> {
    const cfg = this.opts.config;
    this.beginPhase(ids.filter((id) => this.clients.get(id)?.connected));
    const shared = typeof weights === 'function' ? null : weightsToFrames(weights);
    const waits = new Map<number, Promise<RoundDone | null>>();
    for (const id of this.active) {
      const c = this.clients.get(id)!;
      const steps = stepsPerRound(c.assignment.trainIndices.length, cfg.training.batchSize, cfg.training.maxStepsPerRound);
      this.stepsOf.set(id, steps);
      // generous: a round may take many steps
      waits.set(id, this.wait(this.doneWaiters, id, cfg.training.stepTimeoutSeconds * 1000 * Math.max(1, steps)));
      // every round starts from weights the server holds: what makes a resumed run exact
      const frames = shared ?? weightsToFrames((weights as (id: number) => WeightArray[])(id));
      c.socket.emit('roundStart', { type: 'roundStart', round: this.round, steps, weights: frames });
    }
    const out = new Map<number, RoundDone>();
    for (const [id, p] of waits) {
      const done = await p;
      if (done && done.round === this.round) out.set(id, done);
      else if (this.active.has(id)) this.dropClient(id, 'no roundDone in time');
    }
    return out;
  }

  private headTailParams() {
    return [...this.split.head.params, ...this.split.tail.params];
  }

  private async evaluateOn(id: number, weights: WeightArray[]): Promise<EvalResult | null> {
    const c = this.clients.get(id);
    if (!c?.connected) return null;
    const p = this.wait(this.evalWaiters, id, this.opts.config.training.stepTimeoutSeconds * 1000 * 10);
    c.socket.emit('evaluate', { type: 'evaluate', round: this.round, weights: weightsToFrames(weights) });
    return p;
  }

  /** Runs one training round in the configured mode, then evaluates. */
  async runRound(round: number): Promise<RoundResult> {
    const t0 = performance.now();
    const cfg = this.opts.config;
    this.round = round;
    this.dropped = new Set();
    const connected = [...this.clients.values()].filter((c) => c.connected).map((c) => c.id).sort((a, b) => a - b);
    if (connected.length === 0) throw new Error(`round ${round}: no connected clients left`);
    // availability (traces, dropout draws) → seeded sampling → deadline: who takes part this round
    const available = connected.filter((id) => isAvailable(this.profiles[id]!, round, id, cfg.seed));
    const sampled = available.length ? sampleClients(available, cfg.fleet.sample, round, cfg.seed) : [];
    const stragglers = cfg.training.deadlineSeconds === null ? [] : sampled.filter((id) => this.predictSeconds(id) > cfg.training.deadlineSeconds!);
    const ids = sampled.filter((id) => !stragglers.includes(id));
    if (ids.length === 0) this.log(`round ${round}: no client is available, sampled and within the deadline (${connected.length} connected, ${available.length} available, ${stragglers.length} stragglers); the model is unchanged this round`);
    this.traffic = new Map();
    const done = new Map<number, RoundDone>();
    const mode = cfg.training.mode;
    if (mode === 'sequential') {
      let w = this.globalWeights;
      for (const id of ids) {
        const r = await this.trainGroup([id], w);
        const d = r.get(id);
        if (!d) continue;
        done.set(id, d);
        w = framesToWeights(d.weights, this.headTailParams());
      }
      this.globalWeights = w;
    } else {
      const r = await this.trainGroup(ids, mode === 'splitfed' ? this.globalWeights : (id) => this.lastWeights.get(id) ?? this.globalWeights);
      for (const [id, d] of r) done.set(id, d);
      if (mode === 'splitfed' && done.size > 0) {
        const lists = [...done.values()].map((d) => framesToWeights(d.weights, this.headTailParams()));
        this.globalWeights = averageWeights(lists, [...done.values()].map((d) => d.samples));
      }
    }
    for (const [id, d] of done) this.lastWeights.set(id, framesToWeights(d.weights, this.headTailParams()));
    this.active = new Set();
    this.dropStepCache();

    // Evaluation: shared modes evaluate the one global model once; local mode evaluates every client.
    const evals = new Map<number, EvalResult>();
    // evaluate on the round's clients, or (nobody trained) on any connected client
    // (clients that completed the round first: a client dropped this round may be gone for good)
    const completed = ids.filter((id) => done.has(id));
    const survivors = (completed.length ? completed : ids.length ? ids : connected).filter((id) => this.clients.get(id)?.connected);
    if (mode === 'local') {
      const rs = await Promise.all(survivors.map((id) => this.evaluateOn(id, this.lastWeights.get(id) ?? this.globalWeights)));
      survivors.forEach((id, i) => rs[i] && evals.set(id, rs[i]));
    } else {
      for (const id of survivors) {
        const r = await this.evaluateOn(id, this.globalWeights);
        if (r) {
          for (const s of survivors) evals.set(s, r);
          break;
        }
      }
    }
    if (evals.size === 0) throw new Error(`round ${round}: no client could evaluate`);
    const all = [...evals.values()];
    const uniq = mode === 'local' ? all : [all[0]!];
    const testSamples = uniq.reduce((a, e) => a + e.samples, 0);
    const testAccuracy = uniq.reduce((a, e) => a + sum(e.correctByClass), 0) / testSamples;
    const testLoss = uniq.reduce((a, e) => a + e.lossSum, 0) / testSamples;
    const trained = [...done.values()];
    const trainSamples = trained.reduce((a, d) => a + d.samples, 0);
    const clients: ClientRoundResult[] = ids.map((id) => {
      const c = this.clients.get(id)!;
      const d = done.get(id);
      const e = evals.get(id);
      const n = sum(c.labelCounts);
      return {
        id,
        samples: c.assignment.trainIndices.length,
        steps: d?.steps ?? 0,
        trainLoss: d && d.samples > 0 ? d.lossSum / d.samples : null,
        testAccuracy: e ? sum(e.correctByClass) / e.samples : null,
        testLoss: e ? e.lossSum / e.samples : null,
        labelWeightedAccuracy: e && n > 0 ? labelWeighted(frequencies(c.labelCounts), e.totalByClass, e.correctByClass) : null,
        computeSeconds: d ? d.computeMs / 1000 : null,
        simulatedSeconds: d ? simulatedSeconds(this.profiles[id]!, d.computeMs / 1000, this.traffic.get(id) ?? { bytesUp: 0, bytesDown: 0, messages: 0 }) : null,
        bytesUp: this.traffic.get(id)?.bytesUp ?? 0,
        bytesDown: this.traffic.get(id)?.bytesDown ?? 0,
        dropped: !d,
      };
    });
    for (const [id, d] of done) if (d.steps > 0) this.secondsPerStep.set(id, d.computeMs / 1000 / d.steps);
    const sims = clients.map((c) => c.simulatedSeconds ?? 0);
    const result: RoundResult = {
      round, testAccuracy, testLoss,
      trainLoss: trainSamples > 0 ? trained.reduce((a, d) => a + d.lossSum, 0) / trainSamples : null,
      wallSeconds: (performance.now() - t0) / 1000,
      // parallel modes wait for the slowest client; sequential adds them up
      simulatedSeconds: mode === 'sequential' ? sims.reduce((a, b) => a + b, 0) : Math.max(0, ...sims),
      selected: ids,
      notSelected: connected.filter((id) => !sampled.includes(id)),
      stragglers,
      participants: [...done.keys()].sort((a, b) => a - b),
      dropped: ids.filter((id) => !done.has(id)),
      clients,
    };
    await this.tap('onRoundEnd', { round, middle: { spec: this.split.middle, weights: () => this.middle.getWeights() } });
    this.opts.onRound?.(result);
    return result;
  }

  /** Training indices of every client id (evaluation and reporting only). */
  get clientPartitions(): readonly (readonly number[])[] {
    return this.partitions;
  }

  /** Head and tail weights a client sent at the end of its last completed round. */
  clientWeights(id: number): WeightArray[] | undefined {
    return this.lastWeights.get(id);
  }

  /**
   * Everything the server needs to continue a run after the last completed round: middle weights,
   * the middle optimiser's state, the global head/tail and each client's last head/tail.
   * (Client optimisers restart every round, and batch order is a pure function of (seed, client,
   * round), so nothing else is needed for an exact resume.)
   */
  async exportState(): Promise<{ meta: ServerStateMeta; tensors: Record<string, WireTensor> }> {
    const tensors: Record<string, WireTensor> = {};
    const put = (prefix: string, ws: readonly WeightArray[]) => ws.forEach((w, i) => (tensors[`${prefix}/${i}`] = { dtype: 'float32', shape: w.shape, data: w.values }));
    put('middle', await this.middle.getWeights());
    put('global', this.globalWeights);
    for (const [id, w] of this.lastWeights) put(`client${id}`, w);
    const optW = await this.opt.getWeights();
    const optNames: string[] = [];
    for (const [i, nt] of optW.entries()) {
      optNames.push(nt.name);
      const data = await nt.tensor.data();
      tensors[`opt/${i}`] = nt.tensor.dtype === 'int32' ? { dtype: 'int32', shape: nt.tensor.shape, data: Int32Array.from(data) } : { dtype: 'float32', shape: nt.tensor.shape, data: Float32Array.from(data) };
    }
    return { meta: { round: this.round, clients: [...this.lastWeights.keys()], optimizer: optNames }, tensors };
  }

  async importState(meta: ServerStateMeta, tensors: ReadonlyMap<string, WireTensor>): Promise<void> {
    const get = (prefix: string, params: readonly { name: string }[]): WeightArray[] =>
      params.map((p, i) => {
        const t = tensors.get(`${prefix}/${i}`);
        if (!t) throw new Error(`checkpoint lacks ${prefix}/${i}`);
        return { name: p.name, shape: t.shape, values: t.data as Float32Array };
      });
    this.middle.setWeights(get('middle', this.split.middle.params));
    this.globalWeights = get('global', this.headTailParams());
    for (const id of meta.clients) this.lastWeights.set(id, get(`client${id}`, this.headTailParams()));
    await this.opt.setWeights(meta.optimizer.map((name, i) => {
      const t = tensors.get(`opt/${i}`)!;
      return { name, tensor: tf.tensor(t.data as Float32Array | Int32Array, [...t.shape], t.dtype === 'int32' ? 'int32' : 'float32') };
    }));
    this.round = meta.round;
  }

  async middleWeights(): Promise<WeightArray[]> {
    return this.middle.getWeights();
  }

  async close(reason = 'run finished'): Promise<void> {
    for (const c of this.clients.values()) if (c.connected) c.socket.emit('shutdown', { type: 'shutdown', reason });
    await new Promise((r) => setTimeout(r, 50));
    this.io.disconnectSockets(true);
    const closed = new Promise<void>((res) => this.io.close(() => res()));
    // long-lived dashboard streams and idle keep-alive connections would hold http.close() open
    this.http.closeAllConnections();
    await closed;
    for (const c of this.clients.values()) c.inflight?.z.dispose();
    this.dropStepCache();
    await this.pool.close();
    this.middle.dispose();
    disposeOptimizer(this.opt);
  }
}

export interface ServerStateMeta {
  readonly round: number;
  readonly clients: number[];
  readonly optimizer: string[];
}

function sum(a: readonly number[]): number {
  return a.reduce((x, y) => x + y, 0);
}

function toError(e: unknown): ErrorReply {
  if (e instanceof CodecError) {
    const code = (['bad-shape', 'bad-dtype', 'non-finite'] as const).find((c) => c === e.code) ?? 'bad-frame';
    return errorReply(code, e.message);
  }
  return errorReply('internal', (e as Error).message ?? String(e));
}
