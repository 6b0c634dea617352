import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { GradientObservation, ServerTaps, SmashedObservation } from '@splitfleet/splitcore';
import { TapQueue } from './tap-queue.ts';

const smashed = (q: TapQueue, z: tf.Tensor, step = 0) => q.push('onSmashed', [z], ([v]) => ({ clientId: 0, round: 0, step, z: v! }));

describe('tap queue', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const live: tf.Tensor[] = [];
  afterEach(() => tf.dispose(live.splice(0)));

  it('a tap that disposes what it is given cannot free the server’s tensor, and nothing leaks', async () => {
    const z = tf.tensor1d([1, 2, 3]);
    live.push(z);
    const before = tf.memory().numTensors;
    const rude: ServerTaps = { name: 'rude', onSmashed: (o: SmashedObservation) => o.z.dispose() };
    const q = new TapQueue([rude], { capacity: 4, whenFull: 'drop', log: () => {} });
    await smashed(q, z);
    await q.drain();
    expect(Array.from(await z.data())).toEqual([1, 2, 3]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('delivers in order after the push returns, and a failing tap is reported by name without stopping the others', async () => {
    const seen: number[] = [];
    const logs: string[] = [];
    const taps: ServerTaps[] = [
      { name: 'broken', onSmashed: () => { throw new Error('boom'); } },
      { name: 'ok', onSmashed: async (o: SmashedObservation) => void seen.push(o.step) },
    ];
    const q = new TapQueue(taps, { capacity: 8, whenFull: 'drop', log: (l) => logs.push(l) });
    const z = tf.scalar(1);
    live.push(z);
    for (const step of [0, 1, 2]) await smashed(q, z, step);
    await q.drain();
    expect(seen).toEqual([0, 1, 2]);
    expect(logs.filter((l) => l.includes('hook broken.onSmashed failed: boom'))).toHaveLength(3);
  });

  it('when full, `drop` drops new observations (counted, logged once) while a slow tap holds the queue', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const slow: ServerTaps = { name: 'slow', onSmashed: async (o: SmashedObservation) => { await gate; seen.push(o.step); } };
    const logs: string[] = [];
    const q = new TapQueue([slow], { capacity: 2, whenFull: 'drop', log: (l) => logs.push(l) });
    const z = tf.scalar(1);
    live.push(z);
    for (const step of [0, 1, 2, 3]) await smashed(q, z, step);
    expect(q.dropped).toBe(2);
    expect(logs).toHaveLength(1);
    release();
    await q.drain();
    expect(seen).toEqual([0, 1]);
  });

  it('when full, `wait` makes the producer wait and loses nothing', async () => {
    const seen: number[] = [];
    let ticks = 0;
    const slow: ServerTaps = { name: 'slow', onGradient: async (o: GradientObservation) => { await Promise.resolve(); ticks++; seen.push(o.step); } };
    const q = new TapQueue([slow], { capacity: 1, whenFull: 'wait', log: () => {} });
    const z = tf.scalar(1);
    live.push(z);
    for (const step of [0, 1, 2, 3]) await q.push('onGradient', [z, z], ([a, b]) => ({ clientId: 0, round: 0, step, z: a!, gm: b! }));
    await q.drain();
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(ticks).toBe(4);
    expect(q.dropped).toBe(0);
  });
});
