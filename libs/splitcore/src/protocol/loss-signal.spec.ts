import { describe, expect, it } from 'vitest';
import { LossSignal } from './loss-signal.ts';

const never = () => new Promise<never>(() => {});

describe('LossSignal', () => {
  it('passes a call’s value or rejection through while the peer is there', async () => {
    const s = new LossSignal();
    await expect(s.guard(Promise.resolve(7))).resolves.toBe(7);
    await expect(s.guard(Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(s.lost).toBeNull();
  });

  it('rejects the calls in flight and every later call with the first reason', async () => {
    const s = new LossSignal();
    const inFlight = s.guard(never());
    s.lose(new Error('worker exited'));
    s.lose(new Error('second reason'));
    await expect(inFlight).rejects.toThrow('worker exited');
    await expect(s.guard(Promise.resolve(1))).rejects.toThrow('worker exited');
    expect(s.lost?.message).toBe('worker exited');
  });

  it('keeps no settled call registered (nothing for a long-lived signal to hold)', async () => {
    const s = new LossSignal();
    for (let i = 0; i < 100; i++) await s.guard(Promise.resolve(new Float32Array(16)));
    await s.guard(Promise.reject(new Error('x'))).catch(() => {});
    expect((s as unknown as { inFlight: Set<unknown> }).inFlight.size).toBe(0);
  });
});
