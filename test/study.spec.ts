import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PooledRow } from '../apps/server/src/sweep/pool.ts';

// A study end to end: `splitfleet study` with two training seeds × two attacker seeds runs real
// training and attack processes, shares each training run between its attacker seeds, and pools the
// grid point's four runs into study.md / study.json with intervals.
const CLI = 'apps/server/src/cli/cli.ts';

describe('splitfleet study', () => {
  it('runs every seed combination once, shares training between attacker seeds and pools the runs with intervals', () => {
    const root = mkdtempSync(join(tmpdir(), 'sf-study-'));
    const file = join(root, 'study.json');
    writeFileSync(file, JSON.stringify({
      base: {
        fleet: { clients: 2, workers: 1, backend: 'wasm' }, training: { rounds: 1, batchSize: 16, maxStepsPerRound: 3 }, data: { testSamples: 100 },
        attack: { method: 'spadv', aux: { size: 32, holdout: 200 }, observe: { batches: 4 }, shadow: { steps: 5 }, craft: ['pgd'], epsilon: 0.1, steps: 2, evalSlice: 'eval', evalSamples: 20, baselines: ['whitebox', 'noise'] },
      },
      seeds: [1, 2], auxSeeds: [5, 6],
    }));
    const out = join(root, 'out');
    const r = spawnSync(process.execPath, [CLI, 'study', '--config', file, '--out', out, '--quiet'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('pooled over seeds with 95 % intervals');
    const dirs = readdirSync(out);
    expect(dirs.filter((d) => d.startsWith('train-'))).toHaveLength(2); // one training run per training seed
    const rows = JSON.parse(readFileSync(join(out, 'study.json'), 'utf8')) as PooledRow[];
    const spadv = rows.find((x) => x.method === 'spadv-pgd')!;
    expect(spadv).toMatchObject({ settings: {}, objective: 'observe', epsilon: 0.1, runs: 4, trainingRuns: 2 });
    expect(spadv.asr!.low).toBeLessThanOrEqual(spadv.asr!.estimate + 1e-12);
    expect(spadv.asr!.high).toBeGreaterThanOrEqual(spadv.asr!.low);
    expect(rows.map((x) => x.method).sort()).toEqual(['noise', 'spadv-pgd', 'whitebox-pgd']);
    expect(readFileSync(join(out, 'study.md'), 'utf8')).toMatch(/\| observe \| 0\.1 \| spadv-pgd \| 4 \(2 trained, \d+ images\) \|/);
    // a seeds-only study still draws the pooled error bars and every run's clients against H(client, D_aux)
    const html = readFileSync(join(out, 'sweep.html'), 'utf8');
    expect(html).toContain('with 95 % intervals over seeds and images (4 runs per point)');
    expect(html).toMatch(/SPADV success per client vs the Hellinger distance .*\(8 clients over all runs/);
  });
});
