import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { applyGradients, cnnSmall, split, type OptimizerConfig } from '@splitfleet/splitcore';
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
});
