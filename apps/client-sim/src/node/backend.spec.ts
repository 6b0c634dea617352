import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';

describe('backend selection', () => {
  it('auto picks wasm on a machine whose only WebGPU adapter is software, and says why', async () => {
    const info = await initBackend('auto');
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    // the reason is recorded (software adapter skipped, or no adapter at all)
    expect(info.note).toMatch(/auto: /);
    // and our conv-gradient kernel is in place, so conv nets can train on it
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });
});
