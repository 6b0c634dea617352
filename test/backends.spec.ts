import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { cnnSmall, crossEntropy, PartModel, registerSplitfleetKernels, split, vggMini, type ModelSpec } from '@splitfleet/splitcore';
import { initBackend } from '@splitfleet/client-sim';
import { maxAbsDiff } from './helpers.ts';
import { sizeOf } from '@splitfleet/splitcore';

/** Forward logits and gradients (input and every parameter) of the composed model on a backend. */
async function passOn(backend: string, spec: ModelSpec): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const s = split(spec, spec.defaultCut, 11);
  const parts = [new PartModel(s.head, s.init.head), new PartModel(s.middle, s.init.middle), new PartModel(s.tail, s.init.tail)];
  const n = 2;
  const size = sizeOf(spec.inputShape);
  const x = tf.tensor(Float32Array.from({ length: n * size }, (_, i) => (Math.sin(i * 0.7) + 1) / 2), [n, ...spec.inputShape]);
  const y = tf.tensor1d([3, 7], 'int32');
  const vars = parts.flatMap((p) => p.vars);
  const forward = (xx: tf.Tensor, ps: tf.Tensor[]) => {
    let h = xx;
    let k = 0;
    for (const p of parts) {
      h = p.apply(h, ps.slice(k, k + p.vars.length));
      k += p.vars.length;
    }
    return h;
  };
  const logits = tf.tidy(() => forward(x, vars));
  const grads = tf.grads((xx: tf.Tensor, ...ps: tf.Tensor[]) => crossEntropy(forward(xx, ps), y as tf.Tensor1D, 10))([x, ...vars]);
  const out = [(await logits.data()) as Float32Array];
  for (const g of grads) out.push((await g.data()) as Float32Array);
  tf.dispose([logits, ...grads, x, y]);
  parts.forEach((p) => p.dispose());
  return out;
}

describe('backends compute the same forward and backward pass as cpu', () => {
  it('wasm and webgpu (software adapter, asserted real) match cpu within 1e-4 for every model', async () => {
    // webgpu first: its set-up must run before the webgpu backend package is imported
    const info = await initBackend('webgpu');
    expect(info.backend).toBe('webgpu');
    expect(info.adapter).toBeTruthy();
    expect(info.adapter).not.toMatch(/null/i);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    registerSplitfleetKernels();
    for (const spec of [cnnSmall, vggMini]) {
      const ref = await passOn('cpu', spec);
      for (const backend of ['wasm', 'webgpu']) {
        const got = await passOn(backend, spec);
        const worst = Math.max(...got.map((g, i) => maxAbsDiff(g, ref[i]!)));
        expect(worst, `${spec.name} on ${backend}`).toBeLessThanOrEqual(1e-4);
      }
    }
  });
});
