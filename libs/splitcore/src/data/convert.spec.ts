import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { convertImages } from './convert.ts';
import type { ImageSet } from './idx.ts';

const setOf = (shape: [number, number, number], pixels: number[]): ImageSet => ({
  images: Float32Array.from(pixels), labels: new Int32Array(pixels.length / (shape[0] * shape[1] * shape[2])), count: pixels.length / (shape[0] * shape[1] * shape[2]), shape, classes: 10,
});

describe('convertImages (out-of-distribution attacker data to the clients\' input shape)', () => {
  it('keeps pixels in [0, 1] and a flat image flat, for any resize and 1 ↔ 3 channel change', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.constantFrom(1, 3), fc.constantFrom(1, 3), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }),
        fc.float({ min: 0, max: 1, noNaN: true }),
        (H, W, C, c, h, w, v) => {
          const flat = convertImages(setOf([H, W, C], new Array(H * W * C).fill(v)), [h, w, c]);
          expect(flat.shape).toEqual([h, w, c]);
          for (const p of flat.images) expect(Math.abs(p - v)).toBeLessThan(1e-5);
          const noisy = convertImages(setOf([H, W, C], Array.from({ length: H * W * C }, (_, i) => (i * 0.37) % 1)), [h, w, c]);
          expect(noisy.images.every((p) => p >= 0 && p <= 1)).toBe(true);
        },
      ),
    );
  });

  it('copies grey into RGB, takes BT.601 luminance of RGB, and returns a set already in shape unchanged', () => {
    const grey = setOf([1, 2, 1], [0.2, 0.8]);
    expect(Array.from(convertImages(grey, [1, 2, 3]).images)).toEqual([0.2, 0.2, 0.2, 0.8, 0.8, 0.8].map(Math.fround));
    expect(convertImages(setOf([1, 1, 3], [1, 0, 0]), [1, 1, 1]).images[0]).toBeCloseTo(0.299, 6);
    expect(convertImages(grey, [1, 2, 1])).toBe(grey);
  });

  it('refuses, naming both shapes, what it cannot convert', () => {
    expect(() => convertImages(setOf([2, 2, 4], new Array(16).fill(0)), [2, 2, 3])).toThrow('cannot convert [2,2,4] images to [2,2,3]: channels 4 → 3 (only 1 ↔ 3 and equal counts are converted)');
    expect(() => convertImages(setOf([2, 2, 1], new Array(4).fill(0)), [10])).toThrow("cannot convert [2,2,1] images to [10]: the model's input is not an [h, w, c] image");
  });
});
