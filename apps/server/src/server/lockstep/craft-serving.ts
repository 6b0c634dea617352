import type * as tf from '@tensorflow/tfjs-core';
import { errorReply, inputVjp, middleForward, tensorToFrame, type ErrorReply, type PartModel } from '@splitfleet/splitcore';
import { isTensor } from '../frames.ts';
import type { BackwardAck, ForwardAck, StepServing, StepServingDeps } from './step-serving.ts';

/** A craft forward waiting for its backward: the smashed data and the middle that answered it. */
interface Kept { round: number; step: number; z: tf.Tensor; middle: PartModel }
/** Craft forwards a client has sent for one coming step. */
interface Budget { round: number; step: number; used: number }

/**
 * The craft round trips of U-shaped adversarial training (defence `adversarial`): a client about to
 * train step `step` sends PGD iterates' smashed data and gets the middle's output, then sends the
 * gradient there and gets the gradient at its smashed data. The middle is the one the client's
 * coming step meets (`StepServing.craftMiddle`), run in evaluation mode and never updated, so
 * crafting changes nothing on the server and lockstep stays deterministic. Every frame is counted
 * like a training frame (traffic, the virtual clock); the attack's taps see training steps only.
 * At most one forward per client is kept, until its backward, the next craft forward or a drop.
 * A client gets the configured number of PGD steps per training step and no more (none in a run
 * without adversarial training): the server's compute is not free for the asking.
 */
export class CraftServing {
  private readonly kept = new Map<number, Kept>();
  private readonly budgets = new Map<number, Budget>();
  private readonly d: Pick<StepServingDeps, 'frames' | 'events'>;
  private readonly serving: Pick<StepServing, 'craftMiddle'>;
  private readonly tripsPerStep: number;

  /** `tripsPerStep`: the configured PGD steps of defence `adversarial`, 0 without it. */
  constructor(deps: Pick<StepServingDeps, 'frames' | 'events'>, serving: Pick<StepServing, 'craftMiddle'>, tripsPerStep: number) {
    this.d = deps;
    this.serving = serving;
    this.tripsPerStep = tripsPerStep;
  }

  /** Why this craft forward is refused, or null; counts it against the step's budget when not. */
  private refusal(id: number, round: number, step: number): string | null {
    if (this.tripsPerStep === 0) return 'this run has no adversarial training (defence adversarial), so nothing is crafted through the server';
    const b = this.budgets.get(id);
    const used = b && b.round === round && b.step === step ? b.used : 0;
    if (used >= this.tripsPerStep) return `client ${id} has used the ${this.tripsPerStep} craft round trips of round ${round} step ${step}`;
    this.budgets.set(id, { round, step, used: used + 1 });
    return null;
  }

  forward(id: number, round: number, step: number, zFrame: Uint8Array, ack: ForwardAck): ErrorReply | null {
    this.drop(id);
    const middle = this.serving.craftMiddle(id, round, step);
    if (typeof middle === 'string') return errorReply('not-expected', `craft forward: ${middle}`);
    const refused = this.refusal(id, round, step);
    if (refused) return errorReply('not-expected', `craft forward: ${refused}`);
    const z = this.d.frames.smashed(zFrame);
    if (!isTensor(z)) return z;
    this.d.events.count(id, zFrame.byteLength, 0);
    this.kept.set(id, { round, step, z, middle });
    const m = middleForward(middle, z);
    void tensorToFrame(m).then((f) => {
      m.dispose();
      this.d.events.count(id, 0, f.byteLength);
      ack({ type: 'middle', m: f });
    });
    return null;
  }

  backward(id: number, round: number, step: number, gmFrame: Uint8Array, ack: BackwardAck): ErrorReply | null {
    const k = this.kept.get(id);
    if (!k || k.round !== round || k.step !== step) return errorReply('not-expected', `client ${id} has no craft forward in flight for round ${round} step ${step}`);
    // the window may have closed meanwhile (dropped, round over): the middle is then not the step's
    const now = this.serving.craftMiddle(id, round, step);
    if (now !== k.middle) {
      this.drop(id);
      return errorReply('not-expected', `craft backward: ${typeof now === 'string' ? now : 'the middle changed since the craft forward'}`);
    }
    const gm = this.d.frames.middleGradient(gmFrame, k.z.shape[0]!);
    if (!isTensor(gm)) return gm;
    this.d.events.count(id, gmFrame.byteLength, 0);
    const gz = inputVjp(k.middle, k.z, gm);
    gm.dispose();
    this.drop(id);
    void tensorToFrame(gz).then((f) => {
      gz.dispose();
      this.d.events.count(id, 0, f.byteLength);
      ack({ type: 'gradient', gz: f });
    });
    return null;
  }

  /** Forgets a client's kept forward (it left, or sent the next one). */
  drop(id: number): void {
    this.kept.get(id)?.z.dispose();
    this.kept.delete(id);
  }

  /** Forgets a client entirely (it left). */
  forget(id: number): void {
    this.drop(id);
    this.budgets.delete(id);
  }

  clear(): void {
    for (const id of [...this.kept.keys()]) this.drop(id);
    this.budgets.clear();
  }
}
