import { readFileSync } from 'node:fs';
import { io } from 'socket.io-client';
import type { FleetHandle, SummonEntry } from './fleet.ts';

/**
 * A fleet agent: takes a population run's summons from `splitfleet serve` over the network (the
 * server's `/agents` namespace, admitted by the run's agent token) and instantiates the summoned
 * clients on this fleet's workers; each then joins the server with its own token, as every client
 * does. Resolves with 0 when the server ends the run or closes, 1 when it refuses the agent.
 */
export function takeSummonsAsAgent(fleet: FleetHandle, serverUrl: string, token: string, log: (line: string) => void): Promise<number> {
  const socket = io(`${serverUrl.replace(/\/$/, '')}/agents`, { auth: { token }, reconnection: false, transports: ['websocket'] });
  return new Promise<number>((resolve) => {
    const done = (code: number) => {
      socket.removeAllListeners();
      socket.disconnect();
      resolve(code);
    };
    socket.on('connect', () => log(`taking summons from ${serverUrl} as a fleet agent`));
    socket.on('connect_error', (e) => {
      log(`the server refused this fleet agent: ${e.message}`);
      done(1);
    });
    socket.on('summon', (entries: unknown, ack: (ids: number[]) => void) => {
      if (!isSummons(entries)) return ack([]);
      void fleet.summon(entries).then(ack, () => ack([]));
    });
    socket.on('end', () => done(0));
    socket.on('disconnect', (reason) => {
      log(`the server closed the connection (${reason}): the run is over`);
      done(0);
    });
  });
}

function isSummons(x: unknown): x is SummonEntry[] {
  return Array.isArray(x) && x.every((e) => typeof e === 'object' && e !== null && Number.isInteger((e as SummonEntry).id) && (typeof (e as SummonEntry).token === 'string' || (e as SummonEntry).token === null));
}

/** The agent token in a population run's tokens.json (`{"agent": "<token>"}`, written by `splitfleet serve`). */
export function loadAgentToken(file: string): string {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const token = typeof parsed === 'object' && parsed !== null ? (parsed as { agent?: unknown }).agent : undefined;
  if (typeof token !== 'string') throw new Error(`${file}: expected {"agent": "<token>"} (the tokens.json of a population run served by splitfleet serve)`);
  return token;
}
