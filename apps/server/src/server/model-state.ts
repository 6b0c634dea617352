import * as tf from '@tensorflow/tfjs-core';
import { disposeOptimizer, makeOptimizer, headTailShapes, PartModel, stateShapes, tensorsToWeights, weightsToTensors, type OptimizerConfig, type SplitModel, type WeightArray, type WireTensor } from '@splitfleet/splitcore';

/** What the server's checkpoint meta says besides the tensors. */
export interface ServerStateMeta {
  readonly round: number;
  readonly clients: number[];
  readonly optimizer: string[];
}

/**
 * The weights the server holds between rounds: the middle and its optimiser, the shared head+tail,
 * and each client's head+tail from the end of its last completed round.
 */
export class ModelState {
  readonly split: SplitModel;
  readonly middle: PartModel;
  readonly opt: tf.Optimizer;
  /** The shared head+tail (shared modes); the initial weights in `local`. */
  global: readonly WeightArray[];
  readonly perClient = new Map<number, readonly WeightArray[]>();
  /** The last completed round (-1: none). */
  round = -1;

  constructor(split: SplitModel, optimizer: OptimizerConfig) {
    this.split = split;
    this.middle = new PartModel(split.middle, split.init.middle);
    this.opt = makeOptimizer(optimizer);
    this.global = [...split.init.head, ...split.init.tail];
  }

  get headTailParams() {
    return headTailShapes(this.split);
  }

  /**
   * Everything needed to continue a run after the last completed round: middle weights, the middle
   * optimiser's state, the shared head/tail and each client's last head/tail. (Client optimisers
   * restart every round, and batch order is a pure function of (seed, client, round), so nothing else
   * is needed for an exact resume.)
   */
  async exportState(): Promise<{ meta: ServerStateMeta; tensors: Record<string, WireTensor> }> {
    const tensors: Record<string, WireTensor> = { ...weightsToTensors('middle', await this.middle.getWeights()), ...weightsToTensors('global', this.global) };
    for (const [id, w] of this.perClient) Object.assign(tensors, weightsToTensors(`client${id}`, w));
    const optNames: string[] = [];
    for (const [i, nt] of (await this.opt.getWeights()).entries()) {
      optNames.push(nt.name);
      const data = await nt.tensor.data();
      tensors[`opt/${i}`] = nt.tensor.dtype === 'int32' ? { dtype: 'int32', shape: nt.tensor.shape, data: Int32Array.from(data) } : { dtype: 'float32', shape: nt.tensor.shape, data: Float32Array.from(data) };
      // getWeights makes a fresh 'iter' scalar on every call (the rest are the optimiser's own
      // variables): left alone, every checkpoint would leak one tensor
      if (!(nt.tensor instanceof tf.Variable)) nt.tensor.dispose();
    }
    return { meta: { round: this.round, clients: [...this.perClient.keys()], optimizer: optNames }, tensors };
  }

  async importState(meta: ServerStateMeta, tensors: ReadonlyMap<string, WireTensor>): Promise<void> {
    const get = (prefix: string, params: readonly { name: string }[]) => tensorsToWeights(prefix, tensors, params.map((p) => p.name));
    this.middle.setWeights(get('middle', stateShapes(this.split.middle)));
    this.global = get('global', this.headTailParams);
    for (const id of meta.clients) this.perClient.set(id, get(`client${id}`, this.headTailParams));
    const opt = meta.optimizer.map((name, i) => {
      const t = tensors.get(`opt/${i}`);
      if (!t) throw new Error(`checkpoint lacks opt/${i}`);
      return { name, tensor: tf.tensor(t.data as Float32Array | Int32Array, [...t.shape], t.dtype === 'int32' ? 'int32' : 'float32') };
    });
    await this.opt.setWeights(opt);
    // the optimiser keeps variables made from these (sharing their data), not the tensors themselves
    tf.dispose(opt.map((o) => o.tensor));
    this.round = meta.round;
  }

  dispose(): void {
    this.middle.dispose();
    disposeOptimizer(this.opt);
  }
}
