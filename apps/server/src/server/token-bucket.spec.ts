import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.ts';

describe('token bucket', () => {
  it('allows `burst` at once, then one per 1/perSecond seconds, never more than `burst` saved up', () => {
    const b = new TokenBucket({ burst: 3, perSecond: 2 }, 0);
    for (let i = 0; i < 3; i++) {
      expect(b.wait(0)).toBe(0);
      b.take();
    }
    expect(b.wait(0)).toBeCloseTo(0.5, 12);
    expect(b.wait(500)).toBe(0);
    b.take();
    expect(b.wait(500)).toBeCloseTo(0.5, 12);
    // an hour idle refills to the burst, not beyond
    expect(b.full(3_600_000)).toBe(true);
    for (let i = 0; i < 3; i++) b.take();
    expect(b.wait(3_600_000)).toBeGreaterThan(0);
  });
});
