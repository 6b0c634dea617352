import * as tf from '@tensorflow/tfjs-core';
import type { ServerTaps, TapEvent, TapPayload } from '@splitfleet/splitcore';

export interface TapQueueOptions {
  /** Observations that may wait for the taps; beyond it `whenFull` applies. */
  readonly capacity: number;
  /** drop: the new observation is dropped (counted, logged once per round); wait: training waits for the taps. */
  readonly whenFull: 'drop' | 'wait';
  readonly log: (line: string) => void;
}

interface Pending {
  readonly event: TapEvent;
  readonly payload: TapPayload<TapEvent>;
  /** The clones made for the taps, freed once every tap has seen them. */
  readonly views: readonly tf.Tensor[];
}

/**
 * Delivers observations to the taps in order, off the training path: the server pushes after it has
 * answered the clients, each tensor is handed over as a clone (a tap disposing it cannot free the
 * server's tensor), and a bounded queue decides what happens when taps fall behind. A failing tap is
 * reported by name and never stops training.
 */
export class TapQueue {
  private readonly taps: readonly ServerTaps[];
  private readonly opts: TapQueueOptions;
  private readonly queue: Pending[] = [];
  private running: Promise<void> | null = null;
  private spaceWaiters: (() => void)[] = [];
  private warned = false;
  /** Observations dropped because the queue was full (whenFull: drop). */
  dropped = 0;

  constructor(taps: readonly ServerTaps[], opts: TapQueueOptions) {
    this.taps = taps;
    this.opts = opts;
  }

  /** Queues an event for every tap; `make` builds the payload from clones of `tensors`. */
  async push<E extends TapEvent>(event: E, tensors: readonly tf.Tensor[], make: (views: tf.Tensor[]) => TapPayload<E>): Promise<void> {
    if (!this.taps.some((t) => t[event])) return;
    // clone now: the server may free its tensors while this observation waits for room
    const views = tensors.map((t) => tf.clone(t));
    while (this.queue.length >= this.opts.capacity) {
      if (this.opts.whenFull === 'drop') {
        tf.dispose(views);
        return this.drop(event);
      }
      await new Promise<void>((r) => this.spaceWaiters.push(r));
    }
    this.queue.push({ event, payload: make(views), views });
    this.running ??= this.run();
  }

  /** Resolves when every queued observation has been delivered. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
    this.warned = false;
  }

  private drop(event: TapEvent): void {
    this.dropped++;
    if (!this.warned) this.opts.log(`taps fall behind: dropped a ${event} observation (queue of ${this.opts.capacity} full; server.taps.whenFull: drop)`);
    this.warned = true;
  }

  private async run(): Promise<void> {
    for (let p = this.queue[0]; p; p = this.queue[0]) {
      await this.deliver(p);
      this.queue.shift();
      tf.dispose([...p.views]);
      this.spaceWaiters.shift()?.();
    }
    this.running = null;
  }

  private async deliver(p: Pending): Promise<void> {
    for (const t of this.taps) {
      const f = t[p.event] as ((o: TapPayload<TapEvent>) => void | Promise<void>) | undefined;
      if (!f) continue;
      try {
        await f.call(t, p.payload);
      } catch (e) {
        this.opts.log(`hook ${t.name}.${p.event} failed: ${(e as Error).message}`);
      }
    }
  }

  /** Drops what is still queued (server shutdown). */
  clear(): void {
    for (const p of this.queue.splice(0)) tf.dispose([...p.views]);
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}
