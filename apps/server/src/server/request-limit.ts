/**
 * Rate limits for an anonymous HTTP route (the join page's POST /api/join-token): a token bucket per
 * remote address, and one for the whole server so that many addresses together cannot flood it
 * either. Pure (the clock is injected) so the limits can be tested without waiting.
 */
import { TokenBucket, type BucketLimit } from './token-bucket.ts';

export interface RequestLimits {
  readonly perAddress: BucketLimit;
  readonly overall: BucketLimit;
}

/** A person retrying the join button is never limited; a script is (5 at once, then one per 12 s). */
export const JOIN_LIMITS: RequestLimits = { perAddress: { burst: 5, perSecond: 1 / 12 }, overall: { burst: 30, perSecond: 1 } };

/** Why a request was refused and when the caller may try again. */
export interface Refusal {
  readonly scope: 'address' | 'server';
  readonly retryAfterSeconds: number;
}

// beyond this many addresses, idle ones (then the oldest) are forgotten: a flood from many addresses
// cannot grow the map without bound, and the server-wide bucket still limits what the forgotten get
const MAX_TRACKED_ADDRESSES = 10_000;

export class RequestLimiter {
  private readonly addresses = new Map<string, TokenBucket>();
  private readonly overall: TokenBucket;
  private readonly limits: RequestLimits;
  private readonly now: () => number;

  constructor(limits: RequestLimits = JOIN_LIMITS, now: () => number = () => performance.now()) {
    this.limits = limits;
    this.now = now;
    this.overall = new TokenBucket(limits.overall, now());
  }

  /** Counts one request from `address`; null when it may go ahead, else the refusal. */
  admit(address: string): Refusal | null {
    const now = this.now();
    const mine = this.addresses.get(address) ?? this.track(address, now);
    const forAddress = mine.wait(now);
    if (forAddress > 0) return { scope: 'address', retryAfterSeconds: Math.ceil(forAddress) };
    // checked after the address's own limit, so one address's refused requests never use up the server's
    const forServer = this.overall.wait(now);
    if (forServer > 0) return { scope: 'server', retryAfterSeconds: Math.ceil(forServer) };
    mine.take();
    this.overall.take();
    return null;
  }

  private track(address: string, now: number): TokenBucket {
    if (this.addresses.size >= MAX_TRACKED_ADDRESSES) {
      for (const [a, b] of this.addresses) if (b.full(now)) this.addresses.delete(a);
      if (this.addresses.size >= MAX_TRACKED_ADDRESSES) this.addresses.delete(this.addresses.keys().next().value!);
    }
    const b = new TokenBucket(this.limits.perAddress, now);
    this.addresses.set(address, b);
    return b;
  }
}
