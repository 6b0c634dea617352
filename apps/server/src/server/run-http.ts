import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveBrowserAsset } from '@splitfleet/client-sim';
import type { Dashboard } from '../output/dashboard.ts';
import type { JoinSlots } from './join-slots.ts';
import { remoteAddress } from './remote-address.ts';
import { RequestLimiter } from './request-limit.ts';

export interface RunHttpOptions {
  /** Directory of the run's dataset files, served to browser clients. */
  readonly dataDir: string;
  /** The join page's slots (fleet.openSlots). */
  readonly join: JoinSlots;
  /** Limits of POST /api/join-token (default: JOIN_LIMITS, per remote address and server-wide). */
  readonly joinLimiter?: RequestLimiter;
  readonly dashboard: Dashboard | null;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** POST /api/join-token: rate-limited, then an open slot's token (JoinSlots decides which, or why none). */
function joinToken(o: RunHttpOptions, limiter: RequestLimiter, req: IncomingMessage, res: ServerResponse): void {
  const address = remoteAddress(req.socket.remoteAddress);
  const refused = limiter.admit(address);
  if (refused) {
    const who = refused.scope === 'address' ? `from ${address}` : 'to this server';
    return json(res, 429, { message: `too many join requests ${who}; try again in ${refused.retryAfterSeconds} s`, retryAfterSeconds: refused.retryAfterSeconds }, { 'retry-after': String(refused.retryAfterSeconds) });
  }
  const answer = o.join.take(address);
  json(res, answer.status, answer.body);
}

/**
 * The run's HTTP beside socket.io: browser clients' scripts and data, the join page's slots
 * (GET /api/join-slots: how many are open and free; POST /api/join-token: one open slot's token), and
 * the dashboard. A failing handler answers 500 with its message instead of leaving the request hanging.
 */
export function runHttpHandler(o: RunHttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const limiter = o.joinLimiter ?? new RequestLimiter();
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (await serveBrowserAsset(req, res, { dataDir: o.dataDir })) return;
    const path = (req.url ?? '').split('?')[0];
    if (path === '/api/join-token') return req.method === 'POST' ? joinToken(o, limiter, req, res) : json(res, 405, { message: 'use POST' });
    if (path === '/api/join-slots' && req.method === 'GET') return json(res, 200, o.join.summary());
    if (o.dashboard) return o.dashboard.handle(req, res);
    res.writeHead(404).end();
  };
  return (req, res) =>
    void route(req, res).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${e.message}`);
    });
}
