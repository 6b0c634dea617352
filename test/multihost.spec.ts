import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../apps/server/src/experiment/checkpoint.ts';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { readResults, type RunResults } from '../apps/server/src/experiment/results.ts';
import { testConfig } from './helpers.ts';

// A server and two fleet processes in three Linux network namespaces joined by veth pairs: the
// closest thing to three hosts on one machine. Needs root (CI runs as root).
const root = process.getuid?.() === 0 && existsSync('/usr/sbin/ip');
const tag = `sf${process.pid % 100000}`;
const ns = { server: `${tag}s`, a: `${tag}a`, b: `${tag}b` };
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

function setUpNetwork(): void {
  for (const n of Object.values(ns)) {
    ip('netns', 'add', n);
    ip('-n', n, 'link', 'set', 'lo', 'up');
  }
  // server <-> a on 10.231.1.0/24, server <-> b on 10.231.2.0/24
  for (const [k, peer] of [[1, ns.a], [2, ns.b]] as const) {
    const [s, f] = [`${tag}s${k}`, `${tag}f${k}`];
    ip('link', 'add', s, 'type', 'veth', 'peer', 'name', f);
    ip('link', 'set', s, 'netns', ns.server);
    ip('link', 'set', f, 'netns', peer);
    ip('-n', ns.server, 'addr', 'add', `10.231.${k}.1/24`, 'dev', s);
    ip('-n', peer, 'addr', 'add', `10.231.${k}.2/24`, 'dev', f);
    ip('-n', ns.server, 'link', 'set', s, 'up');
    ip('-n', peer, 'link', 'set', f, 'up');
  }
}

afterAll(() => {
  if (!root) return;
  for (const n of Object.values(ns)) try { ip('netns', 'del', n); } catch { /* not created */ }
});

function inNs(n: string, args: string[], out: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn('ip', ['netns', 'exec', n, process.execPath, 'apps/server/src/cli/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const take = (b: Buffer) => out.push(...b.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return { child, exited: new Promise((r) => child.once('exit', (c) => r(c))) };
}

describe('a fleet spread over hosts', () => {
  it.skipIf(!root)('server and two fleet processes in three network namespaces give the same run as one process', async () => {
    const cfg = testConfig({ seed: 5, fleet: { clients: 4, workers: 2 }, training: { rounds: 2, maxStepsPerRound: 4, batchSize: 16 } });
    const dir = mkdtempSync(join(tmpdir(), 'sf-hosts-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    // reference: the same config, server and fleet on one host
    const single = await runExperiment(cfg, { outDir: join(dir, 'single') });

    setUpNetwork();
    const logs: string[] = [];
    const run = join(dir, 'spread');
    const server = inNs(ns.server, ['serve', '--config', join(dir, 'config.json'), '--host', '0.0.0.0', '--port', '7070', '--out', run, '--quiet'], logs);
    for (let i = 0; i < 200 && !existsSync(join(run, 'tokens.json')); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    // two "hosts": clients 2,3 join first (from b), then 0,1 (from a): join order must not matter
    const fleetB = inNs(ns.b, ['fleet', '--server', 'http://10.231.2.1:7070', '--clients', '2', '--workers', '1', '--backend', 'wasm', '--tokens', join(run, 'tokens.json'), '--first-client', '2', '--quiet'], logs);
    await new Promise((r) => setTimeout(r, 1500));
    const fleetA = inNs(ns.a, ['fleet', '--server', 'http://10.231.1.1:7070', '--clients', '2', '--workers', '1', '--backend', 'wasm', '--tokens', join(run, 'tokens.json'), '--quiet'], logs);
    expect(await server.exited, logs.join('\n')).toBe(0);
    expect(await fleetA.exited).toBe(0);
    expect(await fleetB.exited).toBe(0);

    const spread = readResults(run);
    expect(spread.status).toBe('completed');
    const metrics = (r: RunResults) => r.rounds.map((x) => [x.testAccuracy, x.testLoss, x.trainLoss, x.participants]);
    expect(metrics(spread)).toEqual(metrics(single.results));
    expect(spread.clients.map((c) => [c.id, c.samples, c.labelCounts])).toEqual(single.results.clients.map((c) => [c.id, c.samples, c.labelCounts]));
    const a = readCheckpoint<unknown>(join(dir, 'single', 'final.ckpt')).tensors;
    const b = readCheckpoint<unknown>(join(run, 'final.ckpt')).tensors;
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, t] of a) expect(Buffer.from(b.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
  });
});
