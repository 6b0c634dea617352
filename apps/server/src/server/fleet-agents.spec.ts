import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { mintAgentToken, mintTokens, newSecret } from './auth.ts';
import { AGENTS_NAMESPACE, FleetAgents } from './fleet-agents.ts';

const secret = newSecret();
let http: HttpServer;
let server: Server;
const sockets: ClientSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await new Promise<void>((r) => server.close(() => r()));
});

async function hub(lines: string[] = []): Promise<{ agents: FleetAgents; url: string }> {
  http = createServer();
  server = new Server(http);
  const agents = new FleetAgents(server, { secret, runId: 'run', summonTimeoutMs: 2000, log: (l) => lines.push(l) });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  return { agents, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}${AGENTS_NAMESPACE}` };
}

/** A fleet agent that answers every summons with `answer(ids asked)`; resolves once connected (or refused, with the reason). */
function agent(url: string, token: string, answer: (ids: number[]) => unknown, asked: number[][] = []): Promise<string> {
  const s = io(url, { auth: { token }, reconnection: false, transports: ['websocket'] });
  sockets.push(s);
  s.on('summon', (entries: { id: number }[], ack: (r: unknown) => void) => {
    asked.push(entries.map((e) => e.id));
    ack(answer(entries.map((e) => e.id)));
  });
  return new Promise((r) => {
    s.once('connect', () => r('connected'));
    s.once('connect_error', (e) => r(e.message));
  });
}

const entries = (ids: number[]) => ids.map((id) => ({ id, token: `t${id}` }));

describe('fleet agents of a population served to other hosts', () => {
  it('split a round’s summons over the connected agents in contiguous blocks and report only the summoned ids they answer', async () => {
    const { agents, url } = await hub();
    const [a, b]: number[][][] = [[], []];
    expect(await agent(url, mintAgentToken(secret, 'run', 60), (ids) => ids, a)).toBe('connected');
    // a hostile agent: ids nobody asked it for, duplicates, junk — and one it was asked for
    expect(await agent(url, mintAgentToken(secret, 'run', 60), (ids) => [999, 'x', ids[0], ids[0], 0.5], b)).toBe('connected');
    await agents.waitForAgent(1000, '');
    const joined = await agents.summon(entries([10, 11, 12, 13, 14]));
    expect(a).toEqual([[10, 11, 12]]);
    expect(b).toEqual([[13, 14]]);
    expect(joined).toEqual([10, 11, 12, 13]);
  });

  it('refuse a client’s token, a forged one and one of another run; summon nobody while no agent is connected', async () => {
    const lines: string[] = [];
    const { agents, url } = await hub(lines);
    expect(await agent(url, mintTokens(secret, 'run', 1, 60)[0]!, () => [])).toMatch(/^auth wrong-role/);
    expect(await agent(url, mintAgentToken(newSecret(), 'run', 60), () => [])).toMatch(/^auth forged/);
    expect(await agent(url, mintAgentToken(secret, 'other', 60), () => [])).toMatch(/^auth wrong-run/);
    expect(agents.count).toBe(0);
    expect(await agents.summon(entries([1, 2]))).toEqual([]);
    expect(lines.at(-1)).toBe('no fleet agent is connected: the 2 summoned clients cannot join this round');
    await expect(agents.waitForAgent(100, 'splitfleet fleet --ephemeral …')).rejects.toThrow(/no fleet agent connected within 0.1s .*start one: splitfleet fleet --ephemeral/);
  });

  it('disconnect an agent that sends anything but answers, and count an agent that does not answer as none joined', async () => {
    const { agents, url } = await hub();
    expect(await agent(url, mintAgentToken(secret, 'run', 60), () => [])).toBe('connected');
    const s = sockets[0]!;
    // an agent that never calls the ack: the summons times out (2 s here) and nobody joined
    s.off('summon');
    s.on('summon', () => {});
    expect(await agents.summon(entries([1]))).toEqual([]);
    const gone = new Promise((r) => s.once('disconnect', r));
    s.emit('hello', {});
    await gone;
    // the server side learns of it on its own socket's disconnect: wait for the count, not a fixed time
    for (let i = 0; i < 200 && agents.count > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(agents.count).toBe(0);
  });
});
