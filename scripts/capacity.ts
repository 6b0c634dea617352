// Capacity model inputs (docs/scale.md): server throughput through the middle, client-side compute
// per batch, and bytes per sample on the wire, for the default cut and a deeper one, on wasm, one
// thread each. `node scripts/capacity.ts` (part of nothing else; a few seconds).
import * as tf from '@tensorflow/tfjs-core';
import {
  backwardFromCache, cnnSmall, disposeCache, forwardKeep, headBackward, headForward, makeOptimizer, middleForward, PartModel, split, tailStep, applyGradients,
  type Cut,
} from '@splitfleet/splitcore';
import { initBackend } from '@splitfleet/client-sim';
import { float32Bytes } from '@splitfleet/splitcore';

await initBackend('wasm');
const B = 32;
const steps = 15;
const bytes = (shape: readonly number[]) => float32Bytes(shape);

async function measure(cut: Cut) {
  const s = split(cnnSmall, cut, 1);
  const head = new PartModel(s.head, s.init.head);
  const middle = new PartModel(s.middle, s.init.middle);
  const tail = new PartModel(s.tail, s.init.tail);
  const [oh, om, ot] = [0, 1, 2].map(() => makeOptimizer({ name: 'sgd', lr: 0.01, momentum: 0 }));
  const x = tf.randomUniform([B, 28, 28, 1]);
  const y = tf.tensor1d(Int32Array.from({ length: B }, (_, i) => i % 10), 'int32');
  const time = async (f: () => Promise<void>) => {
    await f();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await f();
    return (performance.now() - t0) / 1000 / steps;
  };
  const z = headForward(head, x);
  const m = middleForward(middle, z);
  const gm = tf.randomNormal(m.shape);
  // server: what SplitServer does per batch — forward keeping activations, backward from them, update
  const server = await time(async () => {
    const { y: mm, cache } = forwardKeep(middle, z);
    const { gx, grads } = backwardFromCache(middle, cache, gm);
    disposeCache(cache);
    applyGradients(om!, middle.vars, grads);
    await gx.data();
    tf.dispose([mm, gx, ...grads]);
  });
  // client: head forward, tail step, head backward for one batch
  const client = await time(async () => {
    const { y: zz, cache: hc } = forwardKeep(head, x);
    const { gm: g } = await tailStep(tail, ot!, m, y, 10);
    const gzz = tf.randomNormal(zz.shape);
    headBackward(head, oh!, hc, gzz);
    disposeCache(hc);
    gzz.dispose();
    await zz.data();
    tf.dispose([zz, g]);
  });
  tf.dispose([x, y, z, m, gm]);
  const perSample = 2 * bytes(s.head.outputShape) + 2 * bytes(s.middle.outputShape);
  return { cut: `${cut.headEnd},${cut.tailStart}`, serverBatchesPerSec: 1 / server, clientBatchesPerSec: 1 / client, wireBytesPerSample: perSample };
}

const rows = [await measure(cnnSmall.defaultCut), await measure({ headEnd: 4, tailStart: 5 })];
console.log(JSON.stringify({ batch: B, backend: 'wasm (1 thread)', rows }, null, 2));
