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
});
