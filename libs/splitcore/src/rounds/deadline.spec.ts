import { describe, expect, it } from 'vitest';
import { cnnSmall } from '../model/zoo.ts';
import { split } from '../model/split.ts';
import { headerBytes } from '../codec/tensor-codec.ts';
import { predictRoundSeconds, predictTraffic, secondsPerStepOf } from './deadline.ts';
import { selectClients } from './selection.ts';
import { ClientDefences } from '../defence/client-defence.ts';
import { DefenceConfigSchema } from '../defence/spec.ts';

const tripsOf = (d: unknown) => new ClientDefences(DefenceConfigSchema.parse(d), 10).roundTripsPerStep();

const profile = { computeSlowdown: 2, uplinkMbps: 8, downlinkMbps: 16, latencyMs: 10, dropoutProbability: 0, tier: 'test' };

describe('deadline prediction', () => {
  it("predicts a step's traffic as the product of the smashed and output shapes (cnn-small, batch 16: 16 × (14·14·32 + 128) floats each way)", () => {
    const s = split(cnnSmall, cnnSmall.defaultCut, 1);
    const t = predictTraffic({ smashed: s.middle.inputShape, middleOut: s.middle.outputShape }, 16, 1);
    const floats = 16 * (s.middle.inputShape.reduce((a, b) => a * b, 1) + s.middle.outputShape.reduce((a, b) => a * b, 1));
    expect(t.bytesUp).toBe(4 * floats + headerBytes(s.middle.inputShape.length + 1) + headerBytes(s.middle.outputShape.length + 1));
    expect(t.bytesDown).toBe(t.bytesUp);
    expect(t.messages).toBe(4);
    // the old estimate summed the dimensions: 34× too small for this model
    const summed = 16 * 4 * (s.middle.inputShape.reduce((a, b) => a + b, 1) + s.middle.outputShape.reduce((a, b) => a + b, 1));
    expect(t.bytesUp / summed).toBeGreaterThan(30);
  });

  it('adds compute × slowdown, bytes over each link and one latency per message', () => {
    const shapes = { smashed: [10], middleOut: [2] };
    const t = predictTraffic(shapes, 1, 3);
    const expected = 0.5 * 3 * 2 + (t.bytesUp * 8) / 8e6 + (t.bytesDown * 8) / 16e6 + (12 * 10) / 1000;
    expect(predictRoundSeconds(profile, 0.5, shapes, 1, 3)).toBeCloseTo(expected, 12);
  });

  it('charges adversarial training’s extra forward/backward trips: (1 + PGD steps)× the bytes, messages and link time', () => {
    const shapes = { smashed: [10], middleOut: [2] };
    const plain = predictTraffic(shapes, 4, 5);
    const crafted = predictTraffic(shapes, 4, 5, tripsOf({ kind: 'adversarial', epsilon: 0.1, steps: 3 }));
    expect(crafted).toEqual({ bytesUp: 4 * plain.bytesUp, bytesDown: 4 * plain.bytesDown, messages: 4 * plain.messages });
    expect(tripsOf({ kind: 'maxnorm', strength: 1 })).toBe(1);
    expect(tripsOf({ kind: 'adversarial', epsilon: 0, steps: 3 })).toBe(1); // ε = 0 is the identity: no crafting
    expect(predictRoundSeconds(profile, 0, shapes, 4, 5, 4)).toBeGreaterThan(3.9 * predictRoundSeconds(profile, 0, shapes, 4, 5));
  });

  it("uses a client's own measured seconds per step, else the fleet's median, else zero", () => {
    expect(secondsPerStepOf(1, new Map([[1, 0.3], [2, 9]]))).toBe(0.3);
    expect(secondsPerStepOf(7, new Map([[1, 1], [2, 3], [3, 2]]))).toBe(2);
    expect(secondsPerStepOf(7, new Map())).toBe(0);
  });

  it('leaves out as stragglers exactly the sampled clients predicted past the deadline', () => {
    const profiles = [0, 1, 2, 3].map(() => ({ ...profile }));
    const sel = selectClients({ connected: [0, 1, 2, 3], profiles, round: 0, seed: 1, sample: 1, deadlineSeconds: 5, predictSeconds: (id) => id * 2 });
    expect(sel.stragglers).toEqual([3]);
    expect(sel.selected).toEqual([0, 1, 2]);
    expect(sel.notSelected).toEqual([]);
    const none = selectClients({ connected: [0, 1, 2, 3], profiles, round: 0, seed: 1, sample: 2, deadlineSeconds: null, predictSeconds: () => 1e9 });
    expect(none.selected).toHaveLength(2);
    expect(none.notSelected).toHaveLength(2);
  });
});
