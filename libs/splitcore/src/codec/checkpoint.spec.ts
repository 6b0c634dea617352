import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, observationsFrom, observationTensors, tensorsToWeights, weightsToTensors } from './checkpoint.ts';
import type { WireTensor } from './tensor-codec.ts';

describe('checkpoint format', () => {
  it('starts with the magic and the header length, little-endian (the format older runs wrote)', () => {
    const bytes = encodeCheckpoint({ a: 1 }, { x: { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) } });
    expect(String.fromCharCode(...bytes.subarray(0, 5))).toBe('SFCK1');
    const json = '{"meta":{"a":1},"index":[{"name":"x","offset":0,"length":' ;
    const len = new DataView(bytes.buffer).getUint32(5, true);
    expect(new TextDecoder().decode(bytes.subarray(9, 9 + len)).startsWith(json)).toBe(true);
  });

  it('round-trips metadata and float32/int32 tensors of any shape', () => {
    const tensor = fc.oneof(
      fc.array(fc.float({ noNaN: true }), { maxLength: 12 }).map((v): WireTensor => ({ dtype: 'float32', shape: [v.length], data: Float32Array.from(v) })),
      fc.array(fc.integer({ min: -1e6, max: 1e6 }), { maxLength: 12 }).map((v): WireTensor => ({ dtype: 'int32', shape: [1, v.length], data: Int32Array.from(v) })),
    );
    fc.assert(fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tensor, { maxKeys: 5 }), fc.jsonValue(), (tensors, meta) => {
      const back = decodeCheckpoint(encodeCheckpoint(meta, tensors));
      expect(back.meta).toEqual(JSON.parse(JSON.stringify(meta ?? null)));
      expect([...back.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
      for (const [k, t] of Object.entries(tensors)) {
        expect(back.tensors.get(k)!.shape).toEqual(t.shape);
        expect(Array.from(back.tensors.get(k)!.data)).toEqual(Array.from(t.data));
      }
    }));
  });

  it('weights and observations come back as they went in', () => {
    const w = [{ name: 'k', shape: [2, 1], values: Float32Array.of(1, 2) }, { name: 'b', shape: [1], values: Float32Array.of(3) }];
    const obs = [{ clientId: 2, round: 1, step: 4, batch: 1, z: Float32Array.of(5, 6), gm: Float32Array.of(7) }];
    const o = observationTensors(obs);
    const back = decodeCheckpoint<{ observed: typeof o.meta }>(encodeCheckpoint({ observed: o.meta }, { ...weightsToTensors('m', w), ...o.tensors }));
    expect(tensorsToWeights('m', back.tensors, ['k', 'b'])).toEqual(w);
    expect(observationsFrom(back.meta.observed, back.tensors)).toEqual(obs);
  });

  it('refuses what is not a checkpoint, a truncated one, and a missing tensor with a CheckpointError', () => {
    const good = encodeCheckpoint({}, { x: { dtype: 'float32', shape: [4], data: new Float32Array(4) } });
    expect(() => decodeCheckpoint(new TextEncoder().encode('hello world'), 'f')).toThrow(new CheckpointError('f is not a splitfleet checkpoint'));
    expect(() => decodeCheckpoint(good.subarray(0, good.length - 3), 'f')).toThrow(/f is truncated \(tensor x\)/);
    expect(() => decodeCheckpoint(good.subarray(0, 12), 'f')).toThrow(/truncated \(header/);
    expect(() => tensorsToWeights('m', decodeCheckpoint(good).tensors, ['k'])).toThrow(/lacks m\/0/);
  });
});
