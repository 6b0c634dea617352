import * as tf from '@tensorflow/tfjs-core';
import {
  applyGradients, backwardFromCache, derivedSeed, disposeCache, disposeOptimizer, errorReply, forwardKeep, makeOptimizer, trainMode,
  PartModel, tensorToFrame, type ErrorReply, type ForwardCache, type OptimizerConfig, type ServedTraining, type WeightArray, type WeightedUpdate,
} from '@splitfleet/splitcore';
import { isTensor } from '../frames.ts';
import type { BackwardAck, ForwardAck, StepServing, StepServingDeps } from './step-serving.ts';

/** One client's middle copy for the round and its step in flight. */
interface Copy {
  readonly middle: PartModel;
  readonly opt: tf.Optimizer;
  inflight: { step: number; z: tf.Tensor; cache: ForwardCache } | null;
  /** Steps (and rows) answered this round: the client's step window and the bound on its claims. */
  served: ServedTraining;
}

/**
 * SplitFedV1 serving: the server keeps one middle copy per client for the round, initialised from
 * the shared middle, each with its own optimiser (fresh every round, like the clients' own). A
 * client's steps touch only its own copy, so they are answered at once, in any interleaving, with
 * the same result. At round end the copies of the clients that completed are averaged weighted by
 * samples (or by the robust rule configured) into the shared middle.
 */
export class PerClientMiddleServing implements StepServing {
  private readonly d: StepServingDeps;
  private readonly optimizer: OptimizerConfig;
  private round = -1;
  private copies = new Map<number, Copy>();
  private active = new Set<number>();
  private stepsOf: ReadonlyMap<number, number> = new Map();

  private readonly combine: (updates: readonly WeightedUpdate[]) => WeightArray[];

  /** `combine` is the run's aggregation rule, the same one heads and tails are combined with. */
  constructor(deps: StepServingDeps, optimizer: OptimizerConfig, combine: PerClientMiddleServing['combine']) {
    this.d = deps;
    this.optimizer = optimizer;
    this.combine = combine;
  }

  async beginPhase(round: number, steps: ReadonlyMap<number, number>): Promise<void> {
    this.round = round;
    this.active = new Set(steps.keys());
    this.stepsOf = steps;
    const w = await this.d.middle.getWeights();
    for (const id of steps.keys()) {
      if (!this.copies.has(id)) this.copies.set(id, { middle: new PartModel(this.d.middle.spec, w), opt: makeOptimizer(this.optimizer), inflight: null, served: { steps: 0, samples: 0 } });
    }
  }

  served(id: number): ServedTraining {
    return this.copies.get(id)?.served ?? { steps: 0, samples: 0 };
  }

  isActive(id: number): boolean {
    return this.active.has(id);
  }

  /** The step a client may send now, or why not. */
  private windowProblem(id: number, round: number, step: number): string | null {
    const c = this.copies.get(id);
    if (round !== this.round || !this.active.has(id) || !c || c.inflight || step !== c.served.steps || step >= (this.stepsOf.get(id) ?? 0))
      return `client ${id} may send step ${c?.served.steps ?? 0} of round ${this.round} now, not round ${round} step ${step}`;
    return null;
  }

  /** A client crafts against its own copy, as its coming step will meet it. */
  craftMiddle(id: number, round: number, step: number): PartModel | string {
    return this.windowProblem(id, round, step) ?? this.copies.get(id)!.middle;
  }

  forward(id: number, round: number, step: number, zFrame: Uint8Array, ack: ForwardAck): ErrorReply | null {
    const z = this.d.frames.smashed(zFrame);
    if (!isTensor(z)) return z;
    const problem = this.windowProblem(id, round, step);
    if (problem) {
      z.dispose();
      return errorReply('not-expected', problem);
    }
    const c = this.copies.get(id)!;
    this.d.events.count(id, zFrame.byteLength, 0);
    const { y, cache } = forwardKeep(c.middle, z, trainMode(derivedSeed(this.d.seed, 'middle', this.round, step, id)));
    c.inflight = { step, z, cache };
    void tensorToFrame(y).then(async (m) => {
      y.dispose();
      if (c.inflight?.z !== z) return;
      this.d.events.count(id, 0, m.byteLength);
      ack({ type: 'middle', m });
      await this.d.taps.push('onSmashed', [z], ([v]) => ({ clientId: id, round, step, z: v! }));
    });
    return null;
  }

  backward(id: number, round: number, step: number, gmFrame: Uint8Array, ack: BackwardAck): ErrorReply | null {
    const c = this.copies.get(id);
    const fl = c?.inflight;
    if (!c || !fl || fl.step !== step || round !== this.round || !this.active.has(id))
      return errorReply('not-expected', `client ${id} has no forward in flight for round ${round} step ${step}`);
    const gm = this.d.frames.middleGradient(gmFrame, fl.z.shape[0]!);
    if (!isTensor(gm)) return gm;
    this.d.events.count(id, gmFrame.byteLength, 0);
    const { gx, grads } = backwardFromCache(c.middle, fl.cache, gm);
    applyGradients(c.opt, c.middle.vars, grads);
    tf.dispose(grads);
    disposeCache(fl.cache);
    c.inflight = null;
    c.served = { steps: c.served.steps + 1, samples: c.served.samples + fl.z.shape[0]! };
    void tensorToFrame(gx).then(async (gz) => {
      gx.dispose();
      this.d.events.count(id, 0, gz.byteLength);
      ack({ type: 'gradient', gz });
      await this.d.taps.push('onGradient', [fl.z, gm], ([vz, vg]) => ({ clientId: id, round, step, z: vz!, gm: vg! }));
      tf.dispose([fl.z, gm]);
      this.d.events.step(round, step + 1, this.stepsOf.get(id) ?? 0);
    });
    return null;
  }

  drop(id: number): void {
    this.active.delete(id);
    const c = this.copies.get(id);
    if (!c?.inflight) return;
    disposeCache(c.inflight.cache);
    c.inflight.z.dispose();
    c.inflight = null;
  }

  endPhase(): void {
    for (const id of [...this.active]) this.drop(id);
  }

  async endRound(completed: ReadonlyMap<number, number>): Promise<void> {
    const done = [...completed.keys()].filter((id) => this.copies.has(id));
    if (done.length > 0) {
      const lists = await Promise.all(done.map((id) => this.copies.get(id)!.middle.getWeights()));
      this.d.middle.setWeights(this.combine(lists.map((weights, i) => ({ weights, samples: completed.get(done[i]!)! }))));
    }
    for (const id of [...this.copies.keys()]) this.release(id);
  }

  private release(id: number): void {
    const c = this.copies.get(id);
    if (!c) return;
    if (c.inflight) this.drop(id);
    c.middle.dispose();
    disposeOptimizer(c.opt);
    this.copies.delete(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.copies.keys()]) this.release(id);
  }
}
