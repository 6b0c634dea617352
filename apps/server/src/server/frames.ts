import * as tf from '@tensorflow/tfjs-core';
import { CodecError, errorReply, float32Bytes, framesToWeights, frameToTensor, headerBytes, headTailShapes, type ErrorReply, type SplitModel, type WeightArray } from '@splitfleet/splitcore';

/**
 * Frame policy of the split server: the largest legal frame, and decoding a client's tensor frame
 * into a tensor of the shape the protocol allows, or an error reply naming what is wrong.
 */
export class FramePolicy {
  readonly maxFrameBytes: number;
  private readonly split: SplitModel;
  private readonly batchSize: number;

  constructor(split: SplitModel, batchSize: number) {
    this.split = split;
    this.batchSize = batchSize;
    // a full batch of smashed data or of the middle's output, or all of a client's head+tail weights
    // (roundDone), plus headers and socket.io framing slack
    const weightBytes = headTailShapes(split).reduce((a, p) => a + float32Bytes(p.shape) + headerBytes(p.shape.length), 0);
    this.maxFrameBytes = Math.max(batchSize * float32Bytes(split.middle.inputShape), batchSize * float32Bytes(split.middle.outputShape), weightBytes) + 64 * 1024;
  }

  /** Smashed data: a batch of the middle's input, at most training.batchSize rows. */
  smashed(frame: Uint8Array): tf.Tensor | ErrorReply {
    return decode(frame, { sampleShape: this.split.middle.inputShape, maxBatch: this.batchSize });
  }

  /** The gradient at the middle's output for a forward of `rows` rows: exactly that many. */
  middleGradient(frame: Uint8Array, rows: number): tf.Tensor | ErrorReply {
    return decode(frame, { sampleShape: this.split.middle.outputShape, maxBatch: rows, batch: rows });
  }

  /** A client's head+tail weights (roundDone): the model's shapes, finite values. */
  headTail(frames: readonly Uint8Array[]): WeightArray[] | ErrorReply {
    try {
      return framesToWeights(frames, headTailShapes(this.split));
    } catch (e) {
      return toErrorReply(e);
    }
  }
}

function decode(frame: Uint8Array, expect: Parameters<typeof frameToTensor>[1]): tf.Tensor | ErrorReply {
  try {
    return frameToTensor(frame, expect);
  } catch (e) {
    return toErrorReply(e);
  }
}

export function isTensor(x: tf.Tensor | ErrorReply): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/** A thrown codec error as the reply the client gets (anything else is 'internal'). */
export function toErrorReply(e: unknown): ErrorReply {
  if (e instanceof CodecError) {
    const code = (['bad-shape', 'bad-dtype', 'non-finite'] as const).find((c) => c === e.code) ?? 'bad-frame';
    return errorReply(code, e.message);
  }
  return errorReply('internal', (e as Error).message ?? String(e));
}
