import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveBrowserAsset } from '@splitfleet/client-sim';
import type { Dashboard } from '../output/dashboard.ts';

export interface RunHttpOptions {
  /** Directory of the run's dataset files, served to browser clients. */
  readonly dataDir: string;
  /** Client slots of the run. */
  readonly clients: number;
  /** Per-slot join tokens (null: the run does not authenticate clients). */
  readonly tokens: readonly string[] | null;
  /** Ids of the clients connected now (a slot in use is never handed out). */
  readonly connected: () => Iterable<number>;
  readonly dashboard: Dashboard | null;
}

/**
 * The run's HTTP beside socket.io: browser clients' scripts and data, the join page's slot tokens
 * (POST /api/join-token hands each free slot out once), and the dashboard. A failing handler
 * answers 500 with its message instead of leaving the request hanging.
 */
export function runHttpHandler(o: RunHttpOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const handedOut = new Set<number>();
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (await serveBrowserAsset(req, res, { dataDir: o.dataDir })) return;
    if ((req.url ?? '').split('?')[0] === '/api/join-token' && req.method === 'POST') {
      const connected = new Set(o.connected());
      const free = Array.from({ length: o.clients }, (_, i) => i).find((i) => !connected.has(i) && !handedOut.has(i));
      res.writeHead(free === undefined ? 409 : 200, { 'content-type': 'application/json' });
      if (free === undefined) return void res.end(JSON.stringify({ message: `all ${o.clients} client slots of this run are taken` }));
      handedOut.add(free);
      return void res.end(JSON.stringify({ clientId: free, token: o.tokens ? o.tokens[free] : null }));
    }
    if (o.dashboard) return o.dashboard.handle(req, res);
    res.writeHead(404).end();
  };
  return (req, res) =>
    void route(req, res).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${e.message}`);
    });
}
