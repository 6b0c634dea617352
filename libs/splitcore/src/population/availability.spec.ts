import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AvailabilitySchema, isOnline } from './availability.ts';
import { selectClients } from '../rounds/selection.ts';

describe('generated availability (fleet.availability)', () => {
  const diurnal = (period: number, online: number) => AvailabilitySchema.parse({ kind: 'diurnal', period, online });

  it('each client is online for `online` of every day, in one window, the same for the same seed (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 48 }), fc.double({ min: 0.05, max: 1, noNaN: true }), fc.integer({ min: 0, max: 10_000 }), fc.integer(), (period, online, id, seed) => {
      const a = diurnal(period, online);
      const day = Array.from({ length: period }, (_, r) => isOnline(a, seed, id, r));
      const on = day.filter(Boolean).length;
      // the window covers online·period rounds, give or take the one it starts or ends in
      expect(Math.abs(on - online * period)).toBeLessThanOrEqual(1);
      // one window: at most one off→on switch around the day (cyclically)
      expect(day.filter((v, r) => v && !day[(r + period - 1) % period]).length).toBeLessThanOrEqual(1);
      // the next day repeats it; another call gives the same answer
      expect(Array.from({ length: period }, (_, r) => isOnline(a, seed, id, r + period))).toEqual(day);
    }), { numRuns: 60 });
  });

  it('phases spread over the day: at every round about `online` of 100,000 clients are on, with no per-client state', () => {
    const a = diurnal(24, 0.25);
    for (const round of [0, 7, 13]) {
      let on = 0;
      for (let id = 0; id < 100_000; id++) if (isOnline(a, 3, id, round)) on++;
      expect(on / 100_000).toBeGreaterThan(0.24);
      expect(on / 100_000).toBeLessThan(0.26);
    }
  });

  it('selection leaves offline clients out; always-on is the default', () => {
    const profile = { computeSlowdown: 1, uplinkMbps: 1, downlinkMbps: 1, latencyMs: 0, dropoutProbability: 0, tier: 'lan' };
    const connected = Array.from({ length: 200 }, (_, i) => i);
    const inputs = { connected, profiles: connected.map(() => profile), round: 5, seed: 1, sample: 1, deadlineSeconds: null, predictSeconds: () => 0 };
    expect(selectClients(inputs).selected).toEqual(connected);
    const a = diurnal(10, 0.3);
    const s = selectClients({ ...inputs, availability: a });
    expect(s.selected).toEqual(connected.filter((id) => isOnline(a, 1, id, 5)));
    expect(s.selected.length).toBeGreaterThan(30);
    expect(s.selected.length).toBeLessThan(90);
  });

  it('refuses a day shorter than 2 rounds and an online fraction outside (0, 1]', () => {
    expect(AvailabilitySchema.safeParse({ kind: 'diurnal', period: 1 }).success).toBe(false);
    expect(AvailabilitySchema.safeParse({ kind: 'diurnal', online: 0 }).success).toBe(false);
    expect(AvailabilitySchema.parse({ kind: 'diurnal' })).toEqual({ kind: 'diurnal', period: 24, online: 0.5 });
  });
});
