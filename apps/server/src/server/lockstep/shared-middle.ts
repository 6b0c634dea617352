import * as tf from '@tensorflow/tfjs-core';
import { applyGradients, clientChunks, derivedSeed, errorReply, middleVjp, tensorToFrame, trainMode, type ErrorReply, type PartModel, type ServedTraining } from '@splitfleet/splitcore';
import { isTensor } from '../frames.ts';
import { StepBarrier } from './barrier.ts';
import type { MiddlePool } from './middle-pool.ts';
import type { BackwardAck, ForwardAck, StepServing, StepServingDeps } from './step-serving.ts';

interface ForwardArrival { z: tf.Tensor; ack: ForwardAck }
interface BackwardArrival { gm: tf.Tensor; ack: BackwardAck }
/** Smashed data of a client's step in flight, kept for the backward pass. */
interface Inflight { round: number; step: number; z: tf.Tensor }

/**
 * Lockstep serving with one shared middle: each step waits for every client expected at it, runs
 * the middle once over their smashed data concatenated in client-id order (server-side
 * micro-batching, on the middle pool's threads), and makes one optimiser update from the
 * batch-size-weighted mean of their losses. The fixed order makes runs deterministic whatever order
 * frames arrive in.
 */
export class SharedMiddleServing implements StepServing {
  private readonly d: StepServingDeps;
  private readonly pool: MiddlePool;
  private readonly opt: tf.Optimizer;
  private round = -1;
  private active = new Set<number>();
  private stepsOf: ReadonlyMap<number, number> = new Map();
  private forwardBarriers = new Map<number, StepBarrier<ForwardArrival>>();
  private backwardBarriers = new Map<number, StepBarrier<BackwardArrival>>();
  private readonly inflight = new Map<number, Inflight>();
  /** Steps (and their rows) whose backward this phase answered, per client: its step window and its claims' bound. */
  private readonly servedOf = new Map<number, ServedTraining>();
  /** The step's forward while it runs: its backward starts after it. */
  private forwarding: Promise<void> = Promise.resolve();
  /** Which step's forward (and run of its clients) the pool keeps activations of, for its backward. */
  private stepCache: { round: number; step: number; run: number; ids: number[] } | null = null;

  constructor(deps: StepServingDeps, pool: MiddlePool, opt: tf.Optimizer) {
    this.d = deps;
    this.pool = pool;
    this.opt = opt;
  }

  async beginPhase(round: number, steps: ReadonlyMap<number, number>): Promise<void> {
    this.round = round;
    this.active = new Set(steps.keys());
    this.stepsOf = steps;
    this.forwardBarriers = new Map();
    this.backwardBarriers = new Map();
    for (const id of steps.keys()) this.servedOf.set(id, { steps: 0, samples: 0 });
    this.openForward(0);
  }

  served(id: number): ServedTraining {
    return this.servedOf.get(id) ?? { steps: 0, samples: 0 };
  }

  isActive(id: number): boolean {
    return this.active.has(id);
  }

  /** Nothing of the phase outlives it: open steps are cancelled (their timers too), kept tensors freed. */
  endPhase(): void {
    this.active = new Set();
    for (const b of this.forwardBarriers.values()) for (const a of b.cancel()) a.z.dispose();
    for (const b of this.backwardBarriers.values()) for (const a of b.cancel()) a.gm.dispose();
    for (const f of this.inflight.values()) f.z.dispose();
    this.inflight.clear();
    this.dropStepCache();
  }

  async endRound(): Promise<void> {}

  private dropStepCache(): void {
    this.pool.drop();
    this.stepCache = null;
  }

  private expectedAt(step: number): number[] {
    return [...this.active].filter((id) => (this.stepsOf.get(id) ?? 0) > step);
  }

  /**
   * Opens step `step` for every client expected at it: its timeout runs from now, not from the first
   * arrival, so a client that races ahead cannot start (and expire) a step before the others reach it.
   */
  private openForward(step: number): void {
    const expected = this.expectedAt(step);
    if (expected.length) this.forwardBarriers.set(step, new StepBarrier<ForwardArrival>(expected, this.d.stepTimeoutMs, (a, m) => void (this.forwarding = this.runForward(step, a, m))));
  }

  private openBackward(step: number, ids: readonly number[]): void {
    if (ids.length) this.backwardBarriers.set(step, new StepBarrier<BackwardArrival>(ids, this.d.stepTimeoutMs, (a, m) => void this.runBackward(step, a, m)));
  }

  /** The one step a client may send a forward for: the next after those it completed, while it has steps left. */
  private windowProblem(id: number, round: number, step: number): string | null {
    const next = this.served(id).steps;
    if (round !== this.round || !this.active.has(id)) return `client ${id} is not training in round ${round} (server round ${this.round})`;
    if (this.inflight.has(id)) return `client ${id} already has step ${this.inflight.get(id)!.step} in flight`;
    if (step !== next) return `client ${id} may send step ${next} now, not step ${step}`;
    return null;
  }

  /**
   * A client crafts for the step it may send next: the middle has then made every update before that
   * step and cannot make the next without this client's backward, so crafting meets exactly the
   * weights its training step will, whatever the other clients are doing.
   */
  craftMiddle(id: number, round: number, step: number): PartModel | string {
    return this.windowProblem(id, round, step) ?? this.d.middle;
  }

  forward(id: number, round: number, step: number, zFrame: Uint8Array, ack: ForwardAck): ErrorReply | null {
    const z = this.d.frames.smashed(zFrame);
    if (!isTensor(z)) return z;
    const problem = this.windowProblem(id, round, step);
    const b = this.forwardBarriers.get(step);
    const r = problem ? null : b?.arrive(id, { z, ack }) ?? 'not-expected';
    if (r === 'ok') {
      this.d.events.count(id, zFrame.byteLength, 0);
      return null;
    }
    z.dispose();
    return errorReply('not-expected', problem ?? `forward for step ${step}: ${r}`);
  }

  private async runForward(step: number, arrivals: [number, ForwardArrival][], missing: number[]): Promise<void> {
    for (const id of missing) this.d.events.drop(id, `no forward for step ${step} within training.stepTimeoutSeconds`);
    if (arrivals.length === 0) return;
    // the step's backward opens now, for the clients whose forward this step answers
    this.openBackward(step, arrivals.map(([id]) => id).filter((id) => this.active.has(id)));
    const round = this.round;
    const runs = clientChunks(arrivals.map(([, a]) => a.z.shape[0]!), this.d.middleChunkRows);
    const pushes: Promise<void>[] = [];
    for (const [c, [from, to]] of runs.entries()) {
      const run = arrivals.slice(from, to);
      const frames = await this.forwardRun(step, c, run.map(([, a]) => a.z));
      // the pool keeps the last run's activations for its backward (no second forward pass there)
      this.stepCache = { round, step, run: c, ids: run.map(([id]) => id) };
      run.forEach(([id, a], i) => {
        if (!this.active.has(id)) return void a.z.dispose();
        this.inflight.set(id, { round, step, z: a.z });
        this.d.events.count(id, 0, frames[i]!.byteLength);
        a.ack({ type: 'middle', m: frames[i]! });
        // a push copies its tensors when called, before anything awaits: a client dropped while later
        // runs are served, or while a push waits for room (its z then freed), cannot break it
        pushes.push(this.d.taps.push('onSmashed', [a.z], ([v]) => ({ clientId: id, round, step, z: v! })));
      });
    }
    await Promise.all(pushes);
  }

  /** The middle's training forward over one run of clients' smashed data: each client's output frame. */
  private async forwardRun(step: number, run: number, zs: tf.Tensor[]): Promise<Uint8Array[]> {
    this.dropStepCache();
    const zcat = zs.length === 1 ? zs[0]! : tf.concat(zs, 0);
    const m = await this.pool.forward(this.d.middle, zcat, trainMode(this.runSeed(step, run)));
    if (zcat !== zs[0]) zcat.dispose();
    const parts = zs.length === 1 ? [m] : tf.split(m, zs.map((z) => z.shape[0]!), 0);
    const frames = await Promise.all(parts.map((t) => tensorToFrame(t)));
    tf.dispose(parts);
    if (parts[0] !== m) m.dispose();
    return frames;
  }

  backward(id: number, round: number, step: number, gmFrame: Uint8Array, ack: BackwardAck): ErrorReply | null {
    const fl = this.inflight.get(id);
    if (!fl || fl.round !== round || fl.step !== step || round !== this.round)
      return errorReply('not-expected', `client ${id} has no forward in flight for round ${round} step ${step}`);
    const gm = this.d.frames.middleGradient(gmFrame, fl.z.shape[0]!);
    if (!isTensor(gm)) return gm;
    const r = this.backwardBarriers.get(step)?.arrive(id, { gm, ack }) ?? 'not-expected';
    if (r === 'ok') {
      this.d.events.count(id, gmFrame.byteLength, 0);
      return null;
    }
    gm.dispose();
    return errorReply('not-expected', `backward for step ${step}: ${r}`);
  }

  private async runBackward(step: number, arrivals: [number, BackwardArrival][], missing: number[]): Promise<void> {
    // a step served in runs answers its first runs' clients early; should every later client leave
    // meanwhile, this barrier fills before the forward is done: the pool serves one thing at a time
    await this.forwarding;
    for (const id of missing) this.d.events.drop(id, `no backward for step ${step} within training.stepTimeoutSeconds`);
    const live = arrivals.filter(([id]) => this.inflight.has(id));
    for (const [id, a] of arrivals) if (!this.inflight.has(id)) a.gm.dispose();
    if (live.length === 0) return;
    const zs = live.map(([id]) => this.inflight.get(id)!.z);
    const frames = await this.middleStep(step, live.map(([id]) => id), zs, live.map(([, a]) => a.gm));
    // the awaits above (the middle's worker threads, framing) let socket events run: a client that
    // was dropped meanwhile has lost its in-flight forward and gets no answer
    const round = this.round;
    const answered: [number, tf.Tensor, tf.Tensor][] = [];
    live.forEach(([id, a]) => {
      const fl = this.inflight.get(id);
      if (!fl) return;
      const done = this.servedOf.get(id)!;
      this.servedOf.set(id, { steps: done.steps + 1, samples: done.samples + fl.z.shape[0]! });
    });
    // the next step opens before anyone hears back, so its timeout covers everyone alike
    this.openForward(step + 1);
    live.forEach(([id, a], i) => {
      const fl = this.inflight.get(id);
      if (!fl) return void a.gm.dispose();
      this.inflight.delete(id);
      this.d.events.count(id, 0, frames[i]!.byteLength);
      a.ack({ type: 'gradient', gz: frames[i]! });
      answered.push([id, fl.z, a.gm]);
    });
    await Promise.all(answered.map(([id, z, gm]) => this.d.taps.push('onGradient', [z, gm], ([vz, vg]) => ({ clientId: id, round, step, z: vz!, gm: vg! }))));
    tf.dispose(answered.flatMap(([, z, gm]) => [z, gm]));
    this.d.events.step(round, step + 1, Math.max(0, ...[...this.active].map((id) => this.stepsOf.get(id) ?? 0)));
  }

  /**
   * The middle's update from the gradient of the batch-size-weighted mean of the clients' losses:
   * each client's gm is scaled by n_i/N, and each client gets back the gradient of its own loss.
   * The step's clients are served in the forward's runs (`server.middleChunkRows`), last run first:
   * the pool still holds that run's activations, the others' are recomputed with the forward's
   * dropout seed and without moving running statistics. The parameter gradients of the runs are
   * summed into one update, so a run-split step makes the same single update as an unsplit one up to
   * summation order (for middles without batch statistics; see docs/population.md). Returns each
   * client's gradient frame, in `ids` order.
   */
  private async middleStep(step: number, ids: number[], zs: tf.Tensor[], gms: tf.Tensor[]): Promise<Uint8Array[]> {
    const sizes = zs.map((z) => z.shape[0]!);
    const total = sizes.reduce((a, b) => a + b, 0);
    const runs = clientChunks(sizes, this.d.middleChunkRows);
    const frames: Uint8Array[] = new Array(ids.length);
    let grads: tf.Tensor[] | null = null;
    for (let c = runs.length - 1; c >= 0; c--) {
      const [from, to] = runs[c]!;
      const vjp = await this.runVjp(step, c, runs.length, ids.slice(from, to), zs.slice(from, to), gms.slice(from, to), total);
      if (grads === null) grads = vjp.grads;
      else {
        const summed: tf.Tensor[] = grads.map((g, j) => tf.add(g, vjp.grads[j]!));
        tf.dispose([...grads, ...vjp.grads]);
        grads = summed;
      }
      const gz = to - from === 1 && ids.length === 1 ? [vjp.gz] : tf.tidy(() => tf.split(vjp.gz, sizes.slice(from, to), 0).map((t, i) => tf.mul(t, total / sizes[from + i]!)));
      if (gz[0] !== vjp.gz) vjp.gz.dispose();
      const fs = await Promise.all(gz.map((t) => tensorToFrame(t)));
      tf.dispose(gz);
      fs.forEach((f, i) => (frames[from + i] = f));
    }
    applyGradients(this.opt, this.d.middle.vars, grads!);
    tf.dispose(grads!);
    this.dropStepCache();
    return frames;
  }

  /** The VJP of one run of the step's clients, each gm scaled by n_i/N (N: the whole step's rows). */
  private async runVjp(step: number, run: number, runs: number, ids: number[], zs: tf.Tensor[], gms: tf.Tensor[], total: number): Promise<{ gz: tf.Tensor; grads: tf.Tensor[] }> {
    const one = runs === 1 && gms.length === 1;
    const gm = tf.tidy(() => {
      const scaled = gms.map((g, i) => (one ? tf.clone(g) : tf.mul(g, zs[i]!.shape[0]! / total)));
      return scaled.length === 1 ? scaled[0]! : tf.concat(scaled, 0);
    });
    // the forward's activations serve when the same clients, in the same order, came back
    const sc = this.stepCache;
    const cached = sc && sc.round === this.round && sc.step === step && sc.run === run && sc.ids.length === ids.length && sc.ids.every((id, i) => id === ids[i]);
    let vjp = cached ? await this.pool.backward(this.d.middle, gm) : null;
    if (!vjp && runs > 1) {
      // a run whose activations were not kept: its training forward again, on the pool's threads
      const z = zs.length === 1 ? zs[0]! : tf.concat(zs, 0);
      (await this.pool.forward(this.d.middle, z, trainMode(this.runSeed(step, run), false))).dispose();
      if (z !== zs[0]) z.dispose();
      vjp = await this.pool.backward(this.d.middle, gm);
    }
    vjp ??= this.recomputedVjp(this.runSeed(step, run), zs, gm);
    gm.dispose();
    return vjp;
  }

  /** The middle's VJP with a second forward, when the kept activations do not match the clients that came back. */
  private recomputedVjp(seed: number, zs: tf.Tensor[], gm: tf.Tensor): { gz: tf.Tensor; grads: tf.Tensor[] } {
    const z = zs.length === 1 ? zs[0]! : tf.concat(zs, 0);
    const r = middleVjp(this.d.middle, z, gm, seed);
    if (z !== zs[0]) z.dispose();
    return r;
  }

  /** The dropout seed of a step's run of clients (the same for its forward and any re-run of it); run 0's is the step's. */
  private runSeed(step: number, run: number): number {
    return run === 0 ? derivedSeed(this.d.seed, 'middle', this.round, step) : derivedSeed(this.d.seed, 'middle', this.round, step, 'run', run);
  }

  drop(id: number): void {
    this.inflight.get(id)?.z.dispose();
    this.inflight.delete(id);
    if (!this.active.delete(id)) return;
    for (const b of this.forwardBarriers.values()) b.drop(id)?.z.dispose();
    for (const b of this.backwardBarriers.values()) b.drop(id)?.gm.dispose();
  }

  async close(): Promise<void> {
    for (const f of this.inflight.values()) f.z.dispose();
    this.inflight.clear();
    this.dropStepCache();
    await this.pool.close();
  }
}
