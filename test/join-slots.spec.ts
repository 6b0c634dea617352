import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_FASHION_MNIST, startFleet } from '@splitfleet/client-sim';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import type { Config } from '../apps/server/src/experiment/config.ts';
import { JoinSlots } from '../apps/server/src/server/join-slots.ts';
import { runHttpHandler } from '../apps/server/src/server/run-http.ts';
import type { SplitServer } from '../apps/server/src/server/split-server.ts';
import { closeAfterTest, testConfig } from './helpers.ts';

/** The client id a token is bound to (its payload; the signature is the server's business). */
const tokenClient = (token: string): number => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { client: number }).client;

const askForSlot = (url: string) => fetch(`${url}/api/join-token`, { method: 'POST' });

/** A run whose clients come from outside (the test), and its server once it listens. */
function externalRun(cfg: Config) {
  const out = join(mkdtempSync(join(tmpdir(), 'sf-slots-')), 'run');
  let listening!: (s: SplitServer) => void;
  const server = new Promise<SplitServer>((r) => (listening = r));
  const run = runExperiment(cfg, { outDir: out, fleet: 'external', onServer: (s) => listening(s) });
  return { out, server, run, tokensFile: join(out, 'tokens.json') };
}

describe('join slots on a running server (real HTTP and sockets)', () => {

  it('hands out only the open slots, each once; the operator\'s fleet keeps its reserved slots and the run completes', async () => {
    const r = externalRun(testConfig({ fleet: { clients: 3, workers: 1, openSlots: 1 } }));
    const server = await r.server;
    expect(await (await fetch(`${server.url}/api/join-slots`)).json()).toEqual({ open: 1, free: 1, message: null });
    const first = await askForSlot(server.url);
    expect(first.status).toBe(200);
    const slot = (await first.json()) as { clientId: number; token: string };
    expect(slot.clientId).toBe(2);
    expect(tokenClient(slot.token)).toBe(2);
    const second = await askForSlot(server.url);
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual({ message: 'all 1 open slot of this run are taken' });
    // tokens.json holds the reserved slots only: a stranger cannot take the fleet's, nor the fleet the stranger's
    const reserved = JSON.parse(readFileSync(r.tokensFile, 'utf8')) as string[];
    expect(reserved.map(tokenClient)).toEqual([0, 1]);
    closeAfterTest(await startFleet({ serverUrl: server.url, clients: 2, workers: 1, backend: 'wasm', tokens: reserved }), (f) => f.terminate());
    // the dashboard shows where the fleet's clients joined from
    const state = (await (await fetch(`${server.url}/api/state`)).json()) as { clients: { id: number; address: string; runtime: string }[] };
    expect(state.clients.map((c) => [c.id, c.address, c.runtime])).toEqual([[0, '127.0.0.1', 'node'], [1, '127.0.0.1', 'node']]);
    closeAfterTest(await startFleet({ serverUrl: server.url, clients: 1, workers: 1, backend: 'wasm', tokens: [slot.token] }), (f) => f.terminate());
    const { results } = await r.run;
    expect(results.status).toBe('completed');
    expect(results.rounds[0]!.participants).toEqual([0, 1, 2]);
    expect(server.clientStates().find((c) => c.id === 2)).toMatchObject({ address: '127.0.0.1', runtime: 'node', userAgent: null });
  });

  it('with fleet.openSlots at its default (0) the join endpoint refuses with 403 and says every slot is reserved', async () => {
    const r = externalRun(testConfig({ fleet: { clients: 2, workers: 1 } }));
    const server = await r.server;
    const refused = await askForSlot(server.url);
    expect(refused.status).toBe(403);
    const { message } = (await refused.json()) as { message: string };
    expect(message).toBe('this run has no open slots: all 2 client slots are reserved for the operator\'s own fleet (the operator opens some with fleet.openSlots)');
    expect(await (await fetch(`${server.url}/api/join-slots`)).json()).toEqual({ open: 0, free: 0, message });
    // every slot's token is the fleet's
    const reserved = JSON.parse(readFileSync(r.tokensFile, 'utf8')) as string[];
    expect(reserved.map(tokenClient)).toEqual([0, 1]);
    closeAfterTest(await startFleet({ serverUrl: server.url, clients: 2, workers: 1, backend: 'wasm', tokens: reserved }), (f) => f.terminate());
    expect((await r.run).results.status).toBe('completed');
  });
});

describe('join endpoint rate limit (a real HTTP server)', () => {
  let http: Server | null = null;
  afterEach(() => new Promise<void>((r) => (http ? http.close(() => r()) : r())));

  it('answers 429 with a clear message and Retry-After once one address asks too often', async () => {
    const join = new JoinSlots({ clients: 4, openSlots: 2, tokens: ['t0', 't1', 't2', 't3'], connected: () => [] });
    http = createServer(runHttpHandler({ dataDir: BUNDLED_FASHION_MNIST, join, dashboard: null }));
    await new Promise<void>((r) => http!.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await askForSlot(url)).status);
    expect(statuses).toEqual([200, 200, 409, 409, 409]);
    const limited = await askForSlot(url);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { message: string }).message).toMatch(/^too many join requests from 127\.0\.0\.1; try again in \d+ s$/);
    expect((await fetch(`${url}/api/join-token`)).status).toBe(405);
  });
});
