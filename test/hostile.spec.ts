import { describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { decodeTensor, encodeTensor, PROTOCOL_VERSION, sizeOf, type ErrorReply, type RoundResult, type ServerTaps } from '@splitfleet/splitcore';
import { readDatasetCached, SplitClient, startFleet, type FleetHandle } from '@splitfleet/client-sim';
import { initBackend, readDataset } from '@splitfleet/client-sim/node';
import { mintTokens, newSecret } from '../apps/server/src/server/auth.ts';
import { SplitServer } from '../apps/server/src/server/split-server.ts';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';
import { closeAfterTest, testConfig } from './helpers.ts';

/**
 * A client holding a valid token attacks the run from inside the protocol. Client 0 is the attacker
 * (an in-process client whose messages are tampered with, or a raw socket); clients 1 and 2 are an
 * honest fleet in worker threads. In every case the server keeps serving, the honest clients' rounds
 * complete, and no impossible value reaches a round's results.
 */
const ROUNDS = 2;
const cfgOf = (over: Parameters<typeof testConfig>[0] = {}) => testConfig({
  ...over,
  seed: 5, fleet: { clients: 3, workers: 1 },
  training: { mode: 'splitfed', rounds: ROUNDS, batchSize: 32, maxStepsPerRound: 12, stepTimeoutSeconds: 20, ...over.training },
  data: { testSamples: 300 },
});

type Emit = (event: string, ...args: unknown[]) => unknown;
interface Run { server: SplitServer; fleet: FleetHandle; errors: ErrorReply[]; rounds: RoundResult[]; close(): Promise<void> }

async function connect(url: string, token: string, errors: ErrorReply[]): Promise<Socket> {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } });
  s.on('protocolError', (e: ErrorReply) => errors.push(e));
  await new Promise<void>((res, rej) => (s.once('connect', () => res()), s.once('connect_error', rej)));
  return s;
}

/** A server, the honest fleet (clients 1, 2) and `attacker(url, token, errors)` as client 0; then `rounds` rounds. */
async function hostileRun(attacker: ((url: string, token: string, errors: ErrorReply[]) => Promise<unknown>) | null, over: Parameters<typeof testConfig>[0] = {}): Promise<Run> {
  const cfg = cfgOf(over);
  await initBackend('wasm');
  const secret = newSecret();
  const server = await SplitServer.start({ config: cfg, runId: 'h', setup: setupExperiment(cfg, readDataset(cfg.data.name, cfg.data.dir)), auth: { secret }, log: () => {} });
  const tokens = mintTokens(secret, 'h', 3, 600);
  const errors: ErrorReply[] = [];
  const fleet = await startFleet({ serverUrl: server.url, clients: attacker ? 2 : 3, workers: 1, backend: 'wasm', tokens: attacker ? tokens.slice(1) : tokens });
  closeAfterTest(server, (x) => x.close());
  closeAfterTest(fleet, (f) => f.terminate());
  const run: Run = { server, fleet, errors, rounds: [], close: async () => { await server.close(); await fleet.terminate(); } };
  if (attacker) await attacker(server.url, tokens[0]!, errors);
  await server.waitForClients();
  for (let r = 0; r < ROUNDS; r++) run.rounds.push(await server.runRound(r));
  return run;
}

/** Client 0 trains honestly in this process, but `tamper` rewrites what it emits. */
function tamperedClient(tamper: (event: string, msg: Record<string, unknown>) => Record<string, unknown>) {
  return async (url: string, token: string, errors: ErrorReply[]) => {
    const sock = await connect(url, token, errors);
    const emit = sock.emit.bind(sock) as Emit;
    (sock as unknown as { emit: Emit }).emit = (event, msg, ...rest) => emit(event, tamper(event, msg as Record<string, unknown>), ...rest);
    const host = { runtime: 'node' as const, backend: 'wasm', adapter: null, loadDataset: readDatasetCached, log: () => {} };
    const client = new SplitClient(sock as never, host, 0, 'rogue');
    await client.join();
    return client;
  };
}

/** Nothing impossible in a round: accuracies in [0, 1], losses finite and ≥ 0. */
function expectPlausible(r: RoundResult): void {
  expect(r.testAccuracy).toBeGreaterThanOrEqual(0);
  expect(r.testAccuracy).toBeLessThanOrEqual(1);
  expect(Number.isFinite(r.testLoss) && r.testLoss >= 0).toBe(true);
  if (r.trainLoss !== null) expect(Number.isFinite(r.trainLoss) && r.trainLoss >= 0).toBe(true);
  for (const c of r.clients) if (c.testAccuracy !== null) expect(c.testAccuracy).toBeLessThanOrEqual(1);
}

function expectHonestRoundsComplete(run: Run): void {
  // the attacker is dropped from round 0; later it is dropped again, or gone (disconnected after
  // server.maxBadFrames refusals in a row) and no longer selected
  expect(run.rounds[0]!.dropped).toEqual([0]);
  for (const r of run.rounds) {
    expect(r.participants).toEqual([1, 2]);
    expect(r.dropped.filter((id) => id !== 0)).toEqual([]);
    for (const c of r.clients.filter((x) => x.id !== 0)) expect(c.steps).toBe(12);
    expectPlausible(r);
  }
}

const nanFrame = (frame: Uint8Array) => {
  const t = decodeTensor(frame);
  return encodeTensor({ dtype: 'float32', shape: t.shape, data: new Float32Array(sizeOf(t.shape)).fill(NaN) });
};
const scaledFrame = (k: number) => (frame: Uint8Array) => {
  const t = decodeTensor(frame);
  return encodeTensor({ dtype: 'float32', shape: t.shape, data: (t.data as Float32Array).map((v) => v * k) });
};
const zeroFrame = (frame: Uint8Array) => {
  const t = decodeTensor(frame);
  return encodeTensor({ dtype: 'float32', shape: t.shape, data: new Float32Array(sizeOf(t.shape)) });
};

describe('a client with a valid token', () => {
  it('cannot end the run with a NaN (or misshapen) weight frame in roundDone: refused, dropped from the round, the others complete', async () => {
    const run = await hostileRun(tamperedClient((ev, m) => (ev === 'roundDone' ? { ...m, weights: [nanFrame((m.weights as Uint8Array[])[0]!), ...(m.weights as Uint8Array[]).slice(1)] } : m)));
    expectHonestRoundsComplete(run);
    expect(run.errors.map((e) => e.code)).toContain('non-finite');
  });

  it('cannot poison the global model by claiming 1e15 samples with all-zero weights: accuracy stays within 10 points of an honest run', async () => {
    const honest = await hostileRun(null);
    const honestAcc = honest.rounds.at(-1)!.testAccuracy;
    await honest.close();
    const run = await hostileRun(tamperedClient((ev, m) => (ev === 'roundDone' ? { ...m, samples: 1e15, weights: (m.weights as Uint8Array[]).map(zeroFrame) } : m)));
    expectHonestRoundsComplete(run);
    expect(run.errors.some((e) => /samples 1000000000000000 but the server served \d+ rows/.test(e.message))).toBe(true);
    expect(honestAcc).toBeGreaterThan(0.4);
    expect(Math.abs(run.rounds.at(-1)!.testAccuracy - honestAcc)).toBeLessThanOrEqual(0.1);
  });

  it('cannot fake metrics: impossible evalDone counts and a negative train loss are refused, and results hold no impossible value', async () => {
    const run = await hostileRun(tamperedClient((ev, m) => {
      if (ev === 'evalDone') return { ...m, samples: 1, correctByClass: (m.correctByClass as number[]).map((_, k) => (k === 0 ? 1000 : 0)) };
      if (ev === 'roundDone') return { ...m, lossSum: -1e300 };
      return m;
    }));
    expectHonestRoundsComplete(run);
    expect(run.errors.some((e) => /lossSum -1e\+300/.test(e.message))).toBe(true);
  });

  it('cannot skip training with an empty roundDone right after roundStart: refused, dropped, the others complete', async () => {
    const run = await hostileRun(async (url, token, errors) => {
      const s = await connect(url, token, errors);
      await s.emitWithAck('hello', { type: 'hello', protocol: PROTOCOL_VERSION, slot: 0, fleetId: 'rogue', runtime: 'node', backend: 'wasm', adapter: null });
      s.on('roundStart', (m: { round: number; weights: Uint8Array[] }) =>
        s.emit('roundDone', { type: 'roundDone', round: m.round, samples: 0, steps: 0, lossSum: 0, computeMs: 0, weights: m.weights }));
    });
    expectHonestRoundsComplete(run);
    expect(run.errors.some((e) => /steps 0 but the server assigned 12 and served 0/.test(e.message))).toBe(true);
  });

  it('cannot void a round by racing ahead (forwards for steps 1–43, holding back step 0): refused, dropped, the others complete', async () => {
    const run = await hostileRun(async (url, token, errors) => {
      const s = await connect(url, token, errors);
      await s.emitWithAck('hello', { type: 'hello', protocol: PROTOCOL_VERSION, slot: 0, fleetId: 'rogue', runtime: 'node', backend: 'wasm', adapter: null });
      const z = encodeTensor({ dtype: 'float32', shape: [32, 14, 14, 32], data: new Float32Array(32 * 14 * 14 * 32) });
      s.on('roundStart', (m: { round: number }) => {
        for (let step = 1; step <= 43; step++)
          // after server.maxBadFrames refusals in a row the server disconnects it: later acks never come
          s.emitWithAck('forward', { type: 'forward', round: m.round, step, purpose: 'train', z }).then((r) => errors.push(r as ErrorReply), () => {});
      });
    });
    expectHonestRoundsComplete(run);
    expect(run.errors.filter((e) => e.code === 'not-expected').length).toBeGreaterThanOrEqual(20);
    expect(run.errors.find((e) => e.code === 'not-expected')!.message).toMatch(/may send step 0 now, not step \d+/);
  });

  it('cannot make the server craft for it: craft round trips are refused in a run without adversarial training, and past the configured PGD steps in one with it', async () => {
    const rogue = (errors: ErrorReply[]) => async (url: string, token: string) => {
      const s = await connect(url, token, errors);
      await s.emitWithAck('hello', { type: 'hello', protocol: PROTOCOL_VERSION, slot: 0, fleetId: 'rogue', runtime: 'node', backend: 'wasm', adapter: null });
      const z = encodeTensor({ dtype: 'float32', shape: [32, 14, 14, 32], data: new Float32Array(32 * 14 * 14 * 32) });
      s.on('roundStart', async (m: { round: number }) => {
        for (let k = 0; k < 4; k++) {
          const r = await s.emitWithAck('forward', { type: 'forward', round: m.round, step: 0, purpose: 'craft', z }).catch(() => null);
          if (r && (r as ErrorReply).type === 'error') errors.push(r as ErrorReply);
        }
      });
    };
    const plain: ErrorReply[] = [];
    // it never trains: dropped at each round's first step timeout (short here)
    expectHonestRoundsComplete(await hostileRun(rogue(plain), { training: { stepTimeoutSeconds: 5 } }));
    expect(plain.find((e) => e.code === 'not-expected')!.message).toMatch(/no adversarial training/);
    const budgeted: ErrorReply[] = [];
    const run = await hostileRun(rogue(budgeted), { training: { stepTimeoutSeconds: 5 }, defence: { kind: 'adversarial', epsilon: 0.05, steps: 2 } });
    // two craft forwards answered, the third refused; it never trains, so it is dropped at the step timeout
    expect(budgeted.filter((e) => e.code === 'not-expected')[0]!.message).toMatch(/has used the 2 craft round trips of round 0 step 0/);
    expect(run.rounds[0]!.participants).toEqual([1, 2]);
    for (const r of run.rounds) expectPlausible(r);
  });

  it('sending finite but hostile weights (honest ones × −20) wrecks FedAvg, while training.aggregation: median keeps the model (honest majority)', async () => {
    const attack = tamperedClient((ev, m) => (ev === 'roundDone' ? { ...m, weights: (m.weights as Uint8Array[]).map(scaledFrame(-20)) } : m));
    const mean = await hostileRun(attack);
    const meanAcc = mean.rounds.at(-1)!.testAccuracy;
    await mean.close();
    const median = await hostileRun(attack, { training: { aggregation: { rule: 'median' } } });
    // the claim itself is honest-looking: the attacker takes part in every round
    expect(median.rounds.every((r) => r.participants.includes(0))).toBe(true);
    const medianAcc = median.rounds.at(-1)!.testAccuracy;
    expect(meanAcc).toBeLessThan(0.3);
    expect(medianAcc).toBeGreaterThan(meanAcc + 0.2);
  });

  it('cannot crash the server by leaving while slow taps hold the observation queue (server.taps.whenFull: wait)', async () => {
    const cfg = testConfig({
      seed: 5, fleet: { clients: 3, workers: 1 }, server: { taps: { queue: 1, whenFull: 'wait' } },
      training: { rounds: 1, batchSize: 32, maxStepsPerRound: 3, stepTimeoutSeconds: 10 }, data: { testSamples: 200 },
    });
    await initBackend('wasm');
    const secret = newSecret();
    const slow: ServerTaps = { name: 'slow', onSmashed: () => new Promise((r) => setTimeout(r, 300)) };
    const server = closeAfterTest(await SplitServer.start({ config: cfg, runId: 'h', setup: setupExperiment(cfg, readDataset(cfg.data.name, cfg.data.dir)), auth: { secret }, taps: [slow], log: () => {} }), (x) => x.close());
    const tokens = mintTokens(secret, 'h', 3, 600);
    closeAfterTest(await startFleet({ serverUrl: server.url, clients: 2, workers: 1, backend: 'wasm', tokens: tokens.slice(0, 2) }), (f) => f.terminate());
    // client 2 (last in the step's order, so the honest clients' observations are pushed before its
    // own) leaves the moment its forward is answered
    const s = await connect(server.url, tokens[2]!, []);
    await s.emitWithAck('hello', { type: 'hello', protocol: PROTOCOL_VERSION, slot: 0, fleetId: 'rogue', runtime: 'node', backend: 'wasm', adapter: null });
    const z = encodeTensor({ dtype: 'float32', shape: [32, 14, 14, 32], data: new Float32Array(32 * 14 * 14 * 32) });
    s.on('roundStart', (m: { round: number }) => void s.emitWithAck('forward', { type: 'forward', round: m.round, step: 0, purpose: 'train', z }).then(() => s.disconnect(), () => {}));
    await server.waitForClients();
    const r = await server.runRound(0);
    expect(r.participants).toEqual([0, 1]);
    expect(r.dropped).toEqual([2]);
  });
});
