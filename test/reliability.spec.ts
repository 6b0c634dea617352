import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import { encodeTensor, PROTOCOL_VERSION, type ErrorReply } from '@splitfleet/splitcore';
import { readDatasetCached, SplitClient, startFleet } from '@splitfleet/client-sim';
import { mintToken, mintTokens, newSecret } from '../apps/server/src/server/auth.ts';
import { closeAfterTest, testConfig, tf, until } from './helpers.ts';
import { SplitServer } from '../apps/server/src/server/split-server.ts';
import { initBackend, readDataset } from '@splitfleet/client-sim';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';
import { sizeOf } from '@splitfleet/splitcore';

const connect = (url: string, token?: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...(token !== undefined ? { auth: { token } } : {}) });
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => {
      s.close();
      reject(e);
    });
  });
const hello = { type: 'hello', protocol: PROTOCOL_VERSION, slot: 0, fleetId: 't', runtime: 'node', backend: 'wasm', adapter: null };

async function authServer(clients: number, over: Parameters<typeof testConfig>[0] = {}) {
  const cfg = testConfig({ fleet: { clients, workers: 1 }, ...over });
  await initBackend('wasm');
  const data = readDataset('fashion-mnist', null);
  const secret = newSecret();
  let steps = 0;
  const server = closeAfterTest(await SplitServer.start({ config: cfg, runId: 'run-1', setup: setupExperiment(cfg, data), auth: { secret }, onStep: () => steps++ }), (x) => x.close());
  /** Resolves once the server has completed `n` lockstep steps (mid-round: steps are in flight). */
  const stepsDone = (n: number) => until(() => steps >= n);
  return { server, secret, tokens: mintTokens(secret, 'run-1', clients, 3600), cfg, stepsDone };
}

describe('authentication', () => {
  it('refuses missing, forged, expired, wrong-run, out-of-range and reused tokens with the reason', async () => {
    const { server, secret, tokens } = await authServer(2);
    const reason = (token?: string) => connect(server.url, token).then((s) => { s.close(); return 'accepted'; }, (e: Error) => e.message);
    expect(await reason()).toMatch(/^auth missing/);
    expect(await reason('garbage')).toMatch(/^auth malformed/);
    expect(await reason(mintToken(newSecret(), { run: 'run-1', client: 0, exp: Date.now() / 1000 + 60 }))).toMatch(/^auth forged/);
    expect(await reason(mintToken(secret, { run: 'run-1', client: 0, exp: Date.now() / 1000 - 1 }))).toMatch(/^auth expired/);
    expect(await reason(mintToken(secret, { run: 'run-2', client: 0, exp: Date.now() / 1000 + 60 }))).toMatch(/^auth wrong-run/);
    expect(await reason(mintToken(secret, { run: 'run-1', client: 7, exp: Date.now() / 1000 + 60 }))).toMatch(/^auth unknown-client/);
    const a = await connect(server.url, tokens[1]);
    expect(await a.emitWithAck('hello', hello)).toMatchObject({ type: 'welcome', clientId: 1 }); // the token decides the id
    expect(await reason(tokens[1])).toMatch(/^auth reused/);
    a.close();
    await server.close();
  });
});

describe('hostile input', () => {
  it('answers 500 generated malformed frames with errors, leaks no tensor, and a real client still trains', async () => {
    const { server, tokens } = await authServer(2, { server: { maxBadFrames: 100000 }, training: { rounds: 1, maxStepsPerRound: 4, stepTimeoutSeconds: 10, batchSize: 16 } });
    const rogue = await connect(server.url, tokens[1]);
    await rogue.emitWithAck('hello', hello);
    const before = tf.memory().numTensors;
    const fleet = closeAfterTest(await startFleet({ serverUrl: server.url, clients: 1, workers: 1, backend: 'wasm', tokens: [tokens[0]!] }), (f) => f.terminate());
    await server.waitForClients();
    const round = server.runRound(0);
    const f32 = (shape: number[], fill: number) => encodeTensor({ dtype: 'float32', shape, data: new Float32Array(sizeOf(shape)).fill(fill) });
    const frame = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom(f32([2, 14, 14, 32], NaN), f32([2, 14, 14, 32], Infinity), f32([1, 14, 14, 32], -Infinity)),
      fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 })).map(([a, b]) => f32([1, a, b, 3], 0.5)),
      fc.integer({ min: 17, max: 18 }).map((n) => f32([n, 14, 14, 32], 0)), // batch above the limit (frame still under the byte limit)
      fc.integer({ min: 1, max: 200 }).map((cut) => f32([2, 14, 14, 32], 0).subarray(0, cut)), // truncated
      fc.constant(encodeTensor({ dtype: 'int32', shape: [1, 14, 14, 32], data: new Int32Array(6272) })),
      fc.constant((() => { const f = f32([2, 2], 0); new DataView(f.buffer).setUint32(8, 0xffffffff, true); return f; })()), // huge declared shape
      fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object()),
    );
    const message = fc.oneof(
      frame.map((z) => ({ type: 'forward', round: 0, step: 0, purpose: 'train', z })),
      frame.map((gm) => ({ type: 'backward', round: 0, step: 0, gm })),
      fc.record({ type: fc.constantFrom('forward', 'backward', 'nope'), round: fc.oneof(fc.string(), fc.double(), fc.integer({ min: -5, max: -1 })) }),
    );
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const r = (await rogue.timeout(5000).emitWithAck(m.type === 'backward' ? 'backward' : 'forward', m).catch((e: Error) => {
          throw new Error(`no answer to ${JSON.stringify(m).slice(0, 200)}: ${e.message}`);
        })) as ErrorReply;
        expect(r.type).toBe('error');
        expect(r.message.length).toBeGreaterThan(0);
        answered++;
      }),
      { numRuns: 500, seed: 1 },
    );
    expect(answered).toBe(500);
    // a frame beyond the byte limit (sized from the largest legal frame) closes that connection
    const closed = new Promise<string>((r) => rogue.once('disconnect', (why) => r(why)));
    rogue.emit('forward', { type: 'forward', round: 0, step: 0, purpose: 'train', z: f32([64, 14, 14, 32], 0) });
    expect(await closed).toMatch(/transport (close|error)/);
    const result = await round;
    expect(result.participants).toContain(0);
    expect(result.clients.find((c) => c.id === 0)!.steps).toBe(4);
    await server.close();
    await fleet.terminate();
    // everything the server built for this run is gone except what it held before the round
    await until(() => tf.memory().numTensors <= before, 5_000);
  });
});

const host = { runtime: 'node' as const, backend: 'wasm', adapter: null, loadDataset: readDatasetCached, log: () => {} };

/** Client `id` in this process on its own socket (joined), with a switch that disconnects it right after it emits `event`. */
async function inProcessClient(url: string, token: string, id: number) {
  const sock = await connect(url, token);
  const client = new SplitClient(sock as never, host, id, 'local');
  await client.join();
  const disconnectAfter = (event: 'forward' | 'backward') => {
    const orig = sock.emitWithAck.bind(sock);
    (sock as unknown as { emitWithAck: typeof orig }).emitWithAck = ((ev: string, ...a: unknown[]) => {
      const p = (orig as (e: string, ...x: unknown[]) => Promise<unknown>)(ev, ...a);
      if (ev === event) setTimeout(() => sock.disconnect(), 0);
      return p;
    }) as typeof orig;
  };
  return { client, disconnectAfter };
}

describe('faults', () => {
  it('a client that drops mid-batch is dropped from the round (memory back to its level); it reconnects and takes part in the next round', async () => {
    const { server, tokens } = await authServer(2, { training: { rounds: 2, maxStepsPerRound: 4, stepTimeoutSeconds: 30, batchSize: 16 } });
    const fleet = closeAfterTest(await startFleet({ serverUrl: server.url, clients: 1, workers: 1, backend: 'wasm', tokens: [tokens[0]!] }), (f) => f.terminate());
    const { client: c1, disconnectAfter } = await inProcessClient(server.url, tokens[1]!, 1);
    await server.waitForClients();
    const before = tf.memory().numTensors;
    // drop client 1 right after its first forward reached the server (mid-batch)
    disconnectAfter('forward');
    const r0 = await server.runRound(0);
    expect(r0.participants).toEqual([0]);
    expect(r0.dropped).toEqual([1]);
    // server and (in-process) client freed everything of the abandoned step; what is new is the
    // middle optimiser's momentum state, created by its first update (one tensor per parameter)
    await until(() => tf.memory().numTensors <= before + server.middle.vars.length, 5_000);
    expect(tf.memory().numTensors).toBe(before + server.middle.vars.length);
    // reconnect with the same token: same client id, back from the next round
    const { client: c2 } = await inProcessClient(server.url, tokens[1]!, 1);
    expect(c2.id).toBe(1);
    const r1 = await server.runRound(1);
    expect(r1.participants).toEqual([0, 1]);
    await server.close();
    await fleet.terminate();
    c1.dispose();
    c2.dispose();
  });

  it('a client that disconnects while the middle’s backward runs on its worker threads is dropped; the step answers the others', async () => {
    // 2 clients × 16 rows = a 32-row step: two 16-row shards, so the server's backward awaits its
    // worker thread — socket events (this disconnect) run during that await
    const { server, tokens } = await authServer(2, { server: { middleThreads: 2 }, training: { rounds: 2, maxStepsPerRound: 3, stepTimeoutSeconds: 30, batchSize: 16 } });
    const fleet = closeAfterTest(await startFleet({ serverUrl: server.url, clients: 1, workers: 1, backend: 'wasm', tokens: [tokens[0]!] }), (f) => f.terminate());
    const { client: c1, disconnectAfter } = await inProcessClient(server.url, tokens[1]!, 1);
    await server.waitForClients();
    disconnectAfter('backward');
    const r0 = await server.runRound(0);
    expect(r0.participants).toEqual([0]);
    expect(r0.dropped).toEqual([1]);
    expect(r0.clients.find((c) => c.id === 0)!.steps).toBe(3);
    const r1 = await server.runRound(1);
    expect(r1.participants).toEqual([0]);
    await server.close();
    await fleet.terminate();
    c1.dispose();
  });

  it('a crashed client-sim worker is reported with its client ids; the round completes with the other worker’s clients and the fleet goes on', async () => {
    const { server, tokens, stepsDone } = await authServer(4, { training: { rounds: 2, maxStepsPerRound: 6, stepTimeoutSeconds: 20, batchSize: 16 } });
    const fleet = closeAfterTest(await startFleet({ serverUrl: server.url, clients: 4, workers: 2, backend: 'wasm', tokens }), (f) => f.terminate());
    await server.waitForClients();
    const [alive, victims] = [fleet.clientIds[0]!.slice().sort(), fleet.clientIds[1]!.slice().sort()];
    const round = server.runRound(0);
    await stepsDone(1); // mid-round: steps are in flight
    await fleet.injectWorkerCrash(1);
    const r0 = await round;
    expect(r0.participants).toEqual(alive);
    expect(r0.dropped).toEqual(victims);
    expect(r0.clients.filter((c) => c.dropped).map((c) => c.id)).toEqual(victims);
    const r1 = await server.runRound(1);
    expect(r1.participants).toEqual(alive);
    await server.close();
    const fin = await Promise.race([fleet.finished, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('fleet.finished hung')), 20_000))]);
    expect(fin.crashed).toHaveLength(1);
    expect(fin.crashed[0]).toMatchObject({ worker: 1, clientIds: fleet.clientIds[1] });
    expect(fin.crashed[0]!.error).toMatch(/injected crash of worker 1/);
    expect(fin.outcomes.map((o) => o.clientId).sort()).toEqual(alive);
    await fleet.terminate();
  });

  it('a client process killed with SIGKILL mid-round is dropped; the others finish the round and the next one', async () => {
    const { server, tokens, stepsDone } = await authServer(3, { training: { rounds: 2, maxStepsPerRound: 6, stepTimeoutSeconds: 20, batchSize: 16 } });
    const fleet = closeAfterTest(await startFleet({ serverUrl: server.url, clients: 2, workers: 1, backend: 'wasm', tokens: tokens.slice(0, 2) }), (f) => f.terminate());
    const dir = mkdtempSync(join(tmpdir(), 'sf-kill-'));
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify(tokens), { mode: 0o600 });
    const child = spawn(process.execPath, ['apps/server/src/cli/cli.ts', 'fleet', '--server', server.url, '--clients', '1', '--workers', '1', '--backend', 'wasm', '--tokens', join(dir, 'tokens.json'), '--first-client', '2', '--quiet'], { stdio: 'ignore' });
    await server.waitForClients();
    const round = server.runRound(0);
    await stepsDone(1); // mid-round: steps are in flight
    child.kill('SIGKILL');
    const r0 = await round;
    expect(r0.participants).toEqual([0, 1]);
    expect(r0.dropped).toEqual([2]);
    expect((await server.runRound(1)).participants).toEqual([0, 1]);
    await server.close();
    await Promise.race([fleet.finished, new Promise((r) => setTimeout(r, 10_000))]);
    await fleet.terminate();
  });
});
