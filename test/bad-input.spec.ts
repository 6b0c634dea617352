import { describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { encodeTensor, PROTOCOL_VERSION, type ErrorReply } from '@splitfleet/splitcore';
import { startHarness, testConfig, until } from './helpers.ts';

describe('bad input', () => {
  it('an unknown event, a wrong shape, a NaN tensor and a missing hello each get a clear error; the other client still trains', async () => {
    // two clients: one real worker client and one hostile socket that joins and sends garbage
    const cfg = testConfig({ fleet: { clients: 2, workers: 1 }, training: { rounds: 1, maxStepsPerRound: 3, stepTimeoutSeconds: 3 } });
    const h = await startHarness(cfg, { fleetClients: 1 });
    const rogue = io(h.server.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    const errors: ErrorReply[] = [];
    rogue.on('protocolError', (e: ErrorReply) => errors.push(e));
    await new Promise<void>((r) => rogue.on('connect', () => r()));

    // forward before hello
    const early = await rogue.emitWithAck('forward', { type: 'forward', round: 0, step: 0, purpose: 'train', z: new Uint8Array(8) });
    expect(early).toMatchObject({ type: 'error', code: 'unknown-client' });

    const welcome = await rogue.emitWithAck('hello', { type: 'hello', protocol: PROTOCOL_VERSION, slot: 0, fleetId: 'rogue', runtime: 'node', backend: 'none', adapter: null });
    expect(welcome).toMatchObject({ type: 'welcome', clientId: 1 });
    await h.server.waitForClients();
    const round = h.server.runRound(0);

    // unknown event type
    rogue.emit('steal-labels', { please: true });
    // wrong shape: the default cut expects [batch, 14, 14, 32]
    const wrong = await rogue.emitWithAck('forward', {
      type: 'forward', round: 0, step: 0, purpose: 'train',
      z: encodeTensor({ dtype: 'float32', shape: [2, 28, 28, 1], data: new Float32Array(2 * 784) }),
    });
    expect(wrong).toMatchObject({ type: 'error', code: 'bad-shape' });
    expect((wrong as ErrorReply).message).toMatch(/expected shape \[batch≤16, 14, 14, 32\], got \[2, 28, 28, 1\]/);
    // NaN tensor of the right shape
    const nan = new Float32Array(2 * 14 * 14 * 32);
    nan[5] = NaN;
    const bad = await rogue.emitWithAck('forward', { type: 'forward', round: 0, step: 0, purpose: 'train', z: encodeTensor({ dtype: 'float32', shape: [2, 14, 14, 32], data: nan }) });
    expect(bad).toMatchObject({ type: 'error', code: 'non-finite' });
    expect((bad as ErrorReply).message).toMatch(/flat index 5 is NaN/);
    // a message that is not a tensor frame at all
    const junk = await rogue.emitWithAck('forward', { type: 'forward', round: 0, step: 0, purpose: 'train', z: 'AAAA' });
    expect(junk).toMatchObject({ type: 'error', code: 'bad-message' });

    const result = await round;
    await until(() => errors.some((e) => e.code === 'unknown-event'));
    expect(errors).toContainEqual(expect.objectContaining({ code: 'unknown-event', message: expect.stringMatching(/steal-labels/) }));
    // the hostile client never completed a step: dropped after the step timeout; the real one trained
    expect(result.participants).toEqual([0]);
    expect(result.dropped).toEqual([1]);
    expect(result.clients[0]!.trainLoss).toBeGreaterThan(0);
    expect(Number.isFinite(result.testAccuracy)).toBe(true);
    rogue.close();
    await h.close();
  });
});
