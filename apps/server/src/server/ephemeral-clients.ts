import type { ClientRegistry } from './admission.ts';

/** What the run's fleet is asked for: instantiate these clients (with their tokens) for a round. */
export type SummonFleet = (entries: readonly { readonly id: number; readonly token: string | null }[]) => Promise<number[]>;

export interface EphemeralDeps {
  readonly registry: ClientRegistry;
  readonly summonFleet: SummonFleet;
  /** A token for a client id (null: an open server, ids by join order — not allowed for populations). */
  readonly mint: (id: number) => string | null;
  /** How long a round waits for its summoned clients to join (fleet.joinTimeoutSeconds). */
  readonly joinTimeoutMs: number;
  readonly log: (line: string) => void;
}

/**
 * The clients of a population run (fleet.population), as Flower's ClientApp: a registered client
 * is an id with a partition and a profile, no worker and no connection. The clients sampled for a
 * round are summoned — instantiated on the fleet's workers, each with its own authenticated
 * connection — and dismissed after it; what a client keeps between rounds stays on the server
 * (its head/tail in `local` mode: ModelState.perClient, saved in checkpoints).
 */
export class EphemeralClients {
  private readonly d: EphemeralDeps;
  private readonly dismissed = new Set<number>();

  constructor(deps: EphemeralDeps) {
    this.d = deps;
  }

  /** Summons the round's clients; resolves with those that joined in time (the others sit the round out). */
  async summon(ids: readonly number[]): Promise<number[]> {
    if (ids.length === 0) return [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((res) => (timer = setTimeout(() => res(null), this.d.joinTimeoutMs)));
    const joined = await Promise.race([this.d.summonFleet(ids.map((id) => ({ id, token: this.d.mint(id) }))), late]);
    clearTimeout(timer);
    const present = ids.filter((id) => this.d.registry.get(id)?.connected);
    if (present.length < ids.length) this.d.log(`${ids.length - present.length} of ${ids.length} summoned clients did not join${joined === null ? ` within ${this.d.joinTimeoutMs / 1000}s (fleet.joinTimeoutSeconds)` : ''}; they sit this round out`);
    return present;
  }

  /** Ends the round's clients: each is told, disconnected and forgotten by the registry (its state stays on the server). */
  dismiss(ids: readonly number[]): void {
    for (const id of ids) {
      const c = this.d.registry.get(id);
      if (c?.connected) {
        this.dismissed.add(id);
        c.socket.emit('shutdown', { type: 'shutdown', reason: 'dismissed: the round is over (summoned again when sampled)' });
        c.socket.disconnect(true);
      }
      this.d.registry.forget(id);
    }
  }

  /** True once for a client whose disconnect was its dismissal (not worth a log line or a drop). */
  takeDismissal(id: number): boolean {
    return this.dismissed.delete(id);
  }
}
