import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { shardRows } from './shards.ts';

describe('shardRows', () => {
  it('covers every row once in contiguous, nearly equal shards no smaller than minRows (unless one shard)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 64 }), (n, threads, minRows) => {
        const s = shardRows(n, threads, minRows);
        expect(s.reduce((a, b) => a + b, 0)).toBe(n);
        expect(s.length).toBeGreaterThanOrEqual(1);
        expect(s.length).toBeLessThanOrEqual(threads);
        expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
        if (s.length > 1) expect(Math.min(...s)).toBeGreaterThanOrEqual(minRows);
        // never fewer threads than the rows allow
        expect(s.length).toBe(Math.max(1, Math.min(threads, Math.floor(n / minRows))));
      }),
    );
  });

  it('gives fixed shards for a batch size (the summation order that makes runs repeatable)', () => {
    expect(shardRows(256, 2, 16)).toEqual([128, 128]);
    expect(shardRows(65, 2, 16)).toEqual([33, 32]);
    expect(shardRows(20, 2, 16)).toEqual([20]);
    expect(shardRows(100, 3, 16)).toEqual([34, 33, 33]);
  });

  it('rejects bad arguments with a named error', () => {
    expect(() => shardRows(-1, 2, 16)).toThrow(/rows/);
    expect(() => shardRows(10, 0, 16)).toThrow(/threads/);
    expect(() => shardRows(10, 2, 0)).toThrow(/minRows/);
  });
});
