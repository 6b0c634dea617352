import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs';
import { registerSplitfleetKernels } from './register.ts';

/**
 * Backend conformance for the kernels splitfleet registers on wasm: each case is computed with
 * tf.grad of conv2d on the cpu backend (the reference) and on wasm, for valid/same padding and
 * strides 1 and 2, and must not leak tensors.
 */
async function onBackend(name: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  const t = f();
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const cases = [
  { pad: 'same', stride: 1, h: 9, cin: 3, cout: 4, k: 3 },
  { pad: 'valid', stride: 1, h: 8, cin: 1, cout: 5, k: 5 },
  { pad: 'same', stride: 2, h: 9, cin: 2, cout: 3, k: 3 },
  { pad: 'valid', stride: 2, h: 10, cin: 3, cout: 2, k: 3 },
  { pad: 'same', stride: 1, h: 14, cin: 32, cout: 16, k: 3 },
] as const;

describe('wasm kernels registered by splitfleet', () => {
  beforeAll(async () => {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    registerSplitfleetKernels();
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  it('registers idempotently (a second call adds nothing)', () => {
    expect(registerSplitfleetKernels()).toEqual([]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it.each(cases)('Conv2DBackpropFilter and Conv2DBackpropInput match cpu: %o', async (c) => {
    const n = 3;
    const xs = Float32Array.from({ length: n * c.h * c.h * c.cin }, (_, i) => Math.sin(i * 0.37));
    const ws = Float32Array.from({ length: c.k * c.k * c.cin * c.cout }, (_, i) => Math.cos(i * 0.11) * 0.3);
    const grads = (which: 'x' | 'w') => () => {
      const x = tf.tensor4d(xs, [n, c.h, c.h, c.cin]);
      const w = tf.tensor4d(ws, [c.k, c.k, c.cin, c.cout]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad)));
      const [gx, gw] = tf.grads(f)([x, w]);
      x.dispose();
      w.dispose();
      if (which === 'x') {
        gw!.dispose();
        return gx!;
      }
      gx!.dispose();
      return gw!;
    };
    for (const which of ['x', 'w'] as const) {
      const ref = await onBackend('cpu', grads(which));
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const got = await onBackend('wasm', grads(which));
      expect(tf.memory().numTensors).toBe(before);
      const scale = Math.max(1, ...ref.map(Math.abs));
      expect(maxAbsDiff(ref, got) / scale).toBeLessThan(1e-5);
    }
  });
});
