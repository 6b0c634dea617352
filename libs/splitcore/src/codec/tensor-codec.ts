import { sizeOf } from '../model/shape.ts';
/**
 * The one binary tensor codec. A frame is a small header plus the raw little-endian element bytes:
 *
 *   offset 0  u8[4]  magic "SFT" + codec version (1)
 *   offset 4  u8     dtype code (1 float32, 2 int32, 3 uint8, 4 bool)
 *   offset 5  u8     rank r (0..8)
 *   offset 6  u16    reserved, 0
 *   offset 8  u32[r] dimensions
 *   offset 8+4r      elements, product(dims) × dtype size bytes
 *
 * The header is a multiple of 4 bytes so that the payload of an aligned frame is aligned.
 */

export type WireDtype = 'float32' | 'int32' | 'uint8' | 'bool';
export type TypedArrayOf<D extends WireDtype> = D extends 'float32' ? Float32Array : D extends 'int32' ? Int32Array : Uint8Array;

export interface WireTensor<D extends WireDtype = WireDtype> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayOf<D>;
}

export const CODEC_VERSION = 1;
export const MAX_RANK = 8;
const MAGIC = [0x53, 0x46, 0x54, CODEC_VERSION] as const;
const DTYPE_CODES: Readonly<Record<WireDtype, number>> = { float32: 1, int32: 2, uint8: 3, bool: 4 };
const DTYPE_SIZES: Readonly<Record<WireDtype, number>> = { float32: 4, int32: 4, uint8: 1, bool: 1 };
const CODE_TO_DTYPE: readonly (WireDtype | undefined)[] = [undefined, 'float32', 'int32', 'uint8', 'bool'];

/** A frame that cannot be decoded; `code` is stable and travels in protocol error events. */
export class CodecError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'CodecError';
  }
}

export function headerBytes(rank: number): number {
  return 8 + 4 * rank;
}

export function dtypeSize(dtype: WireDtype): number {
  return DTYPE_SIZES[dtype];
}

export function encodeTensor(t: WireTensor): Uint8Array {
  const rank = t.shape.length;
  if (rank > MAX_RANK) throw new CodecError('bad-rank', `rank ${rank} exceeds the maximum ${MAX_RANK}`);
  const size = sizeOf(t.shape);
  if (size !== t.data.length) throw new CodecError('bad-size', `shape [${t.shape}] needs ${size} elements, data has ${t.data.length}`);
  const hdr = headerBytes(rank);
  const payload = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(hdr + payload.byteLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = DTYPE_CODES[t.dtype];
  out[5] = rank;
  t.shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new CodecError('bad-shape', `dimension ${i} is ${d}`);
    view.setUint32(8 + 4 * i, d, true);
  });
  // Typed arrays are little-endian on every platform tfjs runs on; the payload is copied as bytes.
  out.set(payload, hdr);
  return out;
}

/** A received frame as bytes: Node peers get Buffers (Uint8Array views), browsers get ArrayBuffers. */
function asBytes(frame: Uint8Array | ArrayBuffer): Uint8Array {
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  if (!(frame instanceof Uint8Array)) throw new CodecError('not-binary', 'tensor frame must be binary (Uint8Array/Buffer/ArrayBuffer)');
  return frame;
}

/** Reads only the header: dtype and shape, validated against the frame length. */
export function peekHeader(input: Uint8Array | ArrayBuffer): { dtype: WireDtype; shape: number[]; headerLength: number } {
  const frame = asBytes(input);
  if (frame.byteLength < 8) throw new CodecError('truncated', `frame of ${frame.byteLength} bytes is shorter than the 8-byte header`);
  for (let i = 0; i < 4; i++)
    if (frame[i] !== MAGIC[i]) throw new CodecError('bad-magic', 'frame does not start with the splitfleet tensor magic "SFT\\x01"');
  const dtype = CODE_TO_DTYPE[frame[4]!];
  if (!dtype) throw new CodecError('bad-dtype', `unknown dtype code ${frame[4]}`);
  const rank = frame[5]!;
  if (rank > MAX_RANK) throw new CodecError('bad-rank', `rank ${rank} exceeds the maximum ${MAX_RANK}`);
  // reserved bytes must be zero: a later codec version may give them a meaning, and a sender that sets
  // them is not speaking this one
  if (frame[6] !== 0 || frame[7] !== 0) throw new CodecError('bad-header', `reserved header bytes 6–7 must be 0, got ${frame[6]}, ${frame[7]}`);
  const headerLength = headerBytes(rank);
  if (frame.byteLength < headerLength) throw new CodecError('truncated', `frame of ${frame.byteLength} bytes is shorter than its ${headerLength}-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(8 + 4 * i, true));
  const expected = sizeOf(shape) * DTYPE_SIZES[dtype];
  if (frame.byteLength - headerLength !== expected)
    throw new CodecError('bad-length', `shape [${shape}] of ${dtype} needs ${expected} payload bytes, frame carries ${frame.byteLength - headerLength}`);
  return { dtype, shape, headerLength };
}

export function decodeTensor(input: Uint8Array | ArrayBuffer): WireTensor {
  const frame = asBytes(input);
  const { dtype, shape, headerLength } = peekHeader(frame);
  const bytes = frame.byteLength - headerLength;
  const n = bytes / DTYPE_SIZES[dtype];
  // Always copy into a fresh buffer: socket.io hands out Node Buffers that are views into a shared
  // pool at arbitrary (often unaligned) offsets, and Buffer#slice does not copy.
  const copy = new Uint8Array(bytes);
  copy.set(frame.subarray(headerLength));
  const aligned = copy.buffer;
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: new Float32Array(aligned, 0, n) };
    case 'int32':
      return { dtype, shape, data: new Int32Array(aligned, 0, n) };
    default:
      return { dtype, shape, data: new Uint8Array(aligned, 0, n) };
  }
}

/** Index of the first non-finite float, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
