/**
 * The loss of a peer that never answers again (a worker that exited, a connection that closed), for
 * the calls to it still in flight: `guard(call)` settles as the call does, or rejects once `lose()`
 * is called.
 *
 * Why not `Promise.race([call, gone])` against one long-lived `gone` promise: every race leaves a
 * reaction on `gone` that holds the race's promise, and through it the call's result, until `gone`
 * settles — for a peer that stays up all run, every result of the run (a step's activations and
 * gradients: megabytes each) stays reachable. Here a call's rejecter is registered only while the
 * call is in flight.
 */
export class LossSignal {
  private reason: Error | null = null;
  private readonly inFlight = new Set<(e: Error) => void>();

  /** Why the peer was lost; null while it is not. */
  get lost(): Error | null {
    return this.reason;
  }

  /** The peer is gone: calls in flight and every later guard reject with `reason` (the first one given). */
  lose(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    for (const reject of this.inFlight) reject(reason);
    this.inFlight.clear();
  }

  /** `call`'s outcome, or a rejection when the peer is lost first. */
  guard<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.reason) return reject(this.reason);
      this.inFlight.add(reject);
      call.then(resolve, reject).finally(() => this.inFlight.delete(reject));
    });
  }
}
