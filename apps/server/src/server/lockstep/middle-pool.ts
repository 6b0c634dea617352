import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import * as tf from '@tensorflow/tfjs-core';
import { backwardFromCache, disposeCache, forwardKeep, LossSignal, middleVjp, shardRows, type ForwardCache, type ForwardMode, type PartModel, type PartSpec } from '@splitfleet/splitcore';
import type { MiddleWorkerApi, ShardTensor } from './middle-worker.ts';

/** Below this many rows per thread a shard's messaging costs more than its compute (measured). */
export const MIN_SHARD_ROWS = 16;

interface Remote {
  readonly worker: Worker;
  readonly api: Comlink.Remote<MiddleWorkerApi>;
  /** Fires when the worker exits or throws outside a call: a dead worker never answers comlink. */
  readonly gone: LossSignal;
}

/** One step in flight: its shards' rows (kept so a lost worker's shard can be recomputed) and who runs them. */
interface StepState {
  readonly sizes: number[];
  /** The remote shards' input rows: zs[i] is shard i + 1's (shard 0's rows live in `local`). */
  readonly zs: tf.Tensor[];
  readonly local: ForwardCache;
  /** remotes[i] runs shard i + 1. */
  readonly remotes: Remote[];
  /** Whether the remotes still hold this step's activations. */
  remoteCached: boolean;
}

interface ShardGrads {
  readonly gz: tf.Tensor;
  readonly grads: tf.Tensor[];
}

/**
 * Runs the middle's training step data-parallel over `threads` threads: shard 0 on the calling
 * (main) thread, the others on worker_thread replicas that receive the current weights with every
 * forward. Forward keeps each shard's activations; backward returns the gradient at every input row
 * (per sample, so exactly what one thread computes) and the parameter gradient summed over shards
 * in shard order (equal to the one-thread sum up to float rounding; the same batch size always gives
 * the same shards, so runs stay deterministic). tfjs-wasm's own threaded build does not start in
 * Node 24, and the middle holds most of a split model's FLOPs: this is how the server uses more than
 * one core. threads = 1 spawns nothing and runs the step where it always ran.
 *
 * A worker that fails (crash, error) leaves the pool and its shard is recomputed on the main thread
 * from the kept rows: the step completes, slower, and the log says so.
 */
export class MiddlePool {
  private remotes: Remote[];
  private step: StepState | null = null;
  private readonly log: (line: string) => void;

  private constructor(remotes: Remote[], log: (line: string) => void) {
    this.remotes = remotes;
    this.log = log;
  }

  static async start(middle: PartModel, threads: number, log: (line: string) => void = () => {}): Promise<MiddlePool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`middle threads must be an integer ≥ 1, got ${threads}`);
    if (threads > 1 && !shardable(middle.spec)) {
      log(`middle pool: the middle has batch norm or dropout layers, whose result depends on the whole batch (statistics) or its row count (masks); it runs on one thread (server.middleThreads=${threads} ignored)`);
      threads = 1;
    }
    const weights = await middle.getWeights();
    const remotes = Array.from({ length: threads - 1 }, () => {
      const worker = new Worker(new URL('./middle-worker.ts', import.meta.url));
      worker.unref();
      const gone = new LossSignal();
      worker.once('error', (e) => gone.lose(e));
      worker.once('exit', (code) => gone.lose(new Error(`worker exited with code ${code}`)));
      return { worker, api: Comlink.wrap<MiddleWorkerApi>(nodeEndpoint(worker)), gone };
    });
    try {
      await Promise.all(remotes.map((r) => r.gone.guard(r.api.init(middle.spec, weights))));
    } catch (e) {
      await Promise.all(remotes.map((r) => r.worker.terminate()));
      throw new Error(`middle pool: a worker failed to start: ${(e as Error).message}`);
    }
    return new MiddlePool(remotes, log);
  }

  /** Threads a step can use now (1 + live workers). */
  get threads(): number {
    return 1 + this.remotes.length;
  }

  /** Forward of a step's concatenated batch, keeping what its backward needs. The caller owns the result. */
  async forward(middle: PartModel, z: tf.Tensor, mode: ForwardMode): Promise<tf.Tensor> {
    this.drop();
    const sizes = shardRows(z.shape[0]!, this.threads, MIN_SHARD_ROWS);
    // one shard: z itself (the caller's; forwardKeep copies what it keeps), nothing else to hold
    const [own, ...zs] = sizes.length === 1 ? [z] : tf.split(z, sizes, 0);
    const remotes = this.remotes.slice(0, zs.length);
    // post the remote shards first, so the workers compute while this thread runs shard 0
    const pending = remotes.map((r, i) => {
      const weights = middle.vars.map((v) => v.dataSync() as Float32Array);
      const shard = fromTensor(zs[i]!);
      return this.call(r, (api) => api.forward(Comlink.transfer(weights, weights.map((w) => w.buffer)), Comlink.transfer(shard, [shard.data.buffer])));
    });
    const { y, cache } = forwardKeep(middle, own!, mode);
    if (own !== z) own!.dispose();
    this.step = { sizes, zs, local: cache, remotes, remoteCached: remotes.length > 0 };
    if (pending.length === 0) return y;
    const ys = [y];
    for (let i = 0; i < pending.length; i++) {
      const r = await pending[i]!;
      ys.push(r ? toTensor(r) : this.recompute(i, () => tf.tidy(() => middle.apply(zs[i]!))));
    }
    const all = tf.concat(ys, 0);
    tf.dispose(ys);
    return all;
  }

  /**
   * VJP at the kept forward for output gradient `gm` (all rows of the step, in forward order): the
   * gradient at every input row and each parameter's gradient, summed over shards. Null when no
   * forward is kept or its row count differs (the caller then recomputes with middleVjp).
   */
  async backward(middle: PartModel, gm: tf.Tensor): Promise<ShardGrads | null> {
    const st = this.step;
    if (!st || st.sizes.reduce((a, b) => a + b, 0) !== gm.shape[0]) return null;
    const gms = st.sizes.length === 1 ? [gm] : tf.split(gm, st.sizes, 0);
    const pending = st.remotes.map((r, i) => this.call(r, (api) => api.backward(fromTensor(gms[i + 1]!))));
    st.remoteCached = false;
    const local = backwardFromCache(middle, st.local, gms[0]!);
    const gzs = [local.gx];
    let grads = local.grads;
    for (let i = 0; i < pending.length; i++) {
      const r = await pending[i]!;
      const part: ShardGrads = r ? { gz: toTensor(r.gz), grads: r.grads.map(toTensor) } : this.recompute(i, () => middleVjp(middle, st.zs[i]!, gms[i + 1]!));
      gzs.push(part.gz);
      // summed in shard order on this thread: a fixed order, so the same weights every run
      const summed = grads.map((g, j) => tf.add(g, part.grads[j]!));
      tf.dispose([...grads, ...part.grads]);
      grads = summed;
    }
    if (gms.length > 1) tf.dispose(gms);
    this.drop();
    const gz = gzs.length === 1 ? gzs[0]! : tf.concat(gzs, 0);
    if (gzs.length > 1) tf.dispose(gzs);
    return { gz, grads };
  }

  /** Forget the kept step (a client left mid-step, a round ended). */
  drop(): void {
    const st = this.step;
    if (!st) return;
    this.step = null;
    disposeCache(st.local);
    tf.dispose(st.zs);
    if (st.remoteCached) for (const r of st.remotes) void this.call(r, (api) => api.drop());
  }

  async close(): Promise<void> {
    this.drop();
    const rs = this.remotes;
    this.remotes = [];
    await Promise.all(rs.map((r) => r.worker.terminate()));
  }

  /** Live tensors in each worker, for leak tests. */
  async workerTensors(): Promise<number[]> {
    return Promise.all(this.remotes.map((r) => r.api.tensors()));
  }

  /** A call to a worker; null when it failed or has left (a failing worker is terminated and leaves the pool). */
  private async call<T>(r: Remote, f: (api: Comlink.Remote<MiddleWorkerApi>) => Promise<T>): Promise<T | null> {
    if (!this.remotes.includes(r)) return null;
    try {
      // not Promise.race with one long-lived promise: that kept every step's results (LossSignal)
      return await r.gone.guard(f(r.api));
    } catch (e) {
      if (this.remotes.includes(r)) {
        this.log(`middle pool: a worker failed (${(e as Error).message}); its shards run on the main thread from now on`);
        this.remotes = this.remotes.filter((x) => x !== r);
        void r.worker.terminate();
      }
      return null;
    }
  }

  private recompute<T>(i: number, f: () => T): T {
    this.log(`middle pool: shard ${i + 1} of this step recomputed on the main thread`);
    return f();
  }
}

/**
 * Whether the middle may run data-parallel: each output row a function of its own input row only
 * (no batch statistics, no dropout masks drawn per batch shape).
 */
export function shardable(spec: PartSpec): boolean {
  return spec.layers.every((l) => l.spec.kind !== 'batchnorm' && l.spec.kind !== 'residual' && l.spec.kind !== 'dropout');
}

const toTensor = (s: ShardTensor): tf.Tensor => tf.tensor(s.data, s.shape, 'float32');
const fromTensor = (t: tf.Tensor): ShardTensor => ({ data: t.dataSync() as Float32Array, shape: t.shape });
