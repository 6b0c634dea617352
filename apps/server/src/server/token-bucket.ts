/**
 * A token bucket: `burst` requests at once, refilled at `perSecond`. One implementation for every
 * rate limit of the server (each socket's messages, the join page's requests). The clock is passed
 * in, so limits can be tested without waiting.
 */
export interface BucketLimit {
  /** Requests allowed at once. */
  readonly burst: number;
  /** Requests the bucket regains per second. */
  readonly perSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly limit: BucketLimit;

  constructor(limit: BucketLimit, now: number) {
    this.limit = limit;
    this.tokens = limit.burst;
    this.last = now;
  }

  /** Seconds until one request is allowed (0: now). */
  wait(now: number): number {
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.perSecond);
    this.last = now;
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.limit.perSecond;
  }

  take(): void {
    this.tokens -= 1;
  }

  /** Whether the bucket is back to its burst (nothing to remember about its caller). */
  full(now: number): boolean {
    return this.wait(now) === 0 && this.tokens >= this.limit.burst;
  }
}
