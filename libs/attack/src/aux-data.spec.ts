import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AttackSetupError, attackerPool, drawOutOfDistribution } from './aux-data.ts';

describe('the attacker pool of a finished run', () => {
  it('is the held-out pool the run recorded', () => {
    expect(attackerPool([4, 9, 12])).toEqual([4, 9, 12]);
  });

  it('is refused, with one line saying why, when the run held out nothing (never the clients’ training data)', () => {
    for (const heldOut of [[], undefined]) {
      expect(() => attackerPool(heldOut)).toThrow(AttackSetupError);
      // one line: no newline anywhere between the anchors
      expect(() => attackerPool(heldOut)).toThrow(/^this run held out no attacker data [^\n]*attack\.method=spadv[^\n]*$/);
    }
  });

  it('draws out-of-distribution D_aux uniformly without replacement, seeded, within the other set only', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: 1e6 }), (count, seed) => {
        const size = Math.max(1, Math.floor(count / 3));
        const a = drawOutOfDistribution(count, size, seed);
        expect(a.indices).toEqual(drawOutOfDistribution(count, size, seed).indices);
        expect(new Set(a.indices).size).toBe(size);
        expect(a.indices.every((i) => Number.isInteger(i) && i >= 0 && i < count)).toBe(true);
        expect(a.classShare).toEqual([]);
      }),
    );
    expect(() => drawOutOfDistribution(10, 11, 1)).toThrow(/attack.aux.size \(11\) must be ≤ the 10 images of attack.aux.dataset/);
  });
});
