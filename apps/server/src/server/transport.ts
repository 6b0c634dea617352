import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import {
  BackwardRequestSchema, errorReply, EvalResultSchema, ForwardRequestSchema, HelloSchema, parseMessage, PROTOCOL_VERSION,
  RoundDoneSchema, type ClientToServerEvents, type ErrorReply, type Hello, type ServerToClientEvents,
} from '@splitfleet/splitcore';
import type { z } from 'zod';
import { AuthError, authRefusal, verifyToken } from './auth.ts';
import type { ClientConn, IoSocket } from './admission.ts';
import { TokenBucket } from './token-bucket.ts';

/** Every inbound event and the schema its payload must pass: the one list of known events. */
const INBOUND = {
  hello: HelloSchema, forward: ForwardRequestSchema, backward: BackwardRequestSchema, roundDone: RoundDoneSchema, evalDone: EvalResultSchema,
} as const satisfies { [E in keyof ClientToServerEvents]: z.ZodType };
const KNOWN_EVENTS = new Set<string>(Object.keys(INBOUND));
type ClientEvent = Exclude<keyof typeof INBOUND, 'hello'>;
/** Events whose sender must pass an acknowledgement callback (they are answered). */
const ANSWERED: ReadonlySet<ClientEvent> = new Set(['forward', 'backward']);

/** What the transport hands on once a message has passed every check it owns. */
export interface TransportHandlers {
  /** A hello from a connection with no client yet: admit (or readmit) it, or say why not. */
  hello(socket: IoSocket, msg: Hello, tokenId: number | undefined): ClientConn | ErrorReply;
  /** A message of an admitted client; an error reply counts as a bad frame. */
  message<E extends ClientEvent>(event: E, c: ClientConn, msg: z.infer<(typeof INBOUND)[E]>, ack: ((r: unknown) => void) | undefined): ErrorReply | null;
  disconnected(c: ClientConn, reason: string): void;
  /** Whether a client id is connected now (a token is refused while its client is). */
  isConnected(id: number): boolean;
}

export interface TransportOptions {
  readonly runId: string;
  readonly slots: number;
  /** Token authentication (socket.io middleware); null: open server (tests of the protocol only). */
  readonly auth: { readonly secret: string } | null;
  readonly rateLimit: number;
  readonly maxBadFrames: number;
  readonly maxFrameBytes: number;
  readonly pingTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly host?: string;
  readonly port?: number;
  readonly http?: (req: IncomingMessage, res: ServerResponse) => void;
  readonly log: (line: string) => void;
}

/**
 * The split server's socket.io transport: authentication before any handler runs, a rate limit per
 * connection, unknown events, schema checks of every payload, and disconnecting a peer after too
 * many bad frames in a row. It holds no training logic: valid messages go to the handlers.
 */
export class Transport {
  readonly io: Server<ClientToServerEvents, ServerToClientEvents>;
  private readonly http: HttpServer;
  private readonly o: TransportOptions;
  private readonly h: TransportHandlers;

  private constructor(o: TransportOptions, h: TransportHandlers, http: HttpServer) {
    this.o = o;
    this.h = h;
    this.http = http;
    this.io = new Server(http, { maxHttpBufferSize: o.maxFrameBytes, serveClient: false, pingTimeout: o.pingTimeoutMs, pingInterval: o.pingIntervalMs });
    if (o.auth) this.io.use((socket, next) => this.authenticate(o.auth!.secret, socket, next));
    this.io.on('connection', (s) => this.onConnection(s));
  }

  static async listen(o: TransportOptions, h: TransportHandlers): Promise<Transport> {
    const http = createServer((req, res) => (o.http ? o.http(req, res) : void res.writeHead(404).end()));
    const t = new Transport(o, h, http);
    await new Promise<void>((res, rej) => {
      http.once('error', rej);
      http.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => res());
    });
    return t;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo;
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Every connection proves who it is before any event handler runs; the token decides the client id. */
  private authenticate(secret: string, socket: IoSocket, next: (err?: Error) => void): void {
    try {
      const claims = verifyToken(secret, (socket.handshake.auth as { token?: unknown } | undefined)?.token, this.o.runId, this.o.slots);
      if (this.h.isConnected(claims.client)) throw new AuthError('reused', `token of client ${claims.client} is already in use by a connected client`);
      (socket.data as { client?: number }).client = claims.client;
      next();
    } catch (e) {
      const err = authRefusal(e);
      this.o.log(`refused a connection: ${err.message}`);
      next(err);
    }
  }

  private onConnection(socket: IoSocket): void {
    const guard = new ConnectionGuard(socket, this.o);
    socket.use((packet, next) => (guard.admitPacket(packet[packet.length - 1]) ? next() : undefined));
    socket.onAny((event: string, ...args: unknown[]) => {
      if (!KNOWN_EVENTS.has(event)) guard.reject(args[args.length - 1], errorReply('unknown-event', `unknown event "${event}"; known: ${[...KNOWN_EVENTS].join(', ')}`));
    });
    socket.on('hello', (raw, ack) => this.onHello(guard, socket, raw, ack));
    for (const event of Object.keys(INBOUND) as (keyof typeof INBOUND)[]) {
      if (event === 'hello') continue;
      socket.on(event, ((raw: unknown, ack: unknown) => this.onMessage(guard, event, raw, ack)) as never);
    }
    socket.on('disconnect', (reason) => {
      if (guard.client && guard.client.socket === socket) this.h.disconnected(guard.client, reason);
    });
  }

  private onHello(guard: ConnectionGuard, socket: IoSocket, raw: unknown, ack: unknown): void {
    const p = parseMessage(HelloSchema, raw);
    if (!p.ok) return guard.reject(ack, p.error);
    if (p.value.protocol !== PROTOCOL_VERSION) return guard.reject(ack, errorReply('bad-protocol', `protocol ${p.value.protocol} is not the server's ${PROTOCOL_VERSION}`));
    if (guard.client) return guard.reject(ack, errorReply('bad-message', `already joined as client ${guard.client.id}`));
    const r = this.h.hello(socket, p.value, (socket.data as { client?: number }).client);
    if ('type' in r && r.type === 'error') return guard.reject(ack, r);
    guard.client = r as ClientConn;
    guard.ok();
    if (typeof ack === 'function') ack(guard.client.assignment);
  }

  private onMessage(guard: ConnectionGuard, event: ClientEvent, raw: unknown, ack: unknown): void {
    const ackFn = ANSWERED.has(event) ? ack : undefined;
    const c = guard.client;
    if (!c) return guard.reject(ackFn, errorReply('unknown-client', 'send hello first: this connection has no client id'));
    const p = parseMessage(INBOUND[event], raw);
    if (!p.ok) return guard.reject(ackFn, p.error);
    if (ANSWERED.has(event) && typeof ack !== 'function') return guard.reject(undefined, errorReply('bad-message', `${event} needs an acknowledgement callback`));
    let err: ErrorReply | null;
    try {
      err = this.h.message(event, c, p.value as never, ackFn as ((r: unknown) => void) | undefined);
    } catch (e) {
      // nothing a client sends may throw past here: that would end the run for everyone
      this.o.log(`client ${c.id}: ${event} failed inside the server: ${(e as Error).message}`);
      err = errorReply('internal', `${event}: ${(e as Error).message}`);
    }
    if (err) guard.reject(ackFn, err);
    else guard.ok();
  }

  /** Tells every connected client the run is over, then closes sockets and the HTTP server. */
  async close(reason: string, clients: readonly ClientConn[]): Promise<void> {
    for (const c of clients) if (c.connected) c.socket.emit('shutdown', { type: 'shutdown', reason });
    await new Promise((r) => setTimeout(r, 50));
    this.io.disconnectSockets(true);
    const closed = new Promise<void>((res) => this.io.close(() => res()));
    // long-lived dashboard streams and idle keep-alive connections would hold http.close() open
    this.http.closeAllConnections();
    await closed;
  }
}

/** One connection's policing: its token bucket, its run of bad frames, and the client it joined as. */
class ConnectionGuard {
  client: ClientConn | null = null;
  private strikes = 0;
  /** server.rateLimit messages per second, as many at once. */
  private readonly bucket: TokenBucket;
  private readonly socket: IoSocket;
  private readonly o: TransportOptions;

  constructor(socket: IoSocket, o: TransportOptions) {
    this.socket = socket;
    this.o = o;
    this.bucket = new TokenBucket({ burst: o.rateLimit, perSecond: o.rateLimit }, performance.now());
  }

  admitPacket(ack: unknown): boolean {
    if (this.bucket.wait(performance.now()) > 0) {
      this.reject(ack, errorReply('rate-limited', `more than ${this.o.rateLimit} messages per second (server.rateLimit)`));
      return false;
    }
    this.bucket.take();
    return true;
  }

  ok(): void {
    this.strikes = 0;
  }

  reject(ack: unknown, err: ErrorReply): void {
    if (typeof ack === 'function') (ack as (e: ErrorReply) => void)(err);
    else this.socket.emit('protocolError', err);
    if (++this.strikes >= this.o.maxBadFrames) {
      this.o.log(`${this.client ? `client ${this.client.id}` : 'a connection'}: disconnected after ${this.o.maxBadFrames} bad frames in a row`);
      this.socket.disconnect(true);
    }
  }
}
