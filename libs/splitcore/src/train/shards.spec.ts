import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { clientChunks, shardRows } from './shards.ts';

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

describe('clientChunks', () => {
  it('cuts the clients into consecutive runs covering each once, none over maxRows unless one client alone is', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 64 }), { maxLength: 200 }), fc.integer({ min: 1, max: 300 }), (rows, maxRows) => {
        const runs = clientChunks(rows, maxRows);
        expect(runs.flatMap(([a, b]) => Array.from({ length: b - a }, (_, k) => a + k))).toEqual(rows.map((_, i) => i));
        for (const [a, b] of runs) {
          const held = rows.slice(a, b).reduce((x, y) => x + y, 0);
          expect(b).toBeGreaterThan(a);
          if (b - a > 1) expect(held).toBeLessThanOrEqual(maxRows);
        }
        // greedy: the next client would not have fitted into the run before it
        for (let k = 1; k < runs.length; k++) {
          const [a, b] = runs[k - 1]!;
          expect(rows.slice(a, b + 1).reduce((x, y) => x + y, 0)).toBeGreaterThan(maxRows);
        }
      }),
    );
  });

  it('keeps a step that fits in one run, and an unbounded one whole', () => {
    expect(clientChunks([16, 16, 16], 48)).toEqual([[0, 3]]);
    expect(clientChunks([16, 16, 16], 32)).toEqual([[0, 2], [2, 3]]);
    expect(clientChunks([100, 4, 4], 32)).toEqual([[0, 1], [1, 3]]);
    expect(clientChunks(Array(1000).fill(16), null)).toEqual([[0, 1000]]);
    expect(clientChunks([], 8)).toEqual([]);
    expect(() => clientChunks([1], 0)).toThrow(/maxRows/);
  });
});
