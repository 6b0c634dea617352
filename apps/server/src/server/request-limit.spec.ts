import { describe, expect, it } from 'vitest';
import { RequestLimiter } from './request-limit.ts';

/** A limiter on a clock the test moves. */
function limiterAt(limits: ConstructorParameters<typeof RequestLimiter>[0]) {
  let ms = 0;
  const limiter = new RequestLimiter(limits, () => ms);
  return { limiter, advance: (seconds: number) => (ms += seconds * 1000) };
}

describe('request limiter (token bucket per address plus one for the server)', () => {
  it('lets an address burst, then refuses it until its bucket refills, without affecting other addresses', () => {
    const { limiter, advance } = limiterAt({ perAddress: { burst: 2, perSecond: 0.5 }, overall: { burst: 100, perSecond: 100 } });
    expect([limiter.admit('a'), limiter.admit('a')]).toEqual([null, null]);
    expect(limiter.admit('a')).toEqual({ scope: 'address', retryAfterSeconds: 2 });
    expect(limiter.admit('b')).toBeNull();
    advance(2);
    expect(limiter.admit('a')).toBeNull();
    expect(limiter.admit('a')).toMatchObject({ scope: 'address' });
  });

  it('limits the whole server when many addresses ask together; a refused request uses up no address budget', () => {
    const { limiter, advance } = limiterAt({ perAddress: { burst: 1, perSecond: 1 }, overall: { burst: 3, perSecond: 1 } });
    expect(['a', 'b', 'c'].map((x) => limiter.admit(x))).toEqual([null, null, null]);
    expect(limiter.admit('d')).toEqual({ scope: 'server', retryAfterSeconds: 1 });
    advance(1);
    // d's refusal above did not spend d's own token
    expect(limiter.admit('d')).toBeNull();
  });
});
