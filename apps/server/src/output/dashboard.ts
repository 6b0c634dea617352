import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DASHBOARD_HTML } from './dashboard-page.ts';

export interface DashboardClient {
  readonly id: number;
  readonly connected: boolean;
  /** In the current round's lockstep (training or evaluating). */
  readonly active: boolean;
  readonly backend: string;
  readonly runtime: string;
  readonly samples: number;
  /** Remote address of its connection, and the user agent a browser client reported: who joined from where. */
  readonly address: string;
  readonly userAgent: string | null;
}

export interface DashboardPoint {
  readonly round: number;
  readonly testAccuracy: number;
  readonly testLoss: number;
  readonly trainLoss: number | null;
  readonly participants: number;
  readonly dropped: number;
}

/** Everything the page shows; also the body of GET /api/state and of each server-sent event. */
export interface DashboardState {
  readonly runId: string;
  readonly status: 'waiting' | 'training' | 'attacking' | 'completed' | 'failed' | 'stopping';
  readonly mode: string;
  readonly rounds: number;
  readonly round: number;
  readonly step: number;
  readonly steps: number;
  readonly clients: DashboardClient[];
  readonly history: DashboardPoint[];
  readonly attack: { readonly label: string; readonly done: number; readonly total: number } | null;
  /** Whether POST /api/stop is possible at all (an admin token is configured). */
  readonly controllable: boolean;
  readonly error?: string;
}

export interface DashboardOptions {
  readonly runId: string;
  readonly mode: string;
  readonly rounds: number;
  /** Live client list, read when a snapshot is sent (the server owns it). */
  readonly clients: () => DashboardClient[];
  /**
   * Bearer token for control endpoints (SPLITFLEET_ADMIN_TOKEN); null: the dashboard is read-only.
   * Never logged or written to results.
   */
  readonly adminToken: string | null;
  /** POST /api/stop: end training after the current round (the attack, if configured, still runs). */
  readonly onStop?: () => void;
}

/**
 * The live dashboard: a self-contained page at `/`, its state at `/api/state`, updates as
 * server-sent events at `/api/events` (throttled), and one admin-only control, `POST /api/stop`.
 * Served on the split server's own HTTP port, beside socket.io.
 */
export class Dashboard {
  private status: DashboardState['status'] = 'waiting';
  private round = 0;
  private step = 0;
  private steps = 0;
  private readonly history: DashboardPoint[] = [];
  private attack: DashboardState['attack'] = null;
  private error: string | undefined;
  private readonly streams = new Set<ServerResponse>();
  private pending: NodeJS.Timeout | null = null;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly o: DashboardOptions;

  constructor(o: DashboardOptions) {
    this.o = o;
    // keeps the page's client list fresh between rounds (joins, drops) and proxies from timing out
    this.heartbeat = setInterval(() => this.changed(), 2000);
    this.heartbeat.unref();
  }

  snapshot(): DashboardState {
    return {
      runId: this.o.runId, status: this.status, mode: this.o.mode, rounds: this.o.rounds, round: this.round, step: this.step,
      steps: this.steps, clients: this.o.clients(), history: this.history, attack: this.attack,
      controllable: this.o.adminToken !== null, ...(this.error ? { error: this.error } : {}),
    };
  }

  setStatus(s: DashboardState['status'], error?: string): void {
    this.status = s;
    this.error = error;
    this.changed();
  }

  onStep(round: number, step: number, steps: number): void {
    this.status = this.status === 'stopping' ? 'stopping' : 'training';
    this.round = round;
    this.step = step;
    this.steps = steps;
    this.changed();
  }

  onRound(p: DashboardPoint): void {
    const i = this.history.findIndex((h) => h.round === p.round);
    if (i >= 0) this.history.splice(i, 1);
    this.history.push(p);
    this.history.sort((a, b) => a.round - b.round);
    this.round = p.round + 1;
    this.changed();
  }

  onAttack(label: string, done: number, total: number): void {
    this.status = 'attacking';
    this.attack = { label, done, total };
    this.changed();
  }

  /** Request handler for every non-socket.io path; answers 404 for unknown ones. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(DASHBOARD_HTML);
    } else if (req.method === 'GET' && path === '/api/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(this.snapshot()));
    } else if (req.method === 'GET' && path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`data: ${JSON.stringify(this.snapshot())}\n\n`);
      this.streams.add(res);
      req.on('close', () => this.streams.delete(res));
    } else if (path === '/api/stop') {
      if (req.method !== 'POST') return void this.reply(res, 405, 'use POST');
      if (this.o.adminToken === null) return void this.reply(res, 403, 'the dashboard is read-only: start the server with SPLITFLEET_ADMIN_TOKEN set to allow control');
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!sameSecret(given, this.o.adminToken)) return void this.reply(res, 401, 'missing or wrong admin token (Authorization: Bearer <token>)');
      this.status = 'stopping';
      this.o.onStop?.();
      this.changed();
      this.reply(res, 202, 'training stops after the current round');
    } else this.reply(res, 404, `no such page: ${path}`);
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.pending) clearTimeout(this.pending);
    this.flush();
    for (const s of this.streams) s.end();
    this.streams.clear();
  }

  private reply(res: ServerResponse, code: number, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: code < 300, message }));
  }

  /** At most ~5 events a second, whatever the step rate of a large fleet. */
  private changed(): void {
    if (this.pending || this.streams.size === 0) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.flush();
    }, 200);
  }

  private flush(): void {
    if (!this.streams.size) return;
    const msg = `data: ${JSON.stringify(this.snapshot())}\n\n`;
    for (const s of this.streams) s.write(msg);
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
