/**
 * The join page's client slots. Slots 0..reserved-1 belong to the operator's fleet (their tokens are
 * in tokens.json); only the last `fleet.openSlots` are ever handed out here, each once, so a stranger
 * can neither take a fleet's slot nor get the same open slot twice.
 */

export interface JoinSlotsOptions {
  readonly clients: number;
  readonly openSlots: number;
  /** Every slot's token (null: the run does not authenticate; config then allows no open slots). */
  readonly tokens: readonly string[] | null;
  /** Ids of the clients connected now (a slot in use is never handed out). */
  readonly connected: () => Iterable<number>;
  readonly log?: (line: string) => void;
}

export type JoinAnswer =
  | { readonly status: 200; readonly body: { readonly clientId: number; readonly token: string | null } }
  | { readonly status: 403 | 409; readonly body: { readonly message: string } };

/** What the join page shows before anyone presses Join. */
export interface JoinSummary {
  readonly open: number;
  readonly free: number;
  /** Why nobody can join now (null: a slot is free). */
  readonly message: string | null;
}

export class JoinSlots {
  /** Ids of the open slots: the last `openSlots` of the run. */
  readonly open: readonly number[];
  private readonly handedTo = new Map<number, string>();
  private readonly o: JoinSlotsOptions;

  constructor(o: JoinSlotsOptions) {
    this.o = o;
    this.open = Array.from({ length: o.openSlots }, (_, k) => o.clients - o.openSlots + k);
  }

  summary(): JoinSummary {
    const free = this.freeSlots().length;
    return { open: this.open.length, free, message: free > 0 ? null : this.refusal().body.message };
  }

  /** Hands the lowest free open slot and its token to `address`; never a reserved slot. */
  take(address: string): JoinAnswer {
    const slot = this.freeSlots()[0];
    if (slot === undefined) return this.refusal();
    this.handedTo.set(slot, address);
    this.o.log?.(`join page: open slot ${slot} handed to ${address}`);
    return { status: 200, body: { clientId: slot, token: this.o.tokens ? this.o.tokens[slot]! : null } };
  }

  private freeSlots(): number[] {
    const connected = new Set(this.o.connected());
    return this.open.filter((s) => !this.handedTo.has(s) && !connected.has(s));
  }

  private refusal(): JoinAnswer & { status: 403 | 409 } {
    if (this.open.length === 0)
      return { status: 403, body: { message: `this run has no open slots: all ${this.o.clients} client slots are reserved for the operator's own fleet (the operator opens some with fleet.openSlots)` } };
    return { status: 409, body: { message: `all ${this.open.length} open slot${this.open.length === 1 ? '' : 's'} of this run are taken` } };
  }
}
