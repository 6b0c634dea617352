import * as tf from '@tensorflow/tfjs-core';
import type { ParamShape } from '../model/spec.ts';
import type { WeightArray } from '../model/split.ts';
import { sizeOf } from '../model/shape.ts';
import { CodecError, decodeTensor, encodeTensor, firstNonFinite, type WireDtype } from './tensor-codec.ts';

/** Encodes a tensor as a codec frame (async: webgpu cannot read synchronously in Node). */
export async function tensorToFrame(t: tf.Tensor): Promise<Uint8Array> {
  const data = (await t.data()) as Float32Array | Int32Array | Uint8Array;
  return encodeTensor({ dtype: t.dtype as WireDtype, shape: t.shape, data });
}

export interface FrameExpectation {
  /** Per-sample shape the frame must carry after its batch dimension. */
  readonly sampleShape: readonly number[];
  /** Inclusive bound on the batch dimension. */
  readonly maxBatch: number;
  /** When set, the batch dimension must equal this. */
  readonly batch?: number;
}

/**
 * Decodes and validates a float32 frame before any tensor is made: dtype, shape against the cut's
 * expectation, batch bound and finiteness. Throws CodecError with a stable code.
 */
export function frameToTensor(frame: Uint8Array, expect: FrameExpectation): tf.Tensor {
  const w = decodeTensor(frame);
  if (w.dtype !== 'float32') throw new CodecError('bad-dtype', `expected float32, got ${w.dtype}`);
  const [batch, ...rest] = w.shape;
  const want = `[batch≤${expect.maxBatch}, ${expect.sampleShape.join(', ')}]`;
  if (batch === undefined || rest.length !== expect.sampleShape.length || rest.some((d, i) => d !== expect.sampleShape[i]))
    throw new CodecError('bad-shape', `expected shape ${want}, got [${w.shape.join(', ')}]`);
  if (batch < 1 || batch > expect.maxBatch) throw new CodecError('bad-shape', `batch ${batch} outside [1, ${expect.maxBatch}]`);
  if (expect.batch !== undefined && batch !== expect.batch)
    throw new CodecError('bad-shape', `batch ${batch} does not match the ${expect.batch} samples of this request`);
  const bad = firstNonFinite(w.data as Float32Array);
  if (bad >= 0) throw new CodecError('non-finite', `value at flat index ${bad} is ${(w.data as Float32Array)[bad]}`);
  return tf.tensor(w.data as Float32Array, [...w.shape], 'float32');
}

/**
 * Encodes a weights list as ONE frame: every array's values back to back, as a flat float32
 * tensor (socket.io refuses messages with more than 10 binary attachments, and a ResNet part has
 * dozens of arrays). The receiver splits it by the parameter list it expects.
 */
export function weightsToFrames(weights: readonly WeightArray[]): Uint8Array[] {
  const total = weights.reduce((a, w) => a + w.values.length, 0);
  const data = new Float32Array(total);
  let at = 0;
  for (const w of weights) {
    data.set(w.values, at);
    at += w.values.length;
  }
  return [encodeTensor({ dtype: 'float32', shape: [total], data })];
}

/** Decodes a weights frame (weightsToFrames) against the parameter list it must match, in order. */
export function framesToWeights(frames: readonly Uint8Array[], params: readonly ParamShape[]): WeightArray[] {
  if (frames.length !== 1) throw new CodecError('bad-shape', `expected 1 weights frame (all ${params.length} arrays packed), got ${frames.length}`);
  const w = decodeTensor(frames[0]!);
  const total = params.reduce((a, p) => a + sizeOf(p.shape), 0);
  if (w.dtype !== 'float32') throw new CodecError('bad-dtype', `weights: expected float32, got ${w.dtype}`);
  if (w.shape.length !== 1 || w.shape[0] !== total) throw new CodecError('bad-shape', `weights: expected [${total}] values (${params.length} arrays), got [${w.shape}]`);
  const all = w.data as Float32Array;
  const bad = firstNonFinite(all);
  let at = 0;
  return params.map((p) => {
    const n = sizeOf(p.shape);
    if (bad >= at && bad < at + n) throw new CodecError('non-finite', `${p.name}: non-finite value at ${bad - at}`);
    const values = all.slice(at, at + n);
    at += n;
    return { name: p.name, shape: p.shape, values };
  });
}

/** Sample-weighted average of several clients' weights (FedAvg); all lists have the same layout. */
export function averageWeights(lists: readonly (readonly WeightArray[])[], counts: readonly number[]): WeightArray[] {
  const first = lists[0];
  if (!first) throw new Error('averageWeights: no weights to average');
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error('averageWeights: total sample count must be > 0');
  return first.map((w, j) => {
    const acc = new Float64Array(w.values.length);
    lists.forEach((list, i) => {
      const v = list[j]!.values;
      const c = counts[i]! / total;
      for (let k = 0; k < v.length; k++) acc[k]! += c * v[k]!;
    });
    return { name: w.name, shape: w.shape, values: Float32Array.from(acc) };
  });
}
