import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { applyGradients, cnnSmall, disposeCache, forwardKeep, getModelSpec, split, stateShapes, trainMode, type OptimizerConfig } from '@splitfleet/splitcore';
import { initBackend } from '@splitfleet/client-sim/node';
import { ModelState } from './model-state.ts';

describe('ModelState.exportState', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  const configs: OptimizerConfig[] = [
    { name: 'sgd', lr: 0.05, momentum: 0.9 },
    { name: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  ];
  for (const opt of configs)
    it(`leaves no tensor behind (${opt.name}: one checkpoint every round must not leak)`, async () => {
      const state = new ModelState(split(cnnSmall, cnnSmall.defaultCut, 3), opt);
      // one update, so the optimiser has its accumulators (its own variables) besides the step count
      const grads = state.middle.vars.map((v) => tf.onesLike(v));
      applyGradients(state.opt, state.middle.vars, grads);
      tf.dispose(grads);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) expect(Object.keys((await state.exportState()).tensors).some((k) => k.startsWith('opt/'))).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      state.dispose();
    });

  for (const opt of configs)
    it(`importState restores the optimiser exactly and leaves no tensor behind (${opt.name})`, async () => {
      const a = new ModelState(split(cnnSmall, cnnSmall.defaultCut, 3), opt);
      const grads = a.middle.vars.map((v) => tf.onesLike(v));
      applyGradients(a.opt, a.middle.vars, grads);
      const saved = await a.exportState();
      const b = new ModelState(split(cnnSmall, cnnSmall.defaultCut, 3), opt);
      const before = tf.memory().numTensors;
      await b.importState(saved.meta, new Map(Object.entries(saved.tensors)));
      // the restored optimiser's variables are the only new tensors
      expect(tf.memory().numTensors - before).toBe((await b.opt.getWeights()).length - 1);
      // the same update on both gives the same middle
      applyGradients(a.opt, a.middle.vars, grads);
      applyGradients(b.opt, b.middle.vars, grads);
      const [wa, wb] = await Promise.all([a.middle.getWeights(), b.middle.getWeights()]);
      wa.forEach((w, i) => expect(Array.from(wb[i]!.values)).toEqual(Array.from(w.values)));
      tf.dispose(grads);
      a.dispose();
      b.dispose();
    });

  it('a checkpoint carries the running statistics of every part (cnn-bn): export then import restores them exactly', async () => {
    const spec = getModelSpec('cnn-bn');
    const a = new ModelState(split(spec, spec.defaultCut, 3), configs[0]!);
    // move the middle's statistics as a training forward does, and give the shared head new ones
    const y = forwardKeep(a.middle, tf.randomNormal([8, ...a.middle.spec.inputShape]), trainMode(1));
    disposeCache(y.cache);
    y.y.dispose();
    a.global = a.global.map((w) => (w.name.endsWith('runningVar') ? { ...w, values: w.values.map((v) => v * 3) } : w));
    const saved = await a.exportState();
    // middle: 4 params + bn2's 2 statistics; global: head (conv1 kernel, bn1 γ β, mean, var) + tail (fc2 kernel, bias)
    expect(Object.keys(saved.tensors).filter((k) => k.startsWith('middle/')).length).toBe(stateShapes(a.middle.spec).length);
    expect(stateShapes(a.middle.spec).filter((p) => /running/.test(p.name)).length).toBe(2);
    const b = new ModelState(split(spec, spec.defaultCut, 3), configs[0]!);
    await b.importState(saved.meta, new Map(Object.entries(saved.tensors)));
    const [wa, wb] = await Promise.all([a.middle.getWeights(), b.middle.getWeights()]);
    expect(wb.map((w) => Array.from(w.values))).toEqual(wa.map((w) => Array.from(w.values)));
    expect(b.global.find((w) => w.name === 'bn1/runningVar')!.values.every((v) => v === 3)).toBe(true);
    a.dispose();
    b.dispose();
  });
});
