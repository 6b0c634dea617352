import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@splitfleet/splitcore';
import { readResults } from '../apps/server/src/experiment/results.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'apps', 'server', 'src', 'cli', 'cli.ts');

/** A CIFAR-10 binary batch of `n` records (label byte + 3072 channel-major bytes), each class its own tint plus noise. */
function cifarBatch(n: number, seed: number): Uint8Array {
  const r = Rng.fromSeed(seed);
  const out = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    const label = i % 10;
    out[i * 3073] = label;
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < 1024; p++) out[i * 3073 + 1 + c * 1024 + p] = Math.min(255, Math.floor(((label * (c + 3)) % 10) * 20 + r.float() * 60));
  }
  return out;
}

describe('CIFAR-10 with the authors\' ResNet-18', () => {
  it('examples/cifar10-resnet18.yaml trains and evaluates on a CIFAR-format directory through the CLI (generated data, a few steps)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'splitfleet-cifar-'));
    writeFileSync(join(dir, 'data_batch_1.bin'), cifarBatch(120, 1));
    writeFileSync(join(dir, 'test_batch.bin'), cifarBatch(20, 2));
    const out = join(dir, 'run');
    const set = (kv: string) => ['--set', kv];
    const r = spawnSync(process.execPath, [
      CLI, 'run', '--config', join(ROOT, 'examples', 'cifar10-resnet18.yaml'), '--quiet', '--out', out,
      ...set(`data.dir=${dir}`), ...set('data.testSamples=16'), ...set('partition={kind: iid}'), ...set('fleet.clients=2'), ...set('fleet.workers=1'),
      ...set('fleet.backend=wasm'), ...set('training.rounds=1'), ...set('training.batchSize=8'), ...set('training.maxStepsPerRound=2'),
    ], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = readResults(out);
    expect(res.config.model).toMatchObject({ name: 'resnet-18', cut: 'split-3' });
    expect(res.rounds).toHaveLength(1);
    expect(res.rounds[0]!.clients.map((c) => c.steps)).toEqual([2, 2]);
    expect(res.rounds[0]!.testAccuracy).toBeGreaterThanOrEqual(0);
  });
});
