import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerSplitfleetKernels } from './register.ts';
import { ReluMaxPoolGrad } from './maxpool-grad-wasm.ts';
import { ConvReluPoolFilterGrad } from './conv-relu-pool-grad-wasm.ts';
import { cnnSmall, getModelSpec } from '../model/zoo.ts';
import { trainMode } from '../model/layers/kind.ts';
import { split, type PartSpec, type WeightArray } from '../model/split.ts';
import { PartModel } from '../model/part-model.ts';
import { backwardFromCache, disposeCache, forwardKeep, paramGradsFromCache } from '../train/cached-vjp.ts';
import { sizeOf } from '../model/shape.ts';

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
  // ResNet blocks: PyTorch-style pad 1 with stride 2 (even and odd sizes), the 1×1 projection shortcut
  { pad: 1, stride: 2, h: 14, cin: 8, cout: 16, k: 3 },
  { pad: 1, stride: 2, h: 7, cin: 4, cout: 8, k: 3 },
  { pad: 0, stride: 2, h: 14, cin: 8, cout: 16, k: 1 },
  // few input channels take the im2col route; 600 samples of 28×28 fill more than one im2col chunk
  { pad: 'same', stride: 1, h: 28, cin: 1, cout: 2, k: 3, n: 600 },
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

  it('slices and splits on wasm equal the cpu backend — contiguous (fast path) or not (shipped kernel) — and leak nothing', async () => {
    const x = () => tf.tensor(Float32Array.from({ length: 5 * 3 * 4 }, (_, i) => i * 0.5 - 7), [5, 3, 4]);
    const cases: [string, (t: tf.Tensor) => tf.Tensor][] = [
      ['rows', (t) => tf.slice(t, [1, 0, 0], [3, 3, 4])],
      ['one row, inner range (contiguous)', (t) => tf.slice(t, [2, 1, 0], [1, 2, 4])],
      ['inner window (not contiguous)', (t) => tf.slice(t, [0, 1, 1], [5, 2, 2])],
      ['split of rows, parts used apart', (t) => tf.concat(tf.split(t, [2, 1, 2], 0).map((p, i) => tf.mul(p, i + 1)), 0)],
      ['split into equal parts', (t) => tf.concat(tf.split(tf.slice(t, [0, 0, 0], [4, 3, 4]), 2, 0).reverse(), 0)],
      ['split of an inner axis', (t) => tf.concat(tf.split(t, [1, 3], 2).reverse(), 2)],
      ['int32 rows (shipped kernel)', (t) => tf.cast(tf.slice(tf.cast(t, 'int32'), [1, 0, 0], [2, 3, 4]), 'float32')],
    ];
    for (const [name, f] of cases) {
      const want = await onBackend('cpu', () => tf.tidy(() => f(x())));
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const got = await onBackend('wasm', () => tf.tidy(() => f(x())));
      expect(tf.memory().numTensors, name).toBe(before);
      expect(Array.from(got), name).toEqual(Array.from(want));
    }
  });

  it('registers idempotently (a second call adds nothing)', () => {
    expect(registerSplitfleetKernels()).toEqual([]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it.each(cases)('Conv2DBackpropFilter and Conv2DBackpropInput match cpu: %o', async (c) => {
    const n = 'n' in c ? c.n : 3;
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
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      // each dW entry sums n·h² float32 products on both backends in different orders: rounding
      // grows with the number of terms (~1e-4 relative at 470 k terms)
      expect(maxAbsDiff(ref, got) / scale).toBeLessThan(n * c.h * c.h > 1e5 ? 5e-4 : 1e-5);
    }
  });

  const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  /** Same function on cpu and wasm: equal up to float rounding, and no tensor left behind on wasm. */
  async function agrees(f: () => tf.Tensor, tol = 1e-5): Promise<void> {
    const ref = await onBackend('cpu', f);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const got = await onBackend('wasm', f);
    expect(tf.memory().numTensors).toBe(before);
    const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    expect(maxAbsDiff(ref, got) / scale).toBeLessThan(tol);
  }

  it.each([
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
    { a: [7, 5], b: [7, 3], ta: true, tb: false },
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [2, 7, 5], b: [2, 3, 7], ta: true, tb: true },
    { a: [2, 4, 7, 5], b: [7, 3], ta: true, tb: false },
  ])('BatchMatMul with transposed operands matches cpu: %o', async (c) => {
    const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
    await agrees(() => tf.tidy(() => tf.matMul(tf.tensor(seq(size(c.a), (i) => Math.sin(i)), c.a), tf.tensor(seq(size(c.b), (i) => Math.cos(i * 0.7)), c.b), c.ta, c.tb)));
  });

  it.each([
    { shape: [4, 3, 5, 6], axis: [0, 1, 2], keepDims: false },
    { shape: [4, 3, 5, 6], axis: [0, 1, 2], keepDims: true },
    { shape: [9, 6], axis: [0], keepDims: false },
    { shape: [4, 3, 5], axis: [1, 0], keepDims: false },
    { shape: [4, 3, 5], axis: [2], keepDims: true },
    { shape: [4, 3, 5], axis: [0, 2], keepDims: false },
  ])('Sum matches cpu: %o', async (c) => {
    const n = c.shape.reduce((x, y) => x * y, 1);
    await agrees(() => tf.tidy(() => tf.sum(tf.tensor(seq(n, (i) => Math.sin(i * 0.3)), c.shape), c.axis, c.keepDims)));
  });

  it.each([
    { h: 8, w: 8, k: 2, ties: false },
    { h: 8, w: 6, k: 2, ties: true },
    { h: 7, w: 9, k: 2, ties: true },
    { h: 9, w: 9, k: 3, ties: true },
  ])('MaxPoolGrad (disjoint windows) matches cpu, ties to the first maximum: %o', async (c) => {
    const n = 2 * c.h * c.w * 3;
    // ties: values on a coarse grid, many zeros as after a ReLU, so windows often hold equal maxima
    const xs = seq(n, (i) => (c.ties ? Math.max(0, Math.round(Math.sin(i * 1.7) * 2)) : Math.sin(i * 1.3)));
    await agrees(() => tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, c.h, c.w, 3]);
      return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, c.k, c.k, 'valid'), tf.reshape(tf.range(1, 1 + Math.floor(c.h / c.k) * Math.floor(c.w / c.k) * 3 * 2), [2, Math.floor(c.h / c.k), Math.floor(c.w / c.k), 3]))))(x);
    }));
  });

  it.each([
    { h: 8, w: 8, size: 2 },
    { h: 7, w: 9, size: 2 },
    { h: 9, w: 9, size: 3 },
  ])('the fused ReLU + max-pool backward equals MaxPoolGrad · step and its bias sum: %o', async (c) => {
    const n = 2 * c.h * c.w * 4;
    // a ReLU's output: many exact zeros, so whole windows are 0 and ties are common
    const ys = seq(n, (i) => Math.max(0, Math.round(Math.sin(i * 1.7) * 3) / 2));
    const oh = Math.floor(c.h / c.size);
    const ow = Math.floor(c.w / c.size);
    const gs = seq(2 * oh * ow * 4, (i) => Math.cos(i * 0.9));
    await agrees(() => tf.tidy(() => {
      const y = tf.tensor4d(ys, [2, c.h, c.w, 4]);
      const dy = tf.tensor4d(gs, [2, oh, ow, 4]);
      if (tf.getKernel(ReluMaxPoolGrad, tf.getBackend())) {
        const [gp, gb] = tf.engine().runKernel(ReluMaxPoolGrad, { y, dy }, { size: c.size }) as tf.Tensor[];
        return tf.concat([tf.reshape(gp!, [-1]), gb!]);
      }
      const gp = tf.mul(tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, c.size, c.size, 'valid'))(y, dy), tf.step(y));
      return tf.concat([tf.reshape(gp, [-1]), tf.sum(gp, [0, 1, 2])]);
    }));
  });

  it.each([
    { pad: 'same', k: 3, cin: 1, h: 8 },
    { pad: 'valid', k: 3, cin: 3, h: 10 },
    { pad: 'same', k: 5, cin: 1, h: 9 },
  ] as const)('the fused first-layer filter gradient equals tf.grads of conv → ReLU → max-pool: %o', async (c) => {
    const n = 3;
    const co = 4;
    const xs = seq(n * c.h * c.h * c.cin, (i) => Math.round(Math.sin(i * 0.7) * 4) / 4);
    const ws = seq(c.k * c.k * c.cin * co, (i) => Math.cos(i * 0.3) * 0.5);
    const bs = seq(co, (i) => (i % 2 ? 0.1 : -0.1));
    await agrees(() => tf.tidy(() => {
      const x = tf.tensor4d(xs, [n, c.h, c.h, c.cin]);
      const w = tf.tensor4d(ws, [c.k, c.k, c.cin, co]);
      const b = tf.tensor1d(bs);
      const y = tf.relu(tf.add(tf.conv2d(x, w, 1, c.pad), b)) as tf.Tensor4D;
      const oh = Math.floor(y.shape[1]! / 2);
      const dy = tf.tensor4d(seq(n * oh * oh * co, (i) => Math.sin(i * 1.1)), [n, oh, oh, co]);
      if (tf.getKernel(ConvReluPoolFilterGrad, tf.getBackend())) {
        const pad = c.pad === 'same' ? Math.floor((c.k - 1) / 2) : 0;
        const [dW, dB] = tf.engine().runKernel(ConvReluPoolFilterGrad, { x, y, dy }, { size: 2, kh: c.k, kw: c.k, top: pad, left: pad }) as tf.Tensor[];
        return tf.concat([tf.reshape(dW!, [-1]), dB!]);
      }
      const [dW, dB] = tf.grads((ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(tf.relu(tf.add(tf.conv2d(x, ww as tf.Tensor4D, 1, c.pad), bb)) as tf.Tensor4D, 2, 2, 'valid'), dy)))([w, b]);
      return tf.concat([tf.reshape(dW!, [-1]), dB!]);
    }));
  });

  /**
   * Every gradient of a part at `input` as one flat tensor: tf.grads on cpu (the reference), the
   * cached-activation VJP on the backend under test (with the input gradient or, as a client's head
   * runs it, without).
   */
  const partGrads = (spec: PartSpec, init: readonly WeightArray[], input: () => tf.Tensor, gy: () => tf.Tensor, inputGradient: boolean) => () =>
    tf.tidy(() => {
      const m = new PartModel(spec, init);
      const [x, g] = [input(), gy()];
      const mode = trainMode(3, false);
      let out: tf.Tensor[];
      if (tf.getBackend() === 'cpu') out = tf.grads((v: tf.Tensor, ...ps: tf.Tensor[]) => m.apply(v, ps, mode))([x, ...m.vars], g).slice(inputGradient ? 0 : 1);
      else {
        const { y, cache } = forwardKeep(m, x, mode);
        if (inputGradient) {
          const r = backwardFromCache(m, cache, g);
          out = [r.gx, ...r.grads];
        } else out = paramGradsFromCache(m, cache, g);
        disposeCache(cache);
        y.dispose();
      }
      const flat = tf.concat(out.map((t) => tf.reshape(t, [-1])));
      m.dispose();
      return flat;
    });
  const gyOf = (shape: readonly number[]) => () => tf.tensor(seq(4 * sizeOf(shape), (i) => Math.cos(i * 0.07)), [4, ...shape]);

  it('backward from cached activations on wasm (fused kernels) equals tf.grads on cpu, for the head and the middle', async () => {
    const s = split(cnnSmall, cnnSmall.defaultCut, 5);
    const x = () => tf.tensor4d(seq(4 * 28 * 28, (i) => (Math.sin(i * 0.13) + 1) / 2), [4, 28, 28, 1]);
    const z = () => tf.relu(tf.tensor(seq(4 * 14 * 14 * 32, (i) => Math.sin(i * 0.31)), [4, 14, 14, 32]));
    await agrees(partGrads(s.head, s.init.head, x, gyOf(s.head.outputShape), false), 1e-4);
    await agrees(partGrads(s.middle, s.init.middle, z, gyOf(s.middle.outputShape), true), 1e-4);
  });

  it('a ResNet head and middle (residual blocks, batch norm, strided convs) on wasm: cached-activation VJP equals tf.grads on cpu', async () => {
    const m = getModelSpec('resnet-8', { inputShape: [12, 12, 1], classes: 10 });
    const s = split(m, m.cuts['stage1']!, 5);
    const x = () => tf.tensor(seq(4 * 144, (i) => (Math.sin(i * 0.13) + 1) / 2), [4, 12, 12, 1]);
    const z = () => tf.tensor(seq(4 * sizeOf(s.middle.inputShape), (i) => Math.sin(i * 0.29)), [4, ...s.middle.inputShape]);
    await agrees(partGrads(s.head, s.init.head, x, gyOf(s.head.outputShape), false), 1e-4);
    await agrees(partGrads(s.middle, s.init.middle, z, gyOf(s.middle.outputShape), true), 1e-4);
  });
});
