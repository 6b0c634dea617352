import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDiff, readCompared } from './compare.ts';

describe('compare', () => {
  it('lists exactly the options whose values differ, one value per run', () => {
    const a = { seed: 1, training: { mode: 'local', rounds: 3 }, attack: { baselines: ['noise'] } };
    const b = { seed: 2, training: { mode: 'local', rounds: 3 }, attack: { baselines: ['noise', 'whitebox'] } };
    const c = { seed: 1, training: { mode: 'local', rounds: 3 }, attack: { baselines: ['noise'] }, extra: true };
    expect(configDiff([a, b, c])).toEqual([
      ['attack.baselines', ['["noise"]', '["noise","whitebox"]', '["noise"]']],
      ['extra', ['–', '–', 'true']],
      ['seed', ['1', '2', '1']],
    ]);
    expect(configDiff([a, a])).toEqual([]);
  });

  it('refuses fewer than two directories and a directory that is neither a run nor a study', () => {
    expect(() => readCompared(['x'])).toThrow('compare: 1 directory given; needs at least 2 runs or studies');
    const empty = mkdtempSync(join(tmpdir(), 'sf-compare-'));
    expect(() => readCompared([empty, empty])).toThrow(/neither a run directory \(results.json\) nor a study directory \(study.json\)/);
  });
});
