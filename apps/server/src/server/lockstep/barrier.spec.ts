import { afterEach, describe, expect, it, vi } from 'vitest';
import { StepBarrier } from './barrier.ts';

describe('lockstep barrier', () => {
  afterEach(() => vi.useRealTimers());

  it('hands over arrivals in client-id order whatever order they came in', () => {
    const got: [number, string][][] = [];
    const b = new StepBarrier<string>([3, 1, 2], 1000, (a) => got.push(a));
    expect(b.arrive(2, 'c')).toBe('ok');
    expect(b.arrive(3, 'd')).toBe('ok');
    expect(got).toHaveLength(0);
    expect(b.arrive(1, 'b')).toBe('ok');
    expect(got).toEqual([[[1, 'b'], [2, 'c'], [3, 'd']]]);
    expect(b.isDone).toBe(true);
  });

  it('refuses a duplicate, an unexpected client, and anything after completion', () => {
    const b = new StepBarrier<number>([0, 1], 1000, () => {});
    expect(b.arrive(5, 0)).toBe('not-expected');
    expect(b.arrive(0, 0)).toBe('ok');
    expect(b.arrive(0, 1)).toBe('duplicate');
    expect(b.arrive(1, 0)).toBe('ok');
    expect(b.arrive(1, 0)).toBe('not-expected');
  });

  it('a dropped client is no longer waited for, and its arrival is handed back', () => {
    let done: [number, string][] | null = null;
    const b = new StepBarrier<string>([0, 1], 1000, (a) => (done = a));
    b.arrive(1, 'x');
    expect(b.drop(1)).toBe('x');
    expect(done).toBeNull();
    b.arrive(0, 'y');
    expect(done).toEqual([[0, 'y']]);
  });

  it('on timeout completes with who arrived and names the missing', () => {
    vi.useFakeTimers();
    let out: { a: [number, number][]; m: number[] } | null = null;
    const b = new StepBarrier<number>([0, 1, 2], 500, (a, m) => (out = { a, m }));
    b.arrive(1, 10);
    vi.advanceTimersByTime(499);
    expect(out).toBeNull();
    vi.advanceTimersByTime(1);
    expect(out).toEqual({ a: [[1, 10]], m: [0, 2] });
  });
});
