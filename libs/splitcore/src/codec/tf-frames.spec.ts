import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { framesToWeights, weightsToFrames } from './tf-frames.ts';
import { encodeTensor } from './tensor-codec.ts';
import type { ParamShape } from '../model/spec.ts';

const shapesArb = fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 40 });
const paramsOf = (shapes: number[][]): ParamShape[] => shapes.map((shape, i) => ({ name: `p${i}`, shape, fanIn: 0, fanOut: 0 }));
const weightsOf = (params: ParamShape[]) =>
  params.map((p, i) => ({ name: p.name, shape: p.shape, values: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, (_, j) => i + j / 8) }));

describe('weights frames', () => {
  it('pack any number of arrays into one frame (socket.io allows 10 attachments) and unpack them exactly', () => {
    fc.assert(
      fc.property(shapesArb, (shapes) => {
        const params = paramsOf(shapes);
        const w = weightsOf(params);
        const frames = weightsToFrames(w);
        expect(frames).toHaveLength(1);
        expect(framesToWeights(frames, params)).toEqual(w);
      }),
    );
  });

  it('refuse a frame whose size does not match the parameters, or a non-finite value, naming the array', () => {
    const params = paramsOf([[2, 2], [3]]);
    const w = weightsOf(params);
    expect(() => framesToWeights(weightsToFrames(w), paramsOf([[2, 2], [4]]))).toThrow(/expected \[8\] values \(2 arrays\), got \[7\]/);
    expect(() => framesToWeights([...weightsToFrames(w), ...weightsToFrames(w)], params)).toThrow(/expected 1 weights frame/);
    const bad = Float32Array.of(0, 0, 0, 0, 0, NaN, 0);
    expect(() => framesToWeights([encodeTensor({ dtype: 'float32', shape: [7], data: bad })], params)).toThrow(/p1: non-finite value at 1/);
  });
});
