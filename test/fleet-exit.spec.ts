import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig, startHarness } from './helpers.ts';

const CLI = join(import.meta.dirname, '..', 'apps', 'server', 'src', 'cli', 'cli.ts');
const small = ['--set', 'fleet.clients=4', '--set', 'training.rounds=1', '--set', 'training.batchSize=16', '--set', 'training.maxStepsPerRound=2', '--set', 'data.testSamples=100'];

/** Starts `splitfleet serve` on a free port; resolves with its URL once it listens. */
function serve(out: string) {
  const child = spawn(process.execPath, [CLI, 'serve', ...small, '--port', '0', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on (http:\/\/[\d.:]+)/.exec(text);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`server exited: ${text}`)));
  });
  return { url, exited };
}

/** Runs `splitfleet fleet` to the end; its exit code and output. */
function fleet(args: string[]): Promise<{ code: number | null; signal: string | null; output: string }> {
  const child = spawn(process.execPath, [CLI, 'fleet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal, output })));
}

const mapsOfThisProcess = () => readFileSync('/proc/self/maps', 'utf8');

describe('fleet process exit with --backend auto', () => {
  it('a fleet process on --backend auto (no hardware GPU: falls back to wasm) exits 0 after a completed run', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sf-exit-')), 'run');
    const server = serve(out);
    const url = await server.url;
    // four workers: the crash at exit needed Dawn in at least two worker_threads
    const r = await fleet(['--server', url, '--clients', '4', '--workers', '4', '--backend', 'auto', '--tokens', join(out, 'tokens.json')]);
    expect(await server.exited).toBe(0);
    expect(r.output).toMatch(/worker 0: backend (wasm — auto: |webgpu)/);
    expect({ code: r.code, signal: r.signal }, r.output).toEqual({ code: 0, signal: null });
  });

  it.runIf(existsSync('/proc/self/maps'))('auto that falls back to wasm leaves no Dawn loaded in the fleet\'s process', async () => {
    const h = await startHarness(testConfig({ fleet: { clients: 2, workers: 2, backend: 'auto' } }));
    try {
      const backends = h.fleet!.backends.map((b) => b.backend);
      if (backends.includes('webgpu')) return; // a hardware adapter: auto rightly loads Dawn
      expect(backends).toEqual(['wasm', 'wasm']);
      expect(h.fleet!.backends[0]!.note).toMatch(/^auto: /);
      expect(mapsOfThisProcess()).not.toMatch(/dawn\.node|libEGL/);
    } finally {
      await h.close();
    }
  });
});
