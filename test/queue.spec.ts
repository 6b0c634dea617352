import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './helpers.ts';

// Sweeps on BullMQ: Debian's redis-server on a free loopback port, real `splitfleet worker` and
// `splitfleet sweep --queue` processes.
const CLI = 'apps/server/src/cli/cli.ts';
const root = mkdtempSync(join(tmpdir(), 'sf-queue-'));
let redis: ChildProcess;
let url = '';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Proc { child: ChildProcess; out: string[]; exited: Promise<number | null> }
function cli(args: string[]): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const take = (b: Buffer) => out.push(...b.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return { child, out, exited: new Promise((r) => child.once('exit', (c) => r(c))) };
}
const started = (p: Proc) => p.out.filter((l) => / started /.test(l)).map((l) => / job (\w+) started/.exec(l)![1]!);
const finished = (p: Proc) => p.out.filter((l) => / done$/.test(l)).map((l) => / job (\w+) done/.exec(l)![1]!);
function sweepFile(name: string, seeds: number[]): string {
  const f = join(root, `${name}.json`);
  writeFileSync(f, JSON.stringify({
    base: { fleet: { clients: 2, workers: 1, backend: 'wasm' }, training: { rounds: 1, batchSize: 16, maxStepsPerRound: 2 }, data: { testSamples: 100 } },
    grid: { seed: seeds },
  }));
  return f;
}

beforeAll(async () => {
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  // ready when it accepts connections
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = createConnection(port, '127.0.0.1', () => { s.end(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(() => {
  redis?.kill('SIGKILL');
});

describe('sweeps on a BullMQ queue', () => {
  it('two workers share a 6-point sweep and every point runs exactly once; re-submitting runs nothing', async () => {
    const f = sweepFile('six', [1, 2, 3, 4, 5, 6]);
    const a = cli(['worker', '--queue', url, '--out', join(root, 'wa'), '--lock-seconds', '30']);
    const b = cli(['worker', '--queue', url, '--out', join(root, 'wb'), '--lock-seconds', '30']);
    try {
      const sub = cli(['sweep', '--config', f, '--out', join(root, 'six'), '--queue', url]);
      expect(await sub.exited, sub.out.join('\n')).toBe(0);
      const ran = [...finished(a), ...finished(b)].sort();
      expect(ran).toHaveLength(6);
      expect(new Set(ran).size).toBe(6); // none twice
      expect(started(a).length).toBeGreaterThan(0); // both took work
      expect(started(b).length).toBeGreaterThan(0);
      const csv = readFileSync(join(root, 'six', 'sweep.csv'), 'utf8').trim().split('\n');
      expect(csv).toHaveLength(7); // header + 6 points
      // re-submission: all six are done, nothing is queued or run again
      const again = cli(['sweep', '--config', f, '--out', join(root, 'six'), '--queue', url]);
      expect(await again.exited).toBe(0);
      expect(again.out.join('\n')).toMatch(/0 points queued .*, 6 done already/);
      await new Promise((r) => setTimeout(r, 1000));
      expect([...started(a), ...started(b)]).toHaveLength(6);
      const status = cli(['sweep', '--config', f, '--out', join(root, 'six'), '--queue', url, '--status']);
      expect(await status.exited).toBe(0);
      expect(status.out.join('\n')).toMatch(/^6 done$/m);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);
    }
  });

  it('a worker killed mid-job has its job retried by another worker and completed', async () => {
    const f = sweepFile('kill', [11, 12]);
    const a = cli(['worker', '--queue', url, '--out', join(root, 'ka'), '--lock-seconds', '4']);
    const sub = cli(['sweep', '--config', f, '--out', join(root, 'kill'), '--queue', url]);
    await until(() => started(a).length > 0, 120_000, 100);
    const victim = started(a)[0]!;
    a.child.kill('SIGKILL');
    await a.exited;
    const b = cli(['worker', '--queue', url, '--out', join(root, 'kb'), '--lock-seconds', '4']);
    try {
      expect(await sub.exited, sub.out.join('\n')).toBe(0);
      expect(finished(b)).toContain(victim);
      expect(finished(b).sort()).toEqual(JSON.parse(readFileSync(join(root, 'kill', 'sweep.json'), 'utf8')).points.map((p: { id: string }) => p.id).sort());
    } finally {
      sub.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      await b.exited;
    }
  });
});
