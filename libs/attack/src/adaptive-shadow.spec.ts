import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { cnnSmall, DefenceConfigSchema, PartModel, registerSplitfleetKernels, Rng, sizeOf, smashedChannel, split } from '@splitfleet/splitcore';
import { trainShadow, type ShadowOptions } from './shadow.ts';

/**
 * An adaptive attacker trains its shadow head *through* the clients' smashed-data defence (issue
 * #21): the server observes defended smashed data, so a shadow that matches those statistics
 * directly learns the defence's distortion too (under noise of the data's own spread, a spread √2
 * too large), while one matched through the defence imitates the undefended head.
 */
describe('a shadow trained through the smashed-data defence (attack.adaptive)', () => {
  const s = split(cnnSmall, cnnSmall.defaultCut, 2);
  const noise = DefenceConfigSchema.parse({ kind: 'smashed-noise', sigma: 1 });
  let opts: ShadowOptions;
  let auxX: tf.Tensor;
  let realSpread: number;
  beforeAll(async () => {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    await tf.setBackend('wasm');
    registerSplitfleetKernels();
    const head = new PartModel(s.head, s.init.head);
    const r = Rng.fromSeed(3);
    const n = 64;
    const x = tf.tensor(Float32Array.from({ length: n * 784 }, () => r.float()), [n, 28, 28, 1]);
    // what the server observed: the head's smashed data with noise as large as its own spread
    const channel = smashedChannel(noise, Rng.fromSeed(11))!;
    const z = tf.tidy(() => channel(head.apply(x)));
    const aux = Float32Array.from({ length: 32 * 784 }, () => r.float());
    auxX = tf.tensor(aux, [32, 28, 28, 1]);
    realSpread = tf.tidy(() => tf.sqrt(tf.moments(head.apply(auxX)).variance).arraySync() as number);
    opts = {
      objective: 'match', architecture: 'same', tail: 'none', middle: new PartModel(s.middle, s.init.middle), headSpec: s.head, tailSpec: s.tail, classes: 10,
      aux: { x: aux, n: 32 }, observed: { n, z: (await z.data()) as Float32Array, gm: new Float32Array(n * sizeOf(s.middle.outputShape)) },
      steps: 150, lr: 0.01, batchSize: 16, seed: 5,
    };
    tf.dispose([x, z]);
    head.dispose();
  });

  const spreadOf = (head: PartModel) => tf.tidy(() => tf.sqrt(tf.moments(head.apply(auxX)).variance).arraySync() as number);

  it('imitates the undefended head’s spread, where the non-adaptive shadow learns the noise’s', async () => {
    const plain = await trainShadow({ ...opts, defence: [] });
    const adaptive = await trainShadow({ ...opts, defence: noise });
    const [p, a] = [spreadOf(plain.head) / realSpread, spreadOf(adaptive.head) / realSpread];
    expect(Math.abs(a - 1)).toBeLessThan(0.15);
    // (√2 in the limit; 150 steps get most of the way)
    expect(p).toBeGreaterThan(1.15);
    plain.dispose();
    adaptive.dispose();
  });
});
