import type * as tf from '@tensorflow/tfjs-core';
import type { LayerSpec, NamedLayer, ParamShape } from '../spec.ts';
import type { ForwardMode, LayerKind } from './kind.ts';
import { conv2d } from './conv2d.ts';
import { dense } from './dense.ts';
import { avgpool, flatten, gap, maxpool } from './pooling.ts';
import { dropout } from './dropout.ts';
import { batchnorm } from './batchnorm.ts';
import { residual } from './residual.ts';

/** One line per layer kind: adding a kind is a file in this folder and a line here. */
const KINDS: { readonly [K in LayerSpec['kind']]: LayerKind<Extract<LayerSpec, { kind: K }>> } = {
  conv2d, dense, maxpool, avgpool, gap, flatten, dropout, batchnorm, residual,
};

export const LAYER_KINDS = Object.keys(KINDS) as LayerSpec['kind'][];

function kindOf(layer: NamedLayer): LayerKind<LayerSpec> {
  const k = KINDS[layer.spec.kind] as LayerKind<LayerSpec> | undefined;
  if (!k) throw new Error(`layer ${layer.name}: unknown kind "${layer.spec.kind}"; known: ${LAYER_KINDS.join(', ')}`);
  return k;
}

/** Per-sample output shape of a layer, or an error naming the layer. */
export function layerOutputShape(layer: NamedLayer, input: readonly number[]): number[] {
  return kindOf(layer).outputShape(layer, layer.spec, input);
}

/** A layer's trainable parameters. */
export function layerParamShapes(layer: NamedLayer, input: readonly number[]): ParamShape[] {
  return kindOf(layer).params(layer, layer.spec, input);
}

/** A layer's non-trainable state (batch-norm running statistics). */
export function layerBufferShapes(layer: NamedLayer, input: readonly number[]): ParamShape[] {
  return kindOf(layer).buffers(layer, layer.spec, input);
}

export function layerFlops(layer: NamedLayer, input: readonly number[], output: readonly number[]): number {
  return kindOf(layer).flops(layer.spec, input, output);
}

/** A training forward that keeps what the layer's own VJP needs; null when its kind has none. */
export function applyLayerKept(
  layer: NamedLayer, x: tf.Tensor, params: readonly tf.Tensor[], buffers: readonly tf.Tensor[], mode: ForwardMode, index: number,
): { y: tf.Tensor; saved: tf.Tensor[] } | null {
  const k = kindOf(layer);
  return k.forwardKept && mode.training ? k.forwardKept({ spec: layer.spec, x, params, buffers, mode, index }) : null;
}

/** The VJP of a layer whose forward was `applyLayerKept`. */
export function layerVjpKept(
  layer: NamedLayer, x: tf.Tensor, y: tf.Tensor, params: readonly tf.Tensor[], saved: readonly tf.Tensor[], dy: tf.Tensor, needGx: boolean, mode: ForwardMode, index: number,
): { dx: tf.Tensor | null; grads: tf.Tensor[] } {
  const k = kindOf(layer);
  if (!k.vjpKept) throw new Error(`layer ${layer.name}: ${layer.spec.kind} has no kept VJP`);
  return k.vjpKept({ spec: layer.spec, x, params, buffers: [], mode, index }, y, saved, dy, needGx);
}

/** One layer's forward; `index` is its position in its part (dropout masks). */
export function applyLayer(
  layer: NamedLayer, x: tf.Tensor, params: readonly tf.Tensor[], buffers: readonly tf.Tensor[], mode: ForwardMode, index: number,
): tf.Tensor {
  return kindOf(layer).forward({ spec: layer.spec, x, params, buffers, mode, index });
}
