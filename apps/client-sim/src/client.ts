import * as tf from '@tensorflow/tfjs-core';
import type { Socket } from 'socket.io-client';
import {
  EvaluateRequestSchema, frameToTensor, framesToWeights, headBackward, headForward, forwardKeep, disposeCache, type ForwardCache,
  isErrorReply, LossSignal, makeOptimizer, disposeOptimizer, parseMessage, PartModel, PROTOCOL_VERSION, RoundStartSchema, batchOrder, Rng,
  ClientDefences, craftThroughSplit, defenceRng, headTailShapes, splitSpecs, stateShapes, tailEvaluate, tailStep, weightsToFrames, gather, derivedSeed, trainMode,
  type Assignment, type CraftLink, type ClientToServerEvents, type ErrorReply, type Hello, type ImageSet,
  type ServerToClientEvents, type SplitSpecs,
} from '@splitfleet/splitcore';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** What a platform (Node worker, browser Web Worker) provides to a client. */
export interface ClientHost {
  readonly runtime: 'node' | 'browser';
  readonly backend: string;
  readonly adapter: string | null;
  /** Browser hosts: navigator.userAgent; null in Node. */
  readonly userAgent?: string | null;
  loadDataset(name: string, dir: string | null): Promise<{ train: ImageSet; test: ImageSet }> | { train: ImageSet; test: ImageSet };
  log(line: string): void;
}

export class ProtocolFailure extends Error {
  readonly code: string;
  constructor(e: ErrorReply) {
    super(`server refused: ${e.code}: ${e.message}`);
    this.code = e.code;
  }
}

/**
 * One simulated split-learning client: its data partition, head, tail, loss and optimisers, and
 * its own socket.io connection. Host-agnostic: it runs unchanged in a Node worker or a Web Worker.
 * The raw inputs and labels never leave it; only smashed data and the gradient at the middle's
 * output are sent.
 */
export class SplitClient {
  private assignment: Assignment | null = null;
  private parts: SplitSpecs | null = null;
  /** Head and tail exist only while a round or an evaluation runs (idle clients hold no tensors). */
  private head: PartModel | null = null;
  private tail: PartModel | null = null;
  private headOpt: tf.Optimizer | null = null;
  private tailOpt: tf.Optimizer | null = null;
  private data: { train: ImageSet; test: ImageSet } | null = null;
  private busy: Promise<void>;
  private markReady: () => void = () => {};
  private finished: (reason: string) => void = () => {};
  /** Resolves with the reason when the server ends the run or the connection is lost. */
  readonly ended: Promise<string>;
  /** Fires with `ended`: the requests in flight are abandoned (a lost connection never answers). */
  private readonly connection = new LossSignal();
  rounds = 0;

  private readonly socket: ClientSocket;
  private readonly host: ClientHost;
  private readonly slot: number;
  private readonly fleetId: string;

  constructor(socket: ClientSocket, host: ClientHost, slot: number, fleetId: string) {
    this.socket = socket;
    this.host = host;
    this.slot = slot;
    this.fleetId = fleetId;
    this.ended = new Promise((r) => {
      this.finished = (why) => {
        r(why);
        this.connection.lose(new Error(`request abandoned: ${why}`));
      };
    });
    // Messages wait until join() has built the model and loaded the data: the server may start a
    // round the moment the last client says hello, before this client's data is ready.
    this.busy = new Promise((r) => (this.markReady = r));
    socket.on('roundStart', (msg) => this.serial(() => this.onRoundStart(msg)));
    socket.on('evaluate', (msg) => this.serial(() => this.onEvaluate(msg)));
    socket.on('protocolError', (e) => host.log(`client slot ${slot}: server error ${e.code}: ${e.message}`));
    socket.on('shutdown', (m) => this.finished(m.reason));
    socket.on('disconnect', (r) => this.finished(`disconnected: ${r}`));
  }

  /** Leaves the run: disconnects; the server drops this client from the round in progress. */
  leave(): void {
    // first: disconnect() fires 'disconnect' synchronously, and the first reason given is kept
    this.finished('left');
    this.socket.disconnect();
  }

  get id(): number | null {
    return this.assignment?.clientId ?? null;
  }

  /** Joins the run: hello → assignment; builds the model and loads the data. */
  async join(): Promise<Assignment> {
    const hello: Hello = {
      type: 'hello', protocol: PROTOCOL_VERSION, slot: this.slot, fleetId: this.fleetId,
      runtime: this.host.runtime, backend: this.host.backend, adapter: this.host.adapter, userAgent: this.host.userAgent ?? null,
    };
    try {
      const reply = await this.socket.emitWithAck('hello', hello);
      if (isErrorReply(reply)) throw new ProtocolFailure(reply);
      const a = reply as Assignment;
      this.assignment = a;
      const spec = a.model;
      // specs only: a client's weights come from the server each round, and drawing a full
      // initialisation here (middle included) cost ~1.7 MB and ~0.4 M random draws per client
      this.parts = splitSpecs(spec, a.cut);
      this.data = await this.host.loadDataset(a.dataset.name, a.dataset.dir);
      return a;
    } finally {
      this.markReady();
    }
  }

  /** Messages are handled one at a time, in arrival order. */
  private serial(task: () => Promise<void>): void {
    this.busy = this.busy.then(task).catch((e: unknown) => {
      this.releaseModels();
      this.host.log(`client ${this.id}: ${(e as Error).stack ?? e}`);
      this.socket.disconnect();
      this.finished(`failed: ${(e as Error).message}`);
    });
  }

  /** Builds head and tail from the weights the server sent. */
  private loadModels(frames: readonly Uint8Array[]): void {
    const p = this.parts!;
    const w = framesToWeights(frames, headTailShapes(p));
    const nHead = stateShapes(p.head).length;
    this.releaseModels();
    this.head = new PartModel(p.head, w.slice(0, nHead));
    this.tail = new PartModel(p.tail, w.slice(nHead));
  }

  private releaseModels(): void {
    this.head?.dispose();
    this.tail?.dispose();
    if (this.headOpt) disposeOptimizer(this.headOpt);
    if (this.tailOpt) disposeOptimizer(this.tailOpt);
    this.head = this.tail = null;
    this.headOpt = this.tailOpt = null;
  }

  private async request<T>(p: Promise<T | ErrorReply>): Promise<T> {
    // a lost connection never answers: give up (and free this step's tensors) when the client ends
    // not Promise.race with `ended`: every race left a reaction on it holding the reply (LossSignal)
    const r = await this.connection.guard(p);
    if (isErrorReply(r)) throw new ProtocolFailure(r);
    return r;
  }

  private async onRoundStart(raw: unknown): Promise<void> {
    const p = parseMessage(RoundStartSchema, raw);
    if (!p.ok) throw new Error(`bad roundStart: ${p.error.message}`);
    const msg = p.value;
    const a = this.assignment!;
    const parts = this.parts!;
    this.loadModels(msg.weights);
    // Client optimisers start fresh every round (as FedAvg clients do): the round's starting state
    // is then entirely the weights the server sent, so a resumed run continues exactly.
    this.headOpt = makeOptimizer(a.optimizer);
    this.tailOpt = makeOptimizer(a.optimizer);
    const t0 = performance.now();
    const order = batchOrder(a.seed, a.clientId, msg.round, a.trainIndices);
    let lossSum = 0;
    let samples = 0;
    const defences = new ClientDefences(a.defence, parts.model.classes);
    for (let step = 0; step < msg.steps; step++) {
      const idx = order.slice(step * a.batchSize, (step + 1) * a.batchSize);
      if (idx.length === 0) break;
      lossSum += (await this.trainStep(msg.round, step, idx, defences)) * idx.length;
      samples += idx.length;
    }
    const weights = weightsToFrames([...(await this.head!.getWeights()), ...(await this.tail!.getWeights())]);
    this.releaseModels();
    this.rounds++;
    this.socket.emit('roundDone', {
      type: 'roundDone', round: msg.round, samples, steps: msg.steps, lossSum,
      computeMs: performance.now() - t0, weights,
    });
  }

  /** One training step on the samples `idx`: the U-shaped round trip, head and tail updated. Returns the batch's mean loss. */
  private async trainStep(round: number, step: number, idx: readonly number[], defences: ClientDefences): Promise<number> {
    const a = this.assignment!;
    const parts = this.parts!;
    const classes = parts.model.classes;
    const { x, y } = gather(this.data!.train, idx);
    if (a.inputNoise > 0) addNoise(x, a.inputNoise, a.seed, a.clientId, round, step);
    const rng = defenceRng(a.seed, a.clientId, round, step, 'train');
    let xt = tf.tensor(x, [idx.length, ...parts.model.inputShape], 'float32');
    const yt = tf.tensor1d(defences.labels(y, rng), 'int32');
    let headCache: ForwardCache | null = null;
    let z: tf.Tensor | null = null;
    try {
      const adversarial = defences.adversarial();
      if (adversarial) {
        const craftRng = defenceRng(a.seed, a.clientId, round, step, 'craft');
        const xAdv = await craftThroughSplit({ head: this.head!, tail: this.tail! }, xt, yt, classes, adversarial, craftRng.fork('start'), this.craftLink(round, step, idx.length, defences, craftRng));
        xt.dispose();
        xt = xAdv;
      }
      // keep the head's activations for its backward, a network round trip later
      // this step's dropout masks: a pure function of (run seed, client, round, step)
      const seed = derivedSeed(a.seed, 'client', a.clientId, round, step);
      const fwdKeep = forwardKeep(this.head!, xt, trainMode(seed));
      headCache = fwdKeep.cache;
      z = fwdKeep.y;
      const zf = await defences.smashedFrame(z, rng);
      // NoPeek needs z again for its penalty's gradient; otherwise it is freed now
      if (!defences.at('loss')) { z.dispose(); z = null; }
      const fwd = await this.request(this.socket.emitWithAck('forward', { type: 'forward', round, step, purpose: 'train', z: zf }));
      const m = frameToTensor(fwd.m, { sampleShape: parts.middle.outputShape, maxBatch: idx.length, batch: idx.length });
      const { loss, gm } = await tailStep(this.tail!, this.tailOpt!, m, yt, classes, seed);
      m.dispose();
      const gmf = await defences.gradientFrame(gm, rng);
      gm.dispose();
      const bwd = await this.request(this.socket.emitWithAck('backward', { type: 'backward', round, step, purpose: 'train', gm: gmf }));
      const gz = frameToTensor(bwd.gz, { sampleShape: parts.head.outputShape, maxBatch: idx.length, batch: idx.length });
      const gHead = z ? defences.headGradient(xt, z, gz) : gz;
      headBackward(this.head!, this.headOpt!, headCache, gHead);
      if (gHead !== gz) gHead.dispose();
      gz.dispose();
      return loss;
    } finally {
      if (headCache) disposeCache(headCache);
      z?.dispose();
      xt.dispose();
      yt.dispose();
    }
  }

  /**
   * The server's half of adversarial training's craft round trips for training step `step`: the
   * client's smashed-data and gradient defences act on them as on any frame it sends (the server
   * sees ordinary frames), each PGD step with its own draws.
   */
  private craftLink(round: number, step: number, rows: number, defences: ClientDefences, rng: Rng): CraftLink {
    const parts = this.parts!;
    return {
      forward: async (z, k) => {
        const zf = await defences.smashedFrame(z, rng.fork(`smashed:${k}`));
        const r = await this.request(this.socket.emitWithAck('forward', { type: 'forward', round, step, purpose: 'craft', z: zf }));
        return frameToTensor(r.m, { sampleShape: parts.middle.outputShape, maxBatch: rows, batch: rows });
      },
      backward: async (gm, k) => {
        const gmf = await defences.gradientFrame(gm, rng.fork(`gradient:${k}`));
        const r = await this.request(this.socket.emitWithAck('backward', { type: 'backward', round, step, purpose: 'craft', gm: gmf }));
        return frameToTensor(r.gz, { sampleShape: parts.head.outputShape, maxBatch: rows, batch: rows });
      },
    };
  }

  private async onEvaluate(raw: unknown): Promise<void> {
    const p = parseMessage(EvaluateRequestSchema, raw);
    if (!p.ok) throw new Error(`bad evaluate: ${p.error.message}`);
    const msg = p.value;
    const parts = this.parts!;
    this.loadModels(msg.weights);
    const test = this.data!.test;
    const idxAll = Array.from({ length: this.assignment!.testSamples }, (_, i) => i);
    const classes = parts.model.classes;
    const correctByClass = new Array<number>(classes).fill(0);
    const totalByClass = new Array<number>(classes).fill(0);
    let lossSum = 0;
    // Evaluation batches are no larger than training batches: frames stay under the server's size limit.
    const evalBatch = this.assignment!.batchSize;
    const defences = new ClientDefences(this.assignment!.defence, classes);
    for (let s = 0; s < idxAll.length; s += evalBatch) {
      const idx = idxAll.slice(s, s + evalBatch);
      const { x, y } = gather(test, idx);
      const xt = tf.tensor(x, [idx.length, ...parts.model.inputShape], 'float32');
      const z = headForward(this.head!, xt);
      xt.dispose();
      // a noise defence is part of the deployed model: evaluation sees it too
      const zf = await defences.smashedFrame(z, defenceRng(this.assignment!.seed, this.assignment!.clientId, msg.round, s, 'eval'));
      z.dispose();
      const fwd = await this.request(this.socket.emitWithAck('forward', { type: 'forward', round: msg.round, step: 0, purpose: 'eval', z: zf }));
      const m = frameToTensor(fwd.m, { sampleShape: parts.middle.outputShape, maxBatch: idx.length, batch: idx.length });
      const r = await tailEvaluate(this.tail!, m, y, classes);
      m.dispose();
      lossSum += r.lossSum;
      r.correctByClass.forEach((v, c) => (correctByClass[c]! += v));
      r.totalByClass.forEach((v, c) => (totalByClass[c]! += v));
    }
    this.releaseModels();
    this.socket.emit('evalDone', { type: 'evalDone', round: msg.round, samples: idxAll.length, lossSum, correctByClass, totalByClass });
  }

  dispose(): void {
    this.releaseModels();
  }
}

/** Feature-noise populations: seeded Gaussian noise on a client's training inputs, clipped to [0,1]. */
function addNoise(x: Float32Array, sigma: number, seed: number, client: number, round: number, step: number): void {
  const r = Rng.fromSeed(seed).fork(`noise:${client}:${round}:${step}`);
  for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, x[i]! + sigma * r.normal()));
}
