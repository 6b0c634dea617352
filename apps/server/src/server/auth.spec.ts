import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AuthError, mintAgentToken, mintToken, mintTokens, newSecret, verifyAgentToken, verifyToken } from './auth.ts';

const reason = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return e instanceof AuthError ? e.reason : `other: ${(e as Error).message}`;
  }
};

describe('client tokens', () => {
  const secret = newSecret();
  const now = 1_700_000_000;

  it('a minted token verifies to its own client id, run and expiry', () => {
    const [t0, t1] = mintTokens(secret, 'run-a', 2, 60);
    expect(verifyToken(secret, t0, 'run-a', 2).client).toBe(0);
    expect(verifyToken(secret, t1, 'run-a', 2).client).toBe(1);
  });

  it('names why a token is refused: missing, malformed, forged, wrong run, expired, out of range', () => {
    const ok = { run: 'r', client: 1, exp: now + 10 };
    expect(reason(() => verifyToken(secret, undefined, 'r', 2, now))).toBe('missing');
    expect(reason(() => verifyToken(secret, 'v2.a.b', 'r', 2, now))).toBe('malformed');
    expect(reason(() => verifyToken(secret, mintToken(newSecret(), ok), 'r', 2, now))).toBe('forged');
    expect(reason(() => verifyToken(secret, mintToken(secret, ok), 'other', 2, now))).toBe('wrong-run');
    expect(reason(() => verifyToken(secret, mintToken(secret, { ...ok, exp: now - 1 }), 'r', 2, now))).toBe('expired');
    expect(reason(() => verifyToken(secret, mintToken(secret, { ...ok, client: 2 }), 'r', 2, now))).toBe('unknown-client');
  });

  it('a changed token is refused as forged or malformed unless it decodes to the very same bytes', () => {
    const t = mintToken(secret, { run: 'r', client: 0, exp: now + 10 });
    const bytes = (tok: string) => tok.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex')).join('.');
    fc.assert(fc.property(fc.nat(t.length - 1), fc.string({ minLength: 1, maxLength: 1 }), (i, ch) => {
      fc.pre(t[i] !== ch);
      const bad = t.slice(0, i) + ch + t.slice(i + 1);
      const r = reason(() => verifyToken(secret, bad, 'r', 1, now));
      // base64 ignores stray characters and a last character's spare bits: such a token is the same token
      if (r === 'accepted') expect(bytes(bad)).toBe(bytes(t));
      else expect(['forged', 'malformed']).toContain(r);
    }));
  });

  it("a fleet agent's token takes summons and admits no client; a client's token is no agent's", () => {
    const secret = newSecret();
    const agent = mintAgentToken(secret, 'run-a', 60);
    expect(verifyAgentToken(secret, agent, 'run-a').role).toBe('agent');
    expect(reason(() => verifyToken(secret, agent, 'run-a', 100))).toBe('wrong-role');
    expect(reason(() => verifyAgentToken(secret, mintTokens(secret, 'run-a', 1, 60)[0], 'run-a'))).toBe('wrong-role');
    expect(reason(() => verifyAgentToken(secret, agent, 'run-b'))).toBe('wrong-run');
    expect(reason(() => verifyAgentToken(newSecret(), agent, 'run-a'))).toBe('forged');
    expect(reason(() => verifyAgentToken(secret, mintAgentToken(secret, 'run-a', -1), 'run-a'))).toBe('expired');
  });
});
