import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { evalResultProblem, roundDoneProblem } from './claims.ts';

describe('client claims are bounded by what the server assigned and served', () => {
  const served = { steps: 4, samples: 60 };
  const honest = { steps: 4, samples: 60, lossSum: 130.2, computeMs: 812 };

  it('an honest roundDone passes; inflated samples, other step counts and impossible losses do not', () => {
    expect(roundDoneProblem(honest, served, 4)).toBeNull();
    expect(roundDoneProblem({ ...honest, samples: 1e15 }, served, 4)).toMatch(/samples 1000000000000000 but the server served 60 rows/);
    expect(roundDoneProblem({ ...honest, steps: 43 }, served, 4)).toMatch(/steps 43/);
    expect(roundDoneProblem({ ...honest, lossSum: -1e300 }, served, 4)).toMatch(/lossSum/);
    expect(roundDoneProblem({ ...honest, lossSum: NaN }, served, 4)).toMatch(/lossSum/);
    // an empty roundDone right after roundStart: nothing served yet, but the claim matches that
    expect(roundDoneProblem({ ...honest, steps: 0, samples: 0 }, { steps: 0, samples: 0 }, 4)).toMatch(/assigned 4 and served 0/);
  });

  it('any roundDone whose counts differ from what was served is refused', () => {
    fc.assert(fc.property(fc.nat(100), fc.nat(10_000), (steps, samples) => {
      fc.pre(steps !== served.steps || samples !== served.samples);
      expect(roundDoneProblem({ ...honest, steps, samples }, served, 4)).not.toBeNull();
    }));
  });

  const assigned = { samples: 10, totalByClass: [6, 4] };
  const ok = { samples: 10, lossSum: 7.5, correctByClass: [5, 2], totalByClass: [6, 4] };

  it('an honest evalDone passes; accuracy above 100 %, zero samples and foreign class totals do not', () => {
    expect(evalResultProblem(ok, assigned)).toBeNull();
    expect(evalResultProblem({ ...ok, samples: 1, correctByClass: [1000, 0] }, assigned)).toMatch(/samples 1 but the server assigned 10/);
    expect(evalResultProblem({ ...ok, correctByClass: [1000, 0] }, assigned)).toMatch(/correctByClass\[0\] 1000 is outside \[0, 6\]/);
    expect(evalResultProblem({ ...ok, samples: 0 }, assigned)).toMatch(/samples 0/);
    expect(evalResultProblem({ ...ok, totalByClass: [5, 5] }, assigned)).toMatch(/totalByClass\[0\]/);
    expect(evalResultProblem({ ...ok, correctByClass: [1, 1, 1], totalByClass: [6, 4, 0] }, assigned)).toMatch(/2 entries/);
    expect(evalResultProblem({ ...ok, lossSum: -1 }, assigned)).toMatch(/lossSum/);
  });

  it('whatever passes yields an accuracy in [0, 1] and a finite loss', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -5, max: 20 }), { minLength: 2, maxLength: 2 }), fc.double(), (correct, lossSum) => {
      const m = { ...ok, correctByClass: correct, lossSum };
      if (evalResultProblem(m, assigned) !== null) return;
      const acc = correct.reduce((a, b) => a + b, 0) / m.samples;
      expect(acc).toBeGreaterThanOrEqual(0);
      expect(acc).toBeLessThanOrEqual(1);
      expect(Number.isFinite(lossSum)).toBe(true);
    }));
  });
});
