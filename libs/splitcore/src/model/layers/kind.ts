import type * as tf from '@tensorflow/tfjs-core';
import type { LayerSpec, NamedLayer, ParamShape } from '../spec.ts';

/**
 * How a forward pass runs. Training uses batch statistics and dropout; `updateStats` lets it move
 * the running statistics (only the one forward of a step that counts: never a re-run for a
 * gradient). `seed` fixes this step's dropout masks, so a re-run draws the same ones.
 */
export interface ForwardMode {
  readonly training: boolean;
  readonly updateStats: boolean;
  readonly seed: number;
}

/** Inference: running statistics, no dropout, nothing updated. */
export const EVAL_MODE: ForwardMode = { training: false, updateStats: false, seed: 0 };

/** A training forward with this step's dropout seed; it moves running statistics unless told not to. */
export function trainMode(seed: number, updateStats = true): ForwardMode {
  return { training: true, updateStats, seed };
}

/** What one layer reads and writes in a forward pass. */
export interface LayerCall<S extends LayerSpec> {
  readonly spec: S;
  readonly x: tf.Tensor;
  /** This layer's trainable parameters, in `params()` order. */
  readonly params: readonly tf.Tensor[];
  /** This layer's running statistics, in `buffers()` order (tf.Variables when stats are updated). */
  readonly buffers: readonly tf.Tensor[];
  readonly mode: ForwardMode;
  /** Position of the layer in its part: keeps two dropout layers' masks apart. */
  readonly index: number;
}

/** Everything splitfleet needs to know about one kind of layer; one file per kind implements it. */
export interface LayerKind<S extends LayerSpec> {
  /** Per-sample output shape, or an error naming the layer and the shapes that do not fit. */
  outputShape(layer: NamedLayer, spec: S, input: readonly number[]): number[];
  /** Trainable parameters, named `<layer>/<what>`. */
  params(layer: NamedLayer, spec: S, input: readonly number[]): ParamShape[];
  /** Non-trainable state (running statistics). */
  buffers(layer: NamedLayer, spec: S, input: readonly number[]): ParamShape[];
  forward(call: LayerCall<S>): tf.Tensor;
  /**
   * Optional, for composite layers: a training forward that keeps what `vjpKept` needs, so the
   * cached-activation backward need not re-run the layer (kinds without it are differentiated by
   * re-running `forward` under tf.grads).
   */
  forwardKept?(call: LayerCall<S>): { y: tf.Tensor; saved: tf.Tensor[] };
  /** The layer's VJP from `forwardKept`'s output `y` and `saved`: the input gradient (when asked) and each parameter's. */
  vjpKept?(call: LayerCall<S>, y: tf.Tensor, saved: readonly tf.Tensor[], dy: tf.Tensor, needGx: boolean): { dx: tf.Tensor | null; grads: tf.Tensor[] };
  /** Forward floating-point operations per sample (a multiply-add counts 2). */
  flops(spec: S, input: readonly number[], output: readonly number[]): number;
}

export const noParams = (): ParamShape[] => [];

/** Input must be [h, w, c]; names the layer otherwise. */
export function imageInput(layer: NamedLayer, input: readonly number[]): [number, number, number] {
  if (input.length !== 3) throw new Error(`layer ${layer.name}: ${layer.spec.kind} needs an [h, w, c] input, got [${input}]`);
  return input as [number, number, number];
}
