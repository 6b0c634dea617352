import { describe, expect, it } from 'vitest';
import { AttackSetupError, attackerPool } from './aux-data.ts';

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
});
