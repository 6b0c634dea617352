import type { Socket } from 'socket.io';
import {
  AssignmentSchema, type Assignment, type ClientProfile, type ClientToServerEvents, type Hello,
  type ServerToClientEvents,
} from '@splitfleet/splitcore';
import type { ClientInfo } from '../experiment/results.ts';
import { remoteAddress } from './remote-address.ts';
import { populationCsvChunks, populationView, type PopulationSource, type PopulationView } from './population-view.ts';

export type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** A client slot the server admitted: who it is, what it was assigned, and its live connection. */
export interface ClientConn {
  readonly id: number;
  /** Replaced when the client reconnects (it then takes part again from the next round). */
  socket: IoSocket;
  readonly hello: Hello;
  readonly assignment: Assignment;
  readonly labelCounts: number[];
  connected: boolean;
  /** Where its connection comes from (the dashboard shows who joined from where); updated on reconnect. */
  address: string;
}

/** What admission hands every client: the run's fixed facts and each slot's partition. */
export interface AdmissionPlan {
  readonly runId: string;
  readonly seed: number;
  readonly slots: number;
  readonly assignmentBase: Omit<Assignment, 'type' | 'clientId' | 'runId' | 'seed' | 'trainIndices' | 'inputNoise'>;
  readonly partitions: readonly (readonly number[])[];
  readonly inputNoise: readonly number[];
  readonly profiles: readonly ClientProfile[];
  readonly trainLabels: ArrayLike<number>;
  readonly classes: number;
  /** A population run: every slot is a registered client, described whether connected or not. */
  readonly population: boolean;
}

/**
 * The run's client slots: admission (id by token or join order, assignment, label counts),
 * reconnection, and the views other parts read (who is connected, client info, non-IID measures).
 */
export class ClientRegistry {
  private readonly clients = new Map<number, ClientConn>();
  private readonly plan: AdmissionPlan;
  private nextId = 0;
  private joinWaiters: (() => void)[] = [];
  /** A population run's description, fixed for the run. */
  private registered: PopulationView | undefined;

  constructor(plan: AdmissionPlan) {
    this.plan = plan;
  }

  get(id: number): ClientConn | undefined {
    return this.clients.get(id);
  }

  /** Whether a new client without a token may still join (ids follow join order then). */
  get full(): boolean {
    return this.nextId >= this.plan.slots;
  }

  get slots(): number {
    return this.plan.slots;
  }

  connectedIds(): number[] {
    return [...this.clients.values()].filter((c) => c.connected).map((c) => c.id).sort((a, b) => a - b);
  }

  all(): ClientConn[] {
    return [...this.clients.values()].sort((a, b) => a.id - b.id);
  }

  /** A registered client's class counts, connected or not (from its partition). */
  labelCountsOf(id: number): number[] {
    const p = this.plan;
    const labelCounts = new Array<number>(p.classes).fill(0);
    for (const i of p.partitions[id] ?? []) labelCounts[p.trainLabels[i]!]!++;
    return labelCounts;
  }

  /** A registered client's training samples, connected or not. */
  samplesOf(id: number): number {
    return this.plan.partitions[id]?.length ?? 0;
  }

  admit(socket: IoSocket, hello: Hello, fixedId?: number): ClientConn {
    const id = fixedId ?? this.nextId++;
    const p = this.plan;
    const trainIndices = p.partitions[id]!;
    const assignment: Assignment = AssignmentSchema.parse({
      ...p.assignmentBase, type: 'welcome', clientId: id, runId: p.runId, seed: p.seed, trainIndices, inputNoise: p.inputNoise[id] ?? 0,
    });
    const labelCounts = this.labelCountsOf(id);
    const conn: ClientConn = { id, socket, hello, assignment, labelCounts, connected: true, address: remoteAddress(socket.handshake.address) };
    this.clients.set(id, conn);
    this.notifyJoin();
    return conn;
  }

  /** Drops a client's connection record (an ephemeral client after its round); its id stays registered. */
  forget(id: number): void {
    this.clients.delete(id);
  }

  reconnect(known: ClientConn, socket: IoSocket): void {
    known.socket = socket;
    known.connected = true;
    known.address = remoteAddress(socket.handshake.address);
    this.notifyJoin();
  }

  private notifyJoin(): void {
    for (const w of this.joinWaiters) w();
  }

  /** Resolves when every slot is connected; rejects after the timeout with what to check. */
  waitForAll(timeoutMs: number, url: string): Promise<void> {
    const want = this.plan.slots;
    const joined = () => this.connectedIds().length;
    if (joined() >= want) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`only ${joined()} of ${want} clients joined within ${timeoutMs / 1000}s (fleet.joinTimeoutSeconds); is the fleet running and pointed at ${url}?`));
      }, timeoutMs);
      this.joinWaiters.push(() => {
        if (joined() < want) return;
        clearTimeout(timer);
        resolve();
      });
    });
  }

  info(): ClientInfo[] {
    return this.all().map((c) => ({
      id: c.id, runtime: c.hello.runtime, backend: c.hello.backend, adapter: c.hello.adapter, userAgent: c.hello.userAgent ?? null,
      samples: c.assignment.trainIndices.length, labelCounts: c.labelCounts,
    }));
  }

  /**
   * Non-IID measures (label counts per client vs the global distribution) and profiles of the
   * admitted clients — of every registered client in a population run, computed once.
   */
  population(): PopulationView {
    if (this.plan.population) return (this.registered ??= populationView(this.source()));
    return populationView(this.source());
  }

  /** One CSV row per described client, chunk by chunk (population.csv). */
  populationRows(): Generator<string> {
    return populationCsvChunks(this.source());
  }

  /** The described clients, read on demand: every registered one of a population, else the admitted ones. */
  private source(): PopulationSource {
    const ids = this.plan.population ? null : this.all().map((c) => c.id);
    const id = (i: number) => (ids ? ids[i]! : i);
    return {
      size: ids ? ids.length : this.plan.slots,
      counts: (i) => (ids ? this.clients.get(id(i))!.labelCounts : this.labelCountsOf(i)),
      profile: (i) => this.plan.profiles[id(i)]!,
      inputNoise: (i) => this.plan.inputNoise[id(i)] ?? 0,
    };
  }
}
