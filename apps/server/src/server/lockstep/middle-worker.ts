// worker_thread entry of the middle pool (middle-pool.ts): a replica of the server's middle that
// runs one shard of each training step — forward keeping activations, then the backward from them.
// It holds no optimiser: the main thread sums the shards' gradients, updates the one authoritative
// middle, and sends its weights with the next forward, so replicas never drift.
import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import * as tf from '@tensorflow/tfjs-core';
import { backwardFromCache, disposeCache, forwardKeep, PartModel, type ForwardCache, type PartSpec, type WeightArray } from '@splitfleet/splitcore';
import { initBackend } from '@splitfleet/client-sim/node';

export interface ShardTensor {
  readonly data: Float32Array;
  readonly shape: number[];
}

let middle: PartModel | null = null;
let cache: ForwardCache | null = null;

const need = (): PartModel => {
  if (!middle) throw new Error('middle worker: init was not called');
  return middle;
};
const dropCache = () => {
  if (cache) disposeCache(cache);
  cache = null;
};
const out = (t: tf.Tensor): ShardTensor => {
  const data = t.dataSync() as Float32Array;
  const r = { data, shape: t.shape };
  t.dispose();
  return Comlink.transfer(r, [data.buffer]);
};

const api = {
  async init(spec: PartSpec, weights: WeightArray[]): Promise<string> {
    const b = await initBackend('wasm');
    middle = new PartModel(spec, weights);
    return b.backend;
  },
  /** Loads the main thread's current weights, runs the forward of one shard and keeps its activations. */
  forward(weights: Float32Array[], z: ShardTensor): ShardTensor {
    const m = need();
    dropCache();
    m.setWeights(m.spec.params.map((p, i) => ({ name: p.name, shape: p.shape, values: weights[i]! })));
    const x = tf.tensor(z.data, z.shape, 'float32');
    const r = forwardKeep(m, x);
    x.dispose();
    cache = r.cache;
    return out(r.y);
  },
  /** The shard's VJP at the kept forward: gradient at its input rows and its share of each parameter gradient. */
  backward(gm: ShardTensor): { gz: ShardTensor; grads: ShardTensor[] } {
    const m = need();
    if (!cache) throw new Error('middle worker: backward without a forward');
    const g = tf.tensor(gm.data, gm.shape, 'float32');
    const { gx, grads } = backwardFromCache(m, cache, g);
    g.dispose();
    dropCache();
    const gz = out(gx);
    const gs = grads.map(out);
    return Comlink.transfer({ gz, grads: gs }, [gz.data.buffer, ...gs.map((x) => x.data.buffer)]);
  },
  drop(): void {
    dropCache();
  },
  /** Live tensors in this worker (a leak shows as growth across steps). */
  tensors(): number {
    return tf.memory().numTensors;
  },
};

export type MiddleWorkerApi = typeof api;

if (!parentPort) throw new Error('middle-worker.ts must run as a worker_thread');
Comlink.expose(api, nodeEndpoint(parentPort));
