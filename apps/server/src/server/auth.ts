import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Client tokens: `v1.<payload base64url>.<HMAC-SHA256 base64url>` where the payload is
 * {run, client, exp, nonce}. Signed with the server's secret, bound to one client id and one run,
 * with an expiry. The secret never leaves the server process (tokens are handed to fleets).
 */
export interface TokenClaims {
  readonly run: string;
  /** The client id the token admits (-1 in a fleet agent's token, which admits no client). */
  readonly client: number;
  /** `agent`: a fleet agent of a population run (it instantiates the clients the server summons). */
  readonly role?: 'agent';
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  readonly nonce: string;
}

export class AuthError extends Error {
  readonly reason: 'missing' | 'malformed' | 'forged' | 'expired' | 'wrong-run' | 'reused' | 'unknown-client' | 'wrong-role';
  constructor(reason: AuthError['reason'], message: string) {
    super(message);
    this.reason = reason;
    this.name = 'AuthError';
  }
}

/**
 * The error a refused socket.io connection is handed (its connect_error): `auth <reason>: <why>`,
 * with the reason in `data` for peers that branch on it; anything but an AuthError is `auth failed`.
 */
export function authRefusal(e: unknown): Error & { data: { reason: string } } {
  const err = new Error(e instanceof AuthError ? `auth ${e.reason}: ${e.message}` : 'auth failed') as Error & { data: { reason: string } };
  err.data = { reason: e instanceof AuthError ? e.reason : 'failed' };
  return err;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function mintToken(secret: string, claims: Omit<TokenClaims, 'nonce'>): string {
  const payload = b64(JSON.stringify({ ...claims, nonce: randomBytes(8).toString('base64url') }));
  const mac = createHmac('sha256', secret).update(`v1.${payload}`).digest();
  return `v1.${payload}.${b64(mac)}`;
}

export function mintTokens(secret: string, run: string, clients: number, ttlSeconds: number): string[] {
  const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
  return Array.from({ length: clients }, (_, client) => mintToken(secret, { run, client, exp }));
}

/**
 * The token of a population run's fleet agent (`splitfleet fleet --ephemeral --tokens`): it lets a
 * fleet process take the server's summons, and admits no client — each summoned client still gets a
 * token of its own.
 */
export function mintAgentToken(secret: string, run: string, ttlSeconds: number): string {
  return mintToken(secret, { run, client: -1, role: 'agent', exp: Math.floor(Date.now() / 1000) + ttlSeconds });
}

/** Checks signature, run, expiry and client range; throws AuthError with the reason. */
export function verifyToken(secret: string, token: unknown, run: string, clients: number, now = Date.now() / 1000): TokenClaims {
  const c = verifySigned(secret, token, run, now);
  if (c.role !== undefined) throw new AuthError('wrong-role', `a ${c.role} token admits no client`);
  if (!Number.isInteger(c.client) || c.client < 0 || c.client >= clients) throw new AuthError('unknown-client', `token is for client ${c.client}, the run has clients 0..${clients - 1}`);
  return c;
}

/** Checks a fleet agent's token: signature, run, expiry and the agent role; throws AuthError with the reason. */
export function verifyAgentToken(secret: string, token: unknown, run: string, now = Date.now() / 1000): TokenClaims {
  const c = verifySigned(secret, token, run, now);
  if (c.role !== 'agent') throw new AuthError('wrong-role', `token is client ${c.client}'s, not a fleet agent's`);
  return c;
}

function verifySigned(secret: string, token: unknown, run: string, now: number): TokenClaims {
  if (typeof token !== 'string' || token.length === 0) throw new AuthError('missing', 'no token: connect with auth: { token }');
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') throw new AuthError('malformed', 'token is not of the form v1.<payload>.<signature>');
  const expected = createHmac('sha256', secret).update(`v1.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AuthError('forged', 'token signature does not match this server\'s secret');
  let c: TokenClaims;
  try {
    c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()) as TokenClaims;
  } catch {
    throw new AuthError('malformed', 'token payload is not JSON');
  }
  if (c.run !== run) throw new AuthError('wrong-run', `token is for run ${c.run}, this server runs ${run}`);
  if (!(c.exp > now)) throw new AuthError('expired', `token expired at ${new Date(c.exp * 1000).toISOString()}`);
  return c;
}
