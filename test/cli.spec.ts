import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint, writeCheckpoint } from '../apps/server/src/experiment/checkpoint.ts';
import { parseConfig } from '../apps/server/src/experiment/config.ts';
import { readResults, type RunResults } from '../apps/server/src/experiment/results.ts';

const CLI = join(import.meta.dirname, '..', 'apps', 'server', 'src', 'cli', 'cli.ts');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'splitfleet-'));
const small = ['--set', 'fleet.clients=2', '--set', 'fleet.workers=1', '--set', 'fleet.backend=wasm', '--set', 'training.batchSize=16', '--set', 'training.maxStepsPerRound=3', '--set', 'data.testSamples=100'];

/** A small population run: 300 registered clients, 6 summoned a round, each keeping its own head and tail. */
const POP = ['--set', 'fleet.population=300', '--set', 'fleet.sample=6', '--set', 'fleet.workers=1', '--set', 'fleet.backend=wasm', '--set', 'training.mode=local',
  '--set', 'training.batchSize=4', '--set', 'training.maxStepsPerRound=1', '--set', 'data.testSamples=40',
  '--set', 'partition.kind=dirichlet', '--set', 'partition.scheme=per-client', '--set', 'partition.minSize=1', '--set', 'server.dashboard=false'];

/** Starts `splitfleet serve` with these arguments on a free port; resolves with the process and its URL. */
async function serve(args: readonly string[]): Promise<{ server: ReturnType<typeof spawn>; url: string; exited: Promise<number | null> }> {
  const server = spawn(process.execPath, [CLI, 'serve', ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => server.once('exit', r));
  let text = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on (http:\/\/[\d.:]+)/.exec(text);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`server exited: ${text}`)));
  });
  return { server, url, exited };
}

/** A CLI command as a child process: its exit code and output. */
function cliAsync(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((r) => child.once('exit', (code) => r({ code, out })));
}

/**
 * The same run twice: once uninterrupted (a), once SIGKILLed (with its fleet) after round 2 and
 * resumed with `run --resume` (b). Resolves with both run directories, both completed.
 */
async function killedAndResumed(args: readonly string[]): Promise<{ a: string; b: string }> {
  const a = join(tmp(), 'a');
  const full = cli(['run', ...args, '--out', a, '--quiet']);
  expect(full.status, full.stderr).toBe(0);
  const b = join(tmp(), 'b');
  const child = spawn(process.execPath, [CLI, 'run', ...args, '--out', b, '--quiet'], { detached: true, stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  // wait (on the file the run writes, not a sleep) until round 2 is done, then kill everything
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      try {
        const r = readResults(b);
        if (r.rounds.length >= 2) {
          clearInterval(t);
          process.kill(-child.pid!, 'SIGKILL');
          resolve();
        }
      } catch {
        // not written yet
      }
    }, 50);
    child.once('exit', () => {
      clearInterval(t);
      reject(new Error('run finished before it could be killed'));
    });
  });
  await exited; // the server process is gone: results.json is as the kill left it
  const killed = readResults(b);
  expect(killed.status).toBe('running');
  expect(killed.rounds.length).toBeLessThan(readResults(a).rounds.length);
  const resumed = cli(['run', '--resume', b, '--quiet']);
  expect(resumed.status, resumed.stderr).toBe(0);
  return { a, b };
}

/** Every checkpointed tensor of two runs is bit-identical. */
function expectSameCheckpoints(a: string, b: string): void {
  const ca = readCheckpoint(join(a, 'checkpoint.ckpt')).tensors;
  const cb = readCheckpoint(join(b, 'checkpoint.ckpt')).tensors;
  expect([...cb.keys()].sort()).toEqual([...ca.keys()].sort());
  for (const [k, t] of ca) expect(Array.from(cb.get(k)!.data), k).toEqual(Array.from(t.data));
}

describe('splitfleet CLI', () => {
  it('rejects a bad config before any work starts, naming the path, the value and what is allowed', () => {
    const dir = tmp();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'fleet: { clients: -3 }\ntraining: { mode: federated }\nbogus: 1\n');
    const r = cli(['run', '--config', file, '--out', join(dir, 'run')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/fleet\.clients: -3 is not allowed; must be ≥ 1/);
    expect(r.stderr).toMatch(/training\.mode: "federated" is not allowed; must be one of splitfed, sequential, local/);
    expect(r.stderr).toMatch(/bogus/);
    expect(existsSync(join(dir, 'run'))).toBe(false);
    const cut = cli(['run', '--set', 'model.cut={headEnd: 5, tailStart: 6}', '--out', join(dir, 'run2')]);
    expect(cut.status).toBe(2);
    expect(cut.stderr).toMatch(/model\.cut: .* is not allowed; cut\.headEnd must be an integer in \[1, 4\]/);
    const missing = cli(['run', '--config', join(dir, 'nope.yaml')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope.yaml does not exist/);
  });

  it('attack --run refuses a run that held out no attacker data, in one line with exit code 2', () => {
    // a finished run trained with attack.method=none: its final checkpoint holds no held-out pool
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(parseConfig({})));
    writeFileSync(join(dir, 'results.json'), '{}');
    writeCheckpoint(join(dir, 'final.ckpt'), { kind: 'final', rounds: 1, heldOut: [], targets: [], observed: [] }, {});
    const r = cli(['attack', '--run', dir, '--quiet']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^splitfleet: .*this run held out no attacker data .*attack\.method=spadv/)]);
    expect(existsSync(join(dir, 'attack.json'))).toBe(false);
  });

  it('a user error exits 2 with one line per problem and no stack trace; --verbose adds the stack', () => {
    const lines = (stderr: string) => stderr.split('\n').filter((l) => l.trim());
    const dir = tmp();
    // a Dirichlet partition that cannot give 200 clients 10 samples each (used to print a stack)
    const unreachable = ['run', '--config', 'examples/quick.yaml', '--set', 'fleet.clients=200', '--set', 'partition.alpha=0.1', '--set', 'training.rounds=1'];
    const minSize = cli([...unreachable, '--out', join(dir, 'a')]);
    expect(minSize.status).toBe(2);
    expect(lines(minSize.stderr)).toEqual([expect.stringMatching(/^splitfleet: partition\.minSize: 10 is not reachable for 200 clients at partition\.alpha=0\.1; must be .* or raise partition\.alpha/)]);
    expect(minSize.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(dir, 'a', 'config.json'))).toBe(false); // refused before the run directory is written
    const verbose = cli([...unreachable, '--out', join(dir, 'b'), '--verbose']);
    expect(verbose.status).toBe(2);
    expect(verbose.stderr).toMatch(/^\s+at /m);
    // an option of a partition kind the default config does not choose (used to blame partition.kind only)
    const alpha = cli(['run', '--set', 'partition.alpha=-1', '--out', join(dir, 'c')]);
    expect(alpha.status).toBe(2);
    expect(lines(alpha.stderr)).toEqual([
      'splitfleet: partition.kind: missing; must be dirichlet, the only kind with alpha',
      'splitfleet: partition.alpha: -1 is not allowed; must be > 0',
    ]);
    const quick = cli(['run', '--config', 'examples/quick.yaml', '--set', 'partition.alpha=-1', '--out', join(dir, 'd')]);
    expect(quick.status).toBe(2);
    expect(lines(quick.stderr)).toEqual(['splitfleet: partition.alpha: -1 is not allowed; must be > 0']);
    // a bad command line is a user error too
    expect(cli(['run', '--bogus']).status).toBe(2);
  });

  it('prints help with examples for every subcommand', () => {
    for (const c of ['run', 'serve', 'fleet', 'attack', 'report', 'sweep']) {
      const r = cli([c, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Example/);
    }
  });

  it('a run killed with SIGKILL mid-way and resumed ends with the same weights and metrics as an uninterrupted run', async () => {
    const { a, b } = await killedAndResumed([...small, '--set', 'training.rounds=4']);
    const ra = readResults(a);
    const rb = readResults(b);
    expect(rb.status).toBe('completed');
    expect(ra.rounds.every((r) => r.dropped.length === 0)).toBe(true);
    expect(rb.rounds.map((r) => [r.round, r.testAccuracy, r.testLoss, r.trainLoss])).toEqual(ra.rounds.map((r) => [r.round, r.testAccuracy, r.testLoss, r.trainLoss]));
    expectSameCheckpoints(a, b);
    // the report and CSVs were written
    expect(readFileSync(join(b, 'report.html'), 'utf8')).toMatch(/<svg/);
    expect(readFileSync(join(b, 'rounds.csv'), 'utf8').split('\n')[0]).toBe('round,testAccuracy,testLoss,trainLoss,wallSeconds,simulatedSeconds,participants,dropped');
    expect(readFileSync(join(b, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event?: string }).some((e) => e.event === 'round')).toBe(true);
    // the two runs side by side: same options, the same training figures
    const html = join(tmp(), 'compare.html');
    const compared = cli(['compare', a, b, '--out', html]);
    expect(compared.status, compared.stderr).toBe(0);
    expect(compared.stdout).toContain('## Options that differ\nnone');
    expect(compared.stdout.match(new RegExp(`\\| ${(100 * ra.final!.testAccuracy).toFixed(1)} % \\|`, 'g'))).toHaveLength(2);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg/);
    const lonely = cli(['compare', a]);
    expect(lonely.status).toBe(2);
    expect(lonely.stderr.trim()).toBe('splitfleet: compare: 1 directory given; needs at least 2 runs or studies');
  });

  it('a population run (ephemeral clients, local mode) killed mid-way and resumed keeps every client’s own head and tail: same rounds, same weights', async () => {
    const { a, b } = await killedAndResumed([...POP, '--set', 'training.rounds=5']);
    const [ra, rb] = [readResults(a), readResults(b)];
    expect(rb.status).toBe('completed');
    expect(rb.rounds.map((r) => [r.selected, r.participants, r.clients.map((c) => [c.trainLoss, c.testAccuracy])])).toEqual(ra.rounds.map((r) => [r.selected, r.participants, r.clients.map((c) => [c.trainLoss, c.testAccuracy])]));
    expect(ra.rounds.every((r) => r.participants.length === 6)).toBe(true);
    // per-client heads/tails of every client that ever trained are in the checkpoint, bit-identical
    expectSameCheckpoints(a, b);
  });

  it('refuses a token file of the wrong kind or a missing one for `fleet` in one line, exit 2, before connecting', () => {
    const list = join(tmp(), 'list.json');
    writeFileSync(list, JSON.stringify(['v1.a.b']));
    const asAgent = cli(['fleet', '--ephemeral', '--server', 'http://127.0.0.1:9', '--tokens', list]);
    expect(asAgent.status).toBe(2);
    expect(asAgent.stderr.trim()).toBe(`splitfleet: --tokens: ${list}: expected {"agent": "<token>"} (the tokens.json of a population run served by splitfleet serve)`);
    const agentFile = join(tmp(), 'agent.json');
    writeFileSync(agentFile, JSON.stringify({ agent: 'v1.a.b' }));
    const asClients = cli(['fleet', '--server', 'http://127.0.0.1:9', '--tokens', agentFile]);
    expect(asClients.status).toBe(2);
    expect(asClients.stderr.trim()).toBe(`splitfleet: --tokens: ${agentFile}: a population run's fleet agent token: start this fleet with --ephemeral`);
    expect(cli(['fleet', '--server', 'http://127.0.0.1:9', '--tokens', join(tmp(), 'none.json')]).status).toBe(2);
  });

  it('serve and fleet run as separate processes and complete a run', async () => {
    const out = join(tmp(), 's');
    const { server, url } = await serve([...small, '--set', 'training.rounds=1', '--out', out]);
    // without the token file the server refuses the fleet; with it the run completes
    const refused = cli(['fleet', '--server', url, '--clients', '2', '--workers', '1', '--backend', 'wasm', '--quiet']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/auth missing: no token/);
    const fleet = cli(['fleet', '--server', url, '--clients', '2', '--workers', '1', '--backend', 'wasm', '--quiet', '--tokens', join(out, 'tokens.json')]);
    expect(fleet.status, fleet.stderr).toBe(0);
    const code = await new Promise<number | null>((r) => server.once('exit', r));
    expect(code).toBe(0);
    const res = readResults(out);
    expect(res.status).toBe('completed');
    expect(res.rounds[0]!.participants).toEqual([0, 1]);
  });

  it('a population served by `serve` summons its clients from fleet agents on other processes (fleet --ephemeral --tokens) and trains the rounds `run` trains', async () => {
    const a = join(tmp(), 'a');
    const own = cli(['run', ...POP, '--set', 'training.rounds=2', '--out', a, '--quiet']);
    expect(own.status, own.stderr).toBe(0);
    const out = join(tmp(), 'served');
    const { url, exited } = await serve([...POP, '--set', 'training.rounds=2', '--out', out]);
    // an agent with a forged token is refused in one line; a client token list is no agent token
    const forgedFile = join(tmp(), 'forged.json');
    writeFileSync(forgedFile, JSON.stringify({ agent: 'v1.e30.AAAA' }));
    const forged = await cliAsync(['fleet', '--ephemeral', '--server', url, '--workers', '1', '--backend', 'wasm', '--tokens', forgedFile]);
    expect(forged.code).toBe(1);
    expect(forged.out).toMatch(/the server refused this fleet agent: auth forged/);
    // two agents, as two hosts would run them, once the run has written its agent token
    for (let i = 0; i < 600 && !existsSync(join(out, 'tokens.json')); i++) await new Promise((r) => setTimeout(r, 50));
    const agents = [0, 1].map(() => cliAsync(['fleet', '--ephemeral', '--server', url, '--workers', '1', '--backend', 'wasm', '--tokens', join(out, 'tokens.json')]));
    expect(await exited).toBe(0);
    for (const r of await Promise.all(agents)) expect(r.code, r.out).toBe(0);
    const [ra, rs] = [readResults(a), readResults(out)];
    expect(rs.status).toBe('completed');
    const rows = (r: RunResults) => r.rounds.map((x) => [x.selected, x.participants, x.clients.map((c) => [c.trainLoss, c.testAccuracy])]);
    expect(rows(rs)).toEqual(rows(ra));
    expect(rs.rounds.every((r) => r.participants.length === 6)).toBe(true);
    expectSameCheckpoints(a, out);
  });
});
