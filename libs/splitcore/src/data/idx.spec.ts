import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeIdx, gather, parseCifar10, parseIdx, parseIdxLabels, pixelAt } from './idx.ts';

describe('IDX reader', () => {
  it('parses images and labels and scales pixels to [0, 1]', () => {
    const px = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 14);
    const set = parseIdx(encodeIdx('images', [2, 3, 3], px), encodeIdx('labels', [2], Uint8Array.from([7, 2])));
    expect(set.count).toBe(2);
    expect(set.shape).toEqual([3, 3, 1]);
    expect(Array.from(set.labels)).toEqual([7, 2]);
    expect(pixelAt(set, 1)).toBeCloseTo(14 / 255, 6);
    expect(Math.max(...gather(set, [0, 1]).x)).toBeLessThanOrEqual(1);
    expect(gather(set, [1]).y[0]).toBe(2);
    // labels only (a server that trains on no image): the same labels and count, no pixels, labels still checked
    const labelsOnly = parseIdxLabels(encodeIdx('labels', [2], Uint8Array.from([7, 2])), [3, 3, 1]);
    expect({ count: labelsOnly.count, labels: Array.from(labelsOnly.labels), pixels: labelsOnly.images.length, shape: labelsOnly.shape }).toEqual({ count: 2, labels: [7, 2], pixels: 0, shape: [3, 3, 1] });
    expect(() => parseIdxLabels(encodeIdx('labels', [1], Uint8Array.from([12])), [3, 3, 1])).toThrow(/label 12 at index 0 is outside \[0, 10\)/);
  });

  it('keeps the file\'s bytes, and gathers exactly the float32 pixels byte / 255 a float32 copy held', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4 * 9, maxLength: 4 * 9 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 6 }), (px, idx) => {
        const set = parseIdx(encodeIdx('images', [4, 3, 3], px), encodeIdx('labels', [4], new Uint8Array(4)));
        expect(set.images).toBeInstanceOf(Uint8Array);
        const floats = { ...set, images: Float32Array.from(px, (b) => b / 255) };
        expect(gather(set, idx).x).toEqual(gather(floats, idx).x);
        expect(Array.from(px, (_, k) => pixelAt(set, k))).toEqual(Array.from(floats.images));
      }),
    );
  });

  it('explains a wrong magic (e.g. a still-gzipped file) and a short file', () => {
    const lab = encodeIdx('labels', [1], Uint8Array.from([0]));
    expect(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0]), lab)).toThrow(/IDX magic 0x1f8b0800 is not 0x00000803/);
    const img = encodeIdx('images', [1, 2, 2], new Uint8Array(4));
    expect(() => parseIdx(img.subarray(0, img.length - 1), lab)).toThrow(/header says 4 bytes/);
    expect(() => parseIdx(img, encodeIdx('labels', [1], Uint8Array.from([12])))).toThrow(/label 12 at index 0 is outside \[0, 10\)/);
  });
});

describe('CIFAR-10 binary reader', () => {
  it('reads a generated batch and converts channel-major records to channels-last', () => {
    const rec = new Uint8Array(2 * 3073);
    rec[0] = 3;
    rec[1] = 255; // R of pixel 0
    rec[1 + 1024] = 51; // G of pixel 0
    rec[1 + 2048 + 5] = 102; // B of pixel 5
    rec[3073] = 9;
    const set = parseCifar10([rec]);
    expect(set.count).toBe(2);
    expect(Array.from(set.labels)).toEqual([3, 9]);
    expect(pixelAt(set, 0)).toBe(1);
    expect(pixelAt(set, 1)).toBeCloseTo(0.2, 6);
    expect(pixelAt(set, 5 * 3 + 2)).toBeCloseTo(0.4, 6);
    expect(() => parseCifar10([rec.subarray(1)])).toThrow(/not a multiple of the 3073-byte record/);
  });
});
