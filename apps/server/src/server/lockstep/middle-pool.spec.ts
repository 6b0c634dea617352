import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { cnnSmall, middleVjp, PartModel, split, trainMode } from '@splitfleet/splitcore';
import { initBackend } from '@splitfleet/client-sim/node';
import { MiddlePool } from './middle-pool.ts';

/** Max |a − b| relative to max |a|. */
async function relDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
  expect(x.length).toBe(y.length);
  let d = 0;
  let m = 1e-12;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs(x[i]! - y[i]!));
    m = Math.max(m, Math.abs(x[i]!));
  }
  return d / m;
}

describe('MiddlePool (data-parallel middle over worker threads)', () => {
  const s = split(cnnSmall, cnnSmall.defaultCut, 3);
  let middle: PartModel;
  beforeAll(async () => {
    await initBackend('wasm');
    middle = new PartModel(s.middle, s.init.middle);
  });
  afterAll(() => middle.dispose());

  const batch = (n: number, seed: number) => ({
    z: tf.randomUniform([n, ...s.middle.inputShape], 0, 1, 'float32', seed),
    gm: tf.randomNormal([n, ...s.middle.outputShape], 0, 1, 'float32', seed + 1),
  });

  it('matches one-thread tf.grads for forward, input gradient and parameter gradients, and leaks no tensors', async () => {
    const pool = await MiddlePool.start(middle, 3);
    try {
      expect(pool.threads).toBe(3);
      for (const n of [70, 20]) {
        // 70 rows → shards 24/23/23 on three threads; 20 rows stay on one thread
        const { z, gm } = batch(n, n);
        const before = tf.memory().numTensors;
        const y = await pool.forward(middle, z, trainMode(0));
        const r = (await pool.backward(middle, gm))!;
        const ref = middleVjp(middle, z, gm);
        const yRef = tf.tidy(() => middle.apply(z));
        expect(await relDiff(yRef, y)).toBeLessThan(1e-5);
        expect(await relDiff(ref.gz, r.gz)).toBeLessThan(1e-5);
        for (let i = 0; i < ref.grads.length; i++) expect(await relDiff(ref.grads[i]!, r.grads[i]!)).toBeLessThan(1e-4);
        tf.dispose([y, r.gz, ...r.grads, ref.gz, ...ref.grads, yRef]);
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([z, gm]);
      }
      expect(await pool.workerTensors()).toEqual([middle.vars.length, middle.vars.length]);
    } finally {
      await pool.close();
    }
  });

  it('gives bit-identical results for the same batch on every run (fixed shards, fixed summation order)', async () => {
    const pool = await MiddlePool.start(middle, 2);
    try {
      const { z, gm } = batch(64, 5);
      const run = async () => {
        const y = await pool.forward(middle, z, trainMode(0));
        const r = (await pool.backward(middle, gm))!;
        const out = [await y.data(), await r.gz.data(), ...(await Promise.all(r.grads.map((g) => g.data())))].map((a) => Array.from(a as Float32Array));
        tf.dispose([y, r.gz, ...r.grads]);
        return out;
      };
      expect(await run()).toEqual(await run());
      tf.dispose([z, gm]);
    } finally {
      await pool.close();
    }
  });

  it('holds on to no step’s results once the step is done (main-thread external memory flat over 30 steps)', async () => {
    // before the fix every call to a worker was raced against one promise pending until the worker
    // exits: ~2.6 MB per 64-row step (the shard's output, input gradient and parameter gradients)
    // stayed reachable, so 30 steps kept 77 MB (measured); now they are garbage after the step
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const pool = await MiddlePool.start(middle, 2);
    try {
      const { z, gm } = batch(64, 11);
      const step = async () => {
        const y = await pool.forward(middle, z, trainMode(0));
        const r = (await pool.backward(middle, gm))!;
        tf.dispose([y, r.gz, ...r.grads]);
      };
      await step();
      gc();
      const before = process.memoryUsage().external;
      for (let i = 0; i < 30; i++) await step();
      gc();
      expect((process.memoryUsage().external - before) / 2 ** 20).toBeLessThan(8);
      tf.dispose([z, gm]);
    } finally {
      await pool.close();
    }
  });

  it('finishes the step on the main thread when a worker dies, and says so', async () => {
    const lines: string[] = [];
    const pool = await MiddlePool.start(middle, 2, (l) => lines.push(l));
    try {
      const { z, gm } = batch(64, 9);
      const y = await pool.forward(middle, z, trainMode(0));
      // kill the worker between forward and backward: its shard's activations are gone
      await (pool as unknown as { remotes: { worker: { terminate(): Promise<number> } }[] }).remotes[0]!.worker.terminate();
      const r = (await pool.backward(middle, gm))!;
      const ref = middleVjp(middle, z, gm);
      expect(await relDiff(ref.gz, r.gz)).toBeLessThan(1e-5);
      for (let i = 0; i < ref.grads.length; i++) expect(await relDiff(ref.grads[i]!, r.grads[i]!)).toBeLessThan(1e-4);
      expect(pool.threads).toBe(1);
      expect(lines.join('\n')).toMatch(/worker failed/);
      expect(lines.join('\n')).toMatch(/recomputed on the main thread/);
      tf.dispose([y, r.gz, ...r.grads, ref.gz, ...ref.grads, z, gm]);
    } finally {
      await pool.close();
    }
  });

  it('fails to start, naming the worker’s reason, when a replica cannot be built', async () => {
    // a replica gets weights that do not fit its spec: its init throws inside the worker thread
    const broken = { spec: s.middle, getWeights: async () => [] } as unknown as PartModel;
    await expect(MiddlePool.start(broken, 2)).rejects.toThrow(/middle pool: a worker failed to start: .*/);
  });

  it('refuses a thread count that is not a positive integer', async () => {
    await expect(MiddlePool.start(middle, 0)).rejects.toThrow(/middle threads/);
    await expect(MiddlePool.start(middle, 1.5)).rejects.toThrow(/middle threads/);
  });
});
