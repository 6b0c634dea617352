import {
  combineUpdates, errorReply, evalResultProblem, predictRoundSeconds, roundDoneProblem,
  type Aggregation, type AssignedEvaluation, type Availability, type ErrorReply, secondsPerStepOf, selectClients, stepsPerRound, summarizeRound, weightsToFrames,
  type ClientProfile, type ClientUpdate, type EvalResult, type RoundDone, type RoundResult, type RoundStrategy, type Traffic,
  type WeightArray,
} from '@splitfleet/splitcore';
import type { ClientRegistry } from './admission.ts';
import type { ModelState } from './model-state.ts';
import type { StepServing } from './lockstep/step-serving.ts';
import type { TapQueue } from './tap-queue.ts';
import type { FramePolicy } from './frames.ts';
import type { EphemeralClients } from './ephemeral-clients.ts';

interface Waiter<T> { resolve: (v: T | null) => void; timer: ReturnType<typeof setTimeout> }

/** The few settings a round needs (read once from the config). */
export interface RoundSettings {
  readonly seed: number;
  readonly batchSize: number;
  readonly maxStepsPerRound: number | null;
  readonly stepTimeoutMs: number;
  readonly sample: number;
  /** fleet.availability: generated on/off patterns. */
  readonly availability: Availability;
  readonly deadlineSeconds: number | null;
  /** Forward/backward exchanges per training step (adversarial training adds its PGD steps): what the deadline predicts. */
  readonly tripsPerStep: number;
  /** training.aggregation: how completed clients' weights are combined. */
  readonly aggregation: Aggregation;
  /** The evaluation every client is assigned (its evalDone must match it). */
  readonly evaluation: AssignedEvaluation;
}

/** A roundDone that passed every check, its weights decoded. */
interface Completed {
  readonly msg: RoundDone;
  readonly weights: WeightArray[];
}

export interface RoundRunnerDeps {
  readonly strategy: RoundStrategy;
  readonly serving: StepServing;
  readonly registry: ClientRegistry;
  readonly state: ModelState;
  /** Decodes what clients send (their roundDone weights). */
  readonly frames: FramePolicy;
  readonly taps: TapQueue;
  readonly profiles: readonly ClientProfile[];
  readonly settings: RoundSettings;
  readonly log: (line: string) => void;
  /** A population run (fleet.population): every registered id is a candidate, and the sampled ones are summoned for the round. */
  readonly population: { readonly size: number; readonly clients: EphemeralClients } | null;
}

const NO_TRAFFIC: Traffic = { bytesUp: 0, bytesDown: 0, messages: 0 };

/**
 * The server's round loop, the same for every training mode: select clients, run the strategy's
 * phases (roundStart → lockstep steps → roundDone), aggregate as the strategy says, evaluate, and
 * summarise the round for results.json.
 */
export class RoundRunner {
  private readonly d: RoundRunnerDeps;
  private round = -1;
  private traffic = new Map<number, { bytesUp: number; bytesDown: number; messages: number }>();
  /** Measured compute seconds per step of each client's last round (straggler prediction). */
  private readonly secondsPerStep = new Map<number, number>();
  private readonly doneWaiters = new Map<number, Waiter<Completed>>();
  private readonly evalWaiters = new Map<number, Waiter<EvalResult>>();
  /** Steps each client of the round was given in its roundStart. */
  private readonly assignedSteps = new Map<number, number>();

  constructor(deps: RoundRunnerDeps) {
    this.d = deps;
  }

  get currentRound(): number {
    return this.round;
  }

  count(id: number, up: number, down: number): void {
    const t = this.traffic.get(id) ?? { bytesUp: 0, bytesDown: 0, messages: 0 };
    t.bytesUp += up;
    t.bytesDown += down;
    t.messages += 1;
    this.traffic.set(id, t);
  }

  /**
   * A client's roundDone, checked before it can reach shared state: a round it is training in,
   * exactly the steps and rows the server served it, a finite loss, and weights that decode to the
   * model's shapes with finite values. A bad one drops the client from the round (the others go on).
   */
  roundDone(id: number, msg: RoundDone): ErrorReply | null {
    if (msg.round !== this.round || !this.doneWaiters.has(id)) return errorReply('not-expected', `client ${id}: no round ${msg.round} of yours is in progress`);
    const problem = roundDoneProblem(msg, this.d.serving.served(id), this.assignedSteps.get(id) ?? 0);
    const weights = problem ? errorReply('bad-message', `roundDone: ${problem}`) : this.d.frames.headTail(msg.weights);
    if (!Array.isArray(weights)) {
      this.drop(id, `refused its roundDone: ${weights.message}`);
      return weights;
    }
    this.settle(this.doneWaiters, id, { msg, weights });
    return null;
  }

  /** A client's evalDone, checked against the evaluation the server assigned (0 ≤ correct ≤ total, finite loss). */
  evalDone(id: number, msg: EvalResult): ErrorReply | null {
    if (msg.round !== this.round || !this.evalWaiters.has(id)) return errorReply('not-expected', `client ${id}: no evaluation of round ${msg.round} was asked of you`);
    const problem = evalResultProblem(msg, this.d.settings.evaluation);
    if (problem) {
      this.d.log(`client ${id}: refused its evalDone: ${problem}`);
      this.settle(this.evalWaiters, id, null);
      return errorReply('bad-message', `evalDone: ${problem}`);
    }
    this.settle(this.evalWaiters, id, msg);
    return null;
  }

  /** Whether the server awaits this client's evaluation (its eval forwards are answered only then). */
  isEvaluating(id: number): boolean {
    return this.evalWaiters.has(id);
  }

  /** A client left or missed its part: it leaves the round, which completes with the rest. */
  drop(id: number, why: string): void {
    const wasActive = this.d.serving.isActive(id);
    this.d.serving.drop(id);
    if (!wasActive) return this.settle(this.evalWaiters, id, null);
    this.d.log(`client ${id} dropped from round ${this.round}: ${why}`);
    this.settle(this.doneWaiters, id, null);
    this.settle(this.evalWaiters, id, null);
  }

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

  private stepsOf(id: number): number {
    const s = this.d.settings;
    return stepsPerRound(this.d.registry.get(id)!.assignment.trainIndices.length, s.batchSize, s.maxStepsPerRound);
  }

  private predictSeconds(id: number): number {
    const split = this.d.state.split;
    const shapes = { smashed: split.middle.inputShape, middleOut: split.middle.outputShape };
    return predictRoundSeconds(this.d.profiles[id]!, secondsPerStepOf(id, this.secondsPerStep), shapes, this.d.settings.batchSize, this.stepsOf(id), this.d.settings.tripsPerStep);
  }

  /** Runs one phase: its clients train together from the weights given; returns their roundDone messages. */
  private async trainPhase(ids: readonly number[], weightsOf: (id: number) => readonly WeightArray[]): Promise<Map<number, Completed>> {
    const live = ids.filter((id) => this.d.registry.get(id)?.connected);
    const steps = new Map(live.map((id) => [id, this.stepsOf(id)]));
    await this.d.serving.beginPhase(this.round, steps);
    const encoded = new Map<readonly WeightArray[], Uint8Array[]>();
    const waits = new Map<number, Promise<Completed | null>>();
    for (const [id, n] of steps) {
      this.assignedSteps.set(id, n);
      // each lockstep step may legitimately take up to two step timeouts (forward and backward waits,
      // which drop whoever stalls): the roundDone deadline must outlast the slowest honest phase
      waits.set(id, this.wait(this.doneWaiters, id, this.d.settings.stepTimeoutMs * (2 * n + 1)));
      // every round starts from weights the server holds: what makes a resumed run exact
      const w = weightsOf(id);
      if (!encoded.has(w)) encoded.set(w, weightsToFrames(w));
      this.d.registry.get(id)!.socket.emit('roundStart', { type: 'roundStart', round: this.round, steps: n, weights: encoded.get(w)! });
    }
    const out = new Map<number, Completed>();
    for (const [id, p] of waits) {
      const done = await p;
      if (done) out.set(id, done);
      else if (this.d.serving.isActive(id)) this.drop(id, 'no roundDone in time');
    }
    this.d.serving.endPhase();
    return out;
  }

  /** Runs the strategy's phases; returns every completed client's roundDone and update, in order. */
  private async train(selected: readonly number[]): Promise<{ done: Map<number, RoundDone>; updates: ClientUpdate[] }> {
    const { strategy, state } = this.d;
    const done = new Map<number, RoundDone>();
    const updates: ClientUpdate[] = [];
    for (const phase of strategy.phases(selected, this.round, this.d.settings.seed)) {
      const r = await this.trainPhase(phase, (id) => strategy.startWeights(id, state, updates));
      for (const [id, c] of r) {
        done.set(id, c.msg);
        updates.push({ id, weights: c.weights, samples: c.msg.samples });
      }
    }
    // an update of no samples carries nothing to weigh (FedAvg's weights would sum to zero)
    const weighed = updates.filter((u) => u.samples > 0);
    await this.d.serving.endRound(new Map(weighed.map((u) => [u.id, u.samples])));
    state.global = strategy.aggregate(state, weighed, (u) => combineUpdates(this.d.settings.aggregation, u));
    // what each client sent is kept for the modes where it is that client's model, and for a standing
    // fleet's tests and reports; a population of a shared-model mode keeps none (100,000 clients'
    // heads and tails would grow the server and its checkpoints for nothing)
    if (!this.d.population || strategy.clientsHold === 'own') for (const u of updates) state.perClient.set(u.id, u.weights);
    return { done, updates };
  }

  private async evaluateOn(id: number, weights: readonly WeightArray[]): Promise<EvalResult | null> {
    const c = this.d.registry.get(id);
    if (!c?.connected) return null;
    // an evaluation is a few forwards of its own: a client that ignores it costs two step timeouts, once
    const p = this.wait(this.evalWaiters, id, this.d.settings.stepTimeoutMs * 2);
    c.socket.emit('evaluate', { type: 'evaluate', round: this.round, weights: weightsToFrames(weights) });
    return p;
  }

  /**
   * `global`: the shared model once, on the first client that answers, trying the round's survivors
   * first and then any other connected client (a survivor may refuse, time out or leave);
   * `per-client`: every survivor its own model, or, if none answers, the other connected clients theirs.
   */
  private async evaluate(survivors: readonly number[], others: readonly number[]): Promise<Map<number, EvalResult>> {
    const { strategy, state } = this.d;
    const evals = new Map<number, EvalResult>();
    if (strategy.evaluate === 'per-client') {
      for (const group of [survivors, others]) {
        const rs = await Promise.all(group.map((id) => this.evaluateOn(id, state.perClient.get(id) ?? state.global)));
        group.forEach((id, i) => rs[i] && evals.set(id, rs[i]));
        if (evals.size) break;
      }
      return evals;
    }
    for (const id of [...survivors, ...others]) {
      const r = await this.evaluateOn(id, state.global);
      if (!r) continue;
      for (const s of survivors.length ? survivors : [id]) evals.set(s, r);
      break;
    }
    return evals;
  }

  /** Runs one training round in the strategy's way, then evaluates. */
  async runRound(round: number): Promise<RoundResult> {
    const t0 = performance.now();
    const { settings: s, registry } = this.d;
    this.round = round;
    this.d.state.round = round;
    const pop = this.d.population;
    const candidates = pop ? Array.from({ length: pop.size }, (_, id) => id) : registry.connectedIds();
    if (candidates.length === 0) throw new Error(`round ${round}: no connected clients left`);
    const selection = selectClients({
      connected: candidates, profiles: this.d.profiles, availability: s.availability, round, seed: s.seed, sample: s.sample, deadlineSeconds: s.deadlineSeconds, predictSeconds: (id) => this.predictSeconds(id),
    });
    const ids = selection.selected;
    // a summoned client that does not join sits the round out: selected, not done (dropped)
    if (pop) await pop.clients.summon(ids);
    if (ids.length === 0) this.d.log(`round ${round}: no client is available, sampled and within the deadline (${candidates.length} ${pop ? 'registered' : 'connected'}, ${selection.available.length} available, ${selection.stragglers.length} stragglers); the model is unchanged this round`);
    this.traffic = new Map();
    const { done } = await this.train(ids);
    // evaluate on the round's clients that completed it (one dropped this round may be gone for
    // good), else on the round's clients, else (nobody trained) on any connected client
    const completed = ids.filter((id) => done.has(id));
    const connected = registry.connectedIds();
    const survivors = (completed.length ? completed : ids.length ? ids : connected).filter((id) => registry.get(id)?.connected);
    const evals = await this.evaluate(survivors, connected.filter((id) => !survivors.includes(id)));
    const result = summarizeRound({
      round, strategy: this.d.strategy, selection, done, evals, wallSeconds: (performance.now() - t0) / 1000,
      client: (id) => ({ samples: registry.samplesOf(id), labelCounts: registry.get(id)?.labelCounts ?? registry.labelCountsOf(id), profile: this.d.profiles[id]!, traffic: this.traffic.get(id) ?? NO_TRAFFIC }),
    });
    pop?.clients.dismiss(ids);
    for (const [id, d] of done) if (d.steps > 0) this.secondsPerStep.set(id, d.computeMs / 1000 / d.steps);
    const middle = this.d.state.middle;
    await this.d.taps.push('onRoundEnd', [], () => ({ round, middle: { spec: middle.spec, weights: () => middle.getWeights() } }));
    await this.d.taps.drain();
    return result;
  }
}
