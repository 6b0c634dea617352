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
 *
 * Two compressed float32 encodings carry smashed-data defences (issue #21) with their real size on
 * the wire; both decode to float32 (`decodeTensor`), so every receiver sees plain values:
 *   dtype 5 (quantised): after the dimensions f32 min, f32 step, u8 bits (1–16), u8[3] 0, then the
 *     levels q (value = min + q·step) packed LSB-first, bits each, ceil(n·bits/8) bytes;
 *   dtype 6 (sparse): after the dimensions u32 k, then k u32 flat indices (increasing) and k f32
 *     values; every other element is 0.
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
const CODE_TO_DTYPE: readonly (WireDtype | undefined)[] = [undefined, 'float32', 'int32', 'uint8', 'bool', 'float32', 'float32'];
const QUANTISED = 5;
const SPARSE = 6;
/** How a frame's float32 payload is stored. */
export type FrameEncoding = 'dense' | 'quantised' | 'sparse';

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

/** A frame of `bytes` after the header, with magic, dtype code, rank and dimensions written. */
function newFrame(code: number, shape: readonly number[], bytes: number): { out: Uint8Array; view: DataView; at: number } {
  const rank = shape.length;
  if (rank > MAX_RANK) throw new CodecError('bad-rank', `rank ${rank} exceeds the maximum ${MAX_RANK}`);
  const hdr = headerBytes(rank);
  const out = new Uint8Array(hdr + bytes);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = code;
  out[5] = rank;
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new CodecError('bad-shape', `dimension ${i} is ${d}`);
    view.setUint32(8 + 4 * i, d, true);
  });
  return { out, view, at: hdr };
}

export function encodeTensor(t: WireTensor): Uint8Array {
  const size = sizeOf(t.shape);
  if (size !== t.data.length) throw new CodecError('bad-size', `shape [${t.shape}] needs ${size} elements, data has ${t.data.length}`);
  const payload = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const { out, at } = newFrame(DTYPE_CODES[t.dtype], t.shape, payload.byteLength);
  // Typed arrays are little-endian on every platform tfjs runs on; the payload is copied as bytes.
  out.set(payload, at);
  return out;
}

/** Uniform quantisation of `data` to 2^bits levels between its min and max: the grid and each value's level. */
export function quantiseLevels(data: Float32Array, bits: number): { min: number; step: number; levels: Uint32Array } {
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) throw new CodecError('bad-bits', `quantisation needs 1–16 bits, got ${bits}`);
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!data.length) min = max = 0;
  const top = 2 ** bits - 1;
  const step = Math.fround(max > min ? (max - min) / top : 0);
  const fmin = Math.fround(min);
  const levels = Uint32Array.from(data, (v) => (step > 0 ? Math.min(top, Math.max(0, Math.round((v - fmin) / step))) : 0));
  return { min: fmin, step, levels };
}

/** The float32 values a quantised frame decodes to: what the receiver computes with. */
export function dequantise(q: { min: number; step: number; levels: Uint32Array }): Float32Array {
  return Float32Array.from(q.levels, (l) => q.min + l * q.step);
}

/** A float32 tensor as a quantised frame (dtype 5): bits per value instead of 32, plus 12 bytes of grid. */
export function encodeQuantised(shape: readonly number[], data: Float32Array, bits: number): Uint8Array {
  if (sizeOf(shape) !== data.length) throw new CodecError('bad-size', `shape [${shape}] needs ${sizeOf(shape)} elements, data has ${data.length}`);
  const q = quantiseLevels(data, bits);
  const { out, view, at } = newFrame(QUANTISED, shape, 12 + Math.ceil((data.length * bits) / 8));
  view.setFloat32(at, q.min, true);
  view.setFloat32(at + 4, q.step, true);
  out[at + 8] = bits;
  let bit = (at + 12) * 8;
  for (const l of q.levels) {
    for (let b = 0; b < bits; b++, bit++) if ((l >> b) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}

/** A float32 tensor as a sparse frame (dtype 6): its non-zero elements' indices and values, 8 bytes each. */
export function encodeSparse(shape: readonly number[], data: Float32Array): Uint8Array {
  if (sizeOf(shape) !== data.length) throw new CodecError('bad-size', `shape [${shape}] needs ${sizeOf(shape)} elements, data has ${data.length}`);
  const kept: number[] = [];
  data.forEach((v, i) => { if (v !== 0) kept.push(i); });
  const { view, out, at } = newFrame(SPARSE, shape, 4 + 8 * kept.length);
  view.setUint32(at, kept.length, true);
  kept.forEach((i, j) => {
    view.setUint32(at + 4 + 4 * j, i, true);
    view.setFloat32(at + 4 + 4 * kept.length + 4 * j, data[i]!, true);
  });
  return out;
}

/** A received frame as bytes: Node peers get Buffers (Uint8Array views), browsers get ArrayBuffers. */
function asBytes(frame: Uint8Array | ArrayBuffer): Uint8Array {
  if (frame instanceof ArrayBuffer) return new Uint8Array(frame);
  if (!(frame instanceof Uint8Array)) throw new CodecError('not-binary', 'tensor frame must be binary (Uint8Array/Buffer/ArrayBuffer)');
  return frame;
}

/** Reads only the header: dtype and shape, validated against the frame length. */
export function peekHeader(input: Uint8Array | ArrayBuffer): { dtype: WireDtype; shape: number[]; headerLength: number; encoding: FrameEncoding } {
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
  const encoding: FrameEncoding = frame[4] === QUANTISED ? 'quantised' : frame[4] === SPARSE ? 'sparse' : 'dense';
  const carried = frame.byteLength - headerLength;
  const expected = payloadBytes(encoding, sizeOf(shape), dtype, frame, view, headerLength);
  if (carried !== expected)
    throw new CodecError('bad-length', `shape [${shape}] of ${encoding === 'dense' ? dtype : `${encoding} float32`} needs ${expected} payload bytes, frame carries ${carried}`);
  return { dtype, shape, headerLength, encoding };
}

/** Payload bytes a frame of this encoding and element count must carry (reading the sparse count or the bits it declares). */
function payloadBytes(encoding: FrameEncoding, n: number, dtype: WireDtype, frame: Uint8Array, view: DataView, at: number): number {
  if (encoding === 'dense') return n * DTYPE_SIZES[dtype];
  if (frame.byteLength < at + (encoding === 'quantised' ? 12 : 4)) throw new CodecError('truncated', `${encoding} frame ends inside its grid or count`);
  if (encoding === 'quantised') {
    const bits = frame[at + 8]!;
    if (bits < 1 || bits > 16) throw new CodecError('bad-bits', `quantised frame declares ${bits} bits (allowed: 1–16)`);
    return 12 + Math.ceil((n * bits) / 8);
  }
  const k = view.getUint32(at, true);
  if (k > n) throw new CodecError('bad-length', `sparse frame declares ${k} elements of ${n}`);
  return 4 + 8 * k;
}

export function decodeTensor(input: Uint8Array | ArrayBuffer): WireTensor {
  const frame = asBytes(input);
  const { dtype, shape, headerLength, encoding } = peekHeader(frame);
  if (encoding !== 'dense') return { dtype: 'float32', shape, data: decodeCompressed(frame, encoding, sizeOf(shape), headerLength) };
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

function decodeCompressed(frame: Uint8Array, encoding: 'quantised' | 'sparse', n: number, at: number): Float32Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (encoding === 'quantised') {
    const bits = frame[at + 8]!;
    const levels = new Uint32Array(n);
    let bit = (at + 12) * 8;
    for (let i = 0; i < n; i++) for (let b = 0; b < bits; b++, bit++) if ((frame[bit >> 3]! >> (bit & 7)) & 1) levels[i]! |= 1 << b;
    return dequantise({ min: view.getFloat32(at, true), step: view.getFloat32(at + 4, true), levels });
  }
  const k = view.getUint32(at, true);
  const out = new Float32Array(n);
  let last = -1;
  for (let j = 0; j < k; j++) {
    const i = view.getUint32(at + 4 + 4 * j, true);
    if (i <= last || i >= n) throw new CodecError('bad-index', `sparse index ${i} at position ${j} is out of order or outside [0, ${n})`);
    out[i] = view.getFloat32(at + 4 + 4 * k + 4 * j, true);
    last = i;
  }
  return out;
}

/** Index of the first non-finite float, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
