import type { Server, Socket } from 'socket.io';
import { shardRows } from '@splitfleet/splitcore';
import { authRefusal, verifyAgentToken } from './auth.ts';
import type { SummonFleet } from './ephemeral-clients.ts';

/** The socket.io namespace fleet agents connect to. */
export const AGENTS_NAMESPACE = '/agents';

export interface FleetAgentOptions {
  readonly secret: string;
  readonly runId: string;
  /** How long one agent may take to answer a summons (fleet.joinTimeoutSeconds). */
  readonly summonTimeoutMs: number;
  readonly log: (line: string) => void;
}

/**
 * The fleet agents of a population run served by `splitfleet serve`: fleet processes on any host
 * (`splitfleet fleet --ephemeral --tokens <run>/tokens.json`) that connect to the agents namespace
 * with the run's agent token and instantiate the clients the server summons for a round — what the
 * run's own fleet does over IPC, over the network. A round's summons are split over the connected
 * agents in contiguous, nearly equal blocks (agents in connection order); the clients then join the
 * main namespace with their own tokens, as every client does. Agents send nothing but their answers:
 * any other event disconnects them, and an answer that is not a list of the summoned ids counts as
 * none joined.
 */
export class FleetAgents {
  private readonly o: FleetAgentOptions;
  private agents: Socket[] = [];
  private waiters: (() => void)[] = [];

  constructor(io: Server, o: FleetAgentOptions) {
    this.o = o;
    const ns = io.of(AGENTS_NAMESPACE);
    ns.use((socket, next) => {
      try {
        verifyAgentToken(o.secret, (socket.handshake.auth as { token?: unknown } | undefined)?.token, o.runId);
        next();
      } catch (e) {
        const err = authRefusal(e);
        o.log(`refused a fleet agent: ${err.message}`);
        next(err);
      }
    });
    ns.on('connection', (socket) => this.admit(socket));
  }

  /** Fleet agents connected now. */
  get count(): number {
    return this.agents.length;
  }

  /** Resolves when at least one agent is connected; rejects after `timeoutMs` with how to start one. */
  waitForAgent(timeoutMs: number, hint: string): Promise<void> {
    if (this.agents.length > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no fleet agent connected within ${timeoutMs / 1000}s (fleet.joinTimeoutSeconds); start one: ${hint}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Asks the connected agents to instantiate these clients; resolves with the ids they report joined. */
  readonly summon: SummonFleet = async (entries) => {
    const agents = [...this.agents];
    if (agents.length === 0) {
      this.o.log(`no fleet agent is connected: the ${entries.length} summoned clients cannot join this round`);
      return [];
    }
    const sizes = shardRows(entries.length, agents.length, 1);
    let from = 0;
    const blocks = sizes.map((n) => entries.slice(from, (from += n)));
    const answers = await Promise.all(blocks.map((block, i) => (block.length ? this.ask(agents[i]!, block) : Promise.resolve([]))));
    return answers.flat();
  };

  /** Tells every agent the run is over (they end their workers). */
  end(): void {
    for (const a of this.agents) a.emit('end');
  }

  private admit(socket: Socket): void {
    this.agents.push(socket);
    this.o.log(`fleet agent connected from ${socket.handshake.address} (${this.agents.length} now)`);
    socket.onAny((event: string) => {
      this.o.log(`fleet agent sent "${event}", which agents may not send: disconnected`);
      socket.disconnect(true);
    });
    socket.on('disconnect', (reason) => {
      this.agents = this.agents.filter((a) => a !== socket);
      this.o.log(`fleet agent disconnected (${reason}; ${this.agents.length} left)`);
    });
    for (const w of this.waiters.splice(0)) w();
  }

  private async ask(agent: Socket, block: readonly { readonly id: number; readonly token: string | null }[]): Promise<number[]> {
    const asked = new Set(block.map((e) => e.id));
    try {
      const r: unknown = await agent.timeout(this.o.summonTimeoutMs).emitWithAck('summon', block);
      return Array.isArray(r) ? r.filter((id): id is number => Number.isInteger(id) && asked.delete(id)) : [];
    } catch {
      return [];
    }
  }
}
