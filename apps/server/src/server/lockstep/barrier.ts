/**
 * Lockstep barrier for one phase (forward or backward) of one training step: it collects one
 * arrival from each expected client, then hands them over in client-id order. Processing clients in
 * a fixed order, whatever order their frames arrive in, is what makes fleet training deterministic;
 * handling them together is server-side micro-batching (the middle runs once per step).
 */
export class StepBarrier<T> {
  private readonly expected: Set<number>;
  private readonly arrivals = new Map<number, T>();
  private readonly timer: NodeJS.Timeout;
  private done = false;

  private readonly onComplete: (arrivals: [number, T][], missing: number[]) => void;

  constructor(expected: Iterable<number>, timeoutMs: number, onComplete: (arrivals: [number, T][], missing: number[]) => void) {
    this.onComplete = onComplete;
    this.expected = new Set(expected);
    this.timer = setTimeout(() => this.finish(), timeoutMs);
    this.timer.unref();
  }

  get isDone(): boolean {
    return this.done;
  }

  arrive(id: number, item: T): 'ok' | 'not-expected' | 'duplicate' {
    if (this.done || !this.expected.has(id)) return 'not-expected';
    if (this.arrivals.has(id)) return 'duplicate';
    this.arrivals.set(id, item);
    this.check();
    return 'ok';
  }

  /** A client left (disconnect or drop): stop waiting for it. Returns its arrival, if any. */
  drop(id: number): T | undefined {
    if (this.done) return undefined;
    this.expected.delete(id);
    const item = this.arrivals.get(id);
    this.arrivals.delete(id);
    this.check();
    return item;
  }

  /** Ends the barrier without completing it (its phase is over): returns what had arrived. */
  cancel(): T[] {
    if (this.done) return [];
    this.done = true;
    clearTimeout(this.timer);
    return [...this.arrivals.values()];
  }

  private check(): void {
    if (!this.done && [...this.expected].every((id) => this.arrivals.has(id))) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    const missing = [...this.expected].filter((id) => !this.arrivals.has(id)).sort((a, b) => a - b);
    const arrived = [...this.arrivals.entries()].sort((a, b) => a[0] - b[0]);
    this.onComplete(arrived, missing);
  }
}
