import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CodecError, decodeTensor, dequantise, encodeQuantised, encodeSparse, encodeTensor, headerBytes, peekHeader, quantiseLevels, type WireDtype } from './tensor-codec.ts';
import { sizeOf } from '../model/shape.ts';

const shapeArb = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 5 });
const size = sizeOf;

function dataFor(dtype: WireDtype, n: number, seed: number) {
  switch (dtype) {
    case 'float32':
      return Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed + i) * 1e3));
    case 'int32':
      return Int32Array.from({ length: n }, (_, i) => ((seed * 7919 + i * 104729) | 0) - 2 ** 30);
    case 'uint8':
      return Uint8Array.from({ length: n }, (_, i) => (seed + i) & 0xff);
    case 'bool':
      return Uint8Array.from({ length: n }, (_, i) => (seed + i) & 1);
  }
}

describe('tensor codec', () => {
  it('round-trips every dtype and shape exactly, with frame bytes = raw bytes + a header of 8+4·rank', () => {
    fc.assert(
      fc.property(fc.constantFrom<WireDtype>('float32', 'int32', 'uint8', 'bool'), shapeArb, fc.integer(), (dtype, shape, seed) => {
        const data = dataFor(dtype, size(shape), seed);
        const frame = encodeTensor({ dtype, shape, data });
        expect(frame.byteLength).toBe(data.byteLength + headerBytes(shape.length));
        const back = decodeTensor(frame);
        expect(back.dtype).toBe(dtype);
        expect(back.shape).toEqual(shape);
        expect(Array.from(back.data)).toEqual(Array.from(data));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps NaN, ±Infinity and -0 bit-exact', () => {
    const data = new Float32Array([NaN, Infinity, -Infinity, -0, 1e-45]);
    const back = decodeTensor(encodeTensor({ dtype: 'float32', shape: [5], data }));
    expect(new Uint8Array(back.data.buffer)).toEqual(new Uint8Array(data.buffer));
  });

  it('decodes frames that sit at an unaligned offset inside a larger buffer (as socket.io delivers them)', () => {
    const data = Float32Array.from([1.5, -2.25, 3]);
    const frame = encodeTensor({ dtype: 'float32', shape: [3], data });
    const pool = new Uint8Array(frame.byteLength + 3);
    pool.set(frame, 3);
    const back = decodeTensor(pool.subarray(3));
    expect(Array.from(back.data)).toEqual([1.5, -2.25, 3]);
  });

  it.each([
    ['truncated', new Uint8Array([0x53, 0x46])],
    ['bad-magic', new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0])],
    ['bad-dtype', new Uint8Array([0x53, 0x46, 0x54, 1, 9, 0, 0, 0])],
    ['bad-rank', new Uint8Array([0x53, 0x46, 0x54, 1, 1, 200, 0, 0])],
    ['bad-header', new Uint8Array([0x53, 0x46, 0x54, 1, 1, 0, 1, 0, 0, 0, 0, 0])],
    ['bad-header', new Uint8Array([0x53, 0x46, 0x54, 1, 1, 0, 0, 7, 0, 0, 0, 0])],
  ])('rejects a %s frame with that error code', (code, frame) => {
    expect(() => peekHeader(frame)).toThrow(expect.objectContaining({ code }));
  });

  it('rejects a frame whose byte length disagrees with its declared shape, including huge shapes', () => {
    const frame = encodeTensor({ dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
    expect(() => decodeTensor(frame.subarray(0, frame.byteLength - 1))).toThrow(CodecError);
    const huge = frame.slice();
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    expect(() => decodeTensor(huge)).toThrow(/needs .* payload bytes/);
  });
});

describe('compressed float32 frames (smashed-data defences)', () => {
  const values = (n: number) => fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a));

  it('quantised frames round-trip to the dequantised grid, bit-packed (property over bits and values)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 40 }).chain((n) => values(n)), (bits, v) => {
      const f = encodeQuantised([v.length], v, bits);
      expect(f.byteLength).toBe(headerBytes(1) + 12 + Math.ceil((v.length * bits) / 8));
      expect(peekHeader(f)).toMatchObject({ dtype: 'float32', shape: [v.length], encoding: 'quantised' });
      expect(decodeTensor(f).data).toEqual(dequantise(quantiseLevels(v, bits)));
    }));
  });

  it('sparse frames round-trip exactly, 8 bytes per non-zero (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }).chain((n) => values(n)), (v) => {
      v.forEach((x, i) => { if (i % 3 === 0) v[i] = 0; });
      const f = encodeSparse([v.length], v);
      const nonZero = v.filter((x) => x !== 0).length;
      expect(f.byteLength).toBe(headerBytes(1) + 4 + 8 * nonZero);
      expect(decodeTensor(f).data).toEqual(Float32Array.from(v, (x) => (x === 0 ? 0 : x)));
    }));
  });

  it('rejects malformed compressed frames with a stable code', () => {
    const code = (f: Uint8Array) => { try { decodeTensor(f); return 'ok'; } catch (e) { return (e as CodecError).code; } };
    const q = encodeQuantised([4], Float32Array.of(0, 1, 2, 3), 2);
    const badBits = q.slice(); badBits[headerBytes(1) + 8] = 17;
    expect(code(badBits)).toBe('bad-bits');
    expect(code(q.subarray(0, q.byteLength - 1))).toBe('bad-length');
    const sp = encodeSparse([4], Float32Array.of(0, 5, 0, 7));
    const swapped = sp.slice();
    new DataView(swapped.buffer).setUint32(headerBytes(1) + 4, 3, true); // indices 3, 3: out of order
    expect(code(swapped)).toBe('bad-index');
    const tooMany = sp.slice();
    new DataView(tooMany.buffer).setUint32(headerBytes(1), 9, true);
    expect(code(tooMany)).toBe('bad-length');
  });
});
