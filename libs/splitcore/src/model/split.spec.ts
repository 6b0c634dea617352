import { describe, expect, it } from 'vitest';
import { split, validateCut } from './split.ts';
import { forwardFlopsPerSample, trainingFlopsPerSample } from './flops.ts';
import { cnnSmall, vggMini } from './zoo.ts';

describe('split', () => {
  it('cuts cnn-small at every legal position, chaining shapes head → middle → tail', () => {
    let legal = 0;
    for (let h = 1; h < cnnSmall.layers.length; h++)
      for (let t = h + 1; t < cnnSmall.layers.length; t++) {
        const s = split(cnnSmall, { headEnd: h, tailStart: t }, 1);
        expect(s.middle.inputShape).toEqual(s.head.outputShape);
        expect(s.tail.inputShape).toEqual(s.middle.outputShape);
        expect(s.tail.outputShape).toEqual([10]);
        legal++;
      }
    // ≥ 3 cut positions on each side
    expect(new Set(Array.from({ length: cnnSmall.layers.length - 2 }, (_, i) => i + 1)).size).toBeGreaterThanOrEqual(3);
    expect(legal).toBeGreaterThanOrEqual(6);
  });

  it('gives the default cnn-small cut a 14×14×32 smashed data and a dense tail', () => {
    const s = split(cnnSmall, cnnSmall.defaultCut, 1);
    expect(s.head.outputShape).toEqual([14, 14, 32]);
    expect(s.tail.layers.map((l) => l.spec.kind)).toEqual(['dense']);
  });

  it('builds the deeper vgg-mini for 32×32×3', () => {
    const s = split(vggMini, vggMini.defaultCut, 1);
    expect(s.head.inputShape).toEqual([32, 32, 3]);
    expect(s.tail.outputShape).toEqual([10]);
  });

  it('initialises weights deterministically from the seed', () => {
    const a = split(cnnSmall, cnnSmall.defaultCut, 5);
    const b = split(cnnSmall, cnnSmall.defaultCut, 5);
    const c = split(cnnSmall, cnnSmall.defaultCut, 6);
    expect(a.init.middle[0]!.values).toEqual(b.init.middle[0]!.values);
    expect(a.init.middle[0]!.values).not.toEqual(c.init.middle[0]!.values);
    // Glorot-uniform bound and zero bias
    const k = a.init.head[0]!;
    const limit = Math.sqrt(6 / (9 + 9 * 32));
    expect(Math.max(...k.values.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(a.init.head[1]!.values.every((v) => v === 0)).toBe(true);
  });

  it.each([
    [{ headEnd: 0, tailStart: 3 }, /headEnd must be an integer in \[1, 4\]/],
    [{ headEnd: 3, tailStart: 3 }, /tailStart must be an integer in \[headEnd\+1=4, 5\]/],
    [{ headEnd: 2, tailStart: 6 }, /tailStart/],
  ])('rejects the illegal cut %o naming the allowed range', (cut, msg) => {
    expect(() => validateCut(cnnSmall, cut)).toThrow(msg);
  });
});

describe('FLOP counts', () => {
  it('cnn-small forward FLOPs match the hand count (conv1, conv2, fc1, fc2 multiply-adds × 2)', () => {
    const macs = 28 * 28 * 32 * 9 * 1 + 14 * 14 * 64 * 9 * 32 + 3136 * 128 + 128 * 10;
    expect(forwardFlopsPerSample(cnnSmall)).toBe(2 * macs);
    expect(trainingFlopsPerSample(cnnSmall)).toBe(6 * macs);
  });
});
