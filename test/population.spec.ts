import { describe, expect, it } from 'vitest';
import { startHarness, startPopulationHarness, testConfig, tf } from './helpers.ts';
import { isOnline } from '@splitfleet/splitcore';

describe('populations at scale', () => {
  it('runs 200 authenticated clients (each its own socket and partition) on 4 workers for 3 rounds: every client contributes every round, none dropped, memory flat', async () => {
    const cfg = testConfig({
      partition: { kind: 'dirichlet', alpha: 0.5, minSize: 4 },
      fleet: { clients: 200, workers: 4, sample: 1, profiles: { computeSigma: 0.5, network: { '3g': 1, '4g': 1, wifi: 1 } } },
      training: { rounds: 3, batchSize: 4, maxStepsPerRound: 2 },
      data: { testSamples: 100 },
    });
    const h = await startHarness(cfg, { auth: true });
    await h.server.waitForClients();
    const r = await h.server.runRound(0);
    const serverTensors: number[] = [];
    for (const round of [1, 2]) {
      const rr = await h.server.runRound(round);
      expect(rr.participants).toHaveLength(200);
      expect(rr.dropped).toEqual([]);
      serverTensors.push(tf.memory().numTensors);
    }
    expect(serverTensors[1]).toBe(serverTensors[0]);
    const pop = h.server.population();
    const mem = await h.fleet!.memory();
    await h.close();
    expect(h.logs.some((l) => /refused|error/i.test(l))).toBe(false);
    expect(r.selected).toHaveLength(200);
    expect(r.participants).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(r.clients.every((c) => c.steps === 2 && c.bytesUp > 0 && c.simulatedSeconds! > 0)).toBe(true);
    // the virtual clock: 3G clients take longer than wifi clients for the same traffic
    const slow = r.clients.filter((c) => pop.profiles[c.id]!.tier === '3g').map((c) => c.simulatedSeconds!);
    const fast = r.clients.filter((c) => pop.profiles[c.id]!.tier === 'wifi').map((c) => c.simulatedSeconds!);
    expect(Math.min(...slow)).toBeGreaterThan(Math.max(...fast) / 10);
    expect(r.simulatedSeconds).toBe(Math.max(...r.clients.map((c) => c.simulatedSeconds!)));
    expect(pop.meanHellinger).toBeGreaterThan(0.2);
    // idle clients hold no tensors: only the worker's own bookkeeping remains
    expect(mem.every((m) => m.numTensors < 10)).toBe(true);
  });

  it('samples a fraction of clients per round and leaves predicted stragglers out at the deadline', async () => {
    const cfg = testConfig({
      fleet: { clients: 6, workers: 2, sample: 0.5, profiles: { network: { '3g': 1, lan: 1 } } },
      training: { rounds: 2, batchSize: 16, maxStepsPerRound: 2, deadlineSeconds: 1 },
    });
    const h = await startHarness(cfg);
    await h.server.waitForClients();
    const r0 = await h.server.runRound(0);
    const r1 = await h.server.runRound(1);
    const profiles = h.server.population().profiles;
    await h.close();
    for (const r of [r0, r1]) {
      expect(r.selected.length + r.stragglers.length).toBe(3);
      expect(r.notSelected).toHaveLength(3);
      // 3G: 2 steps × ~100 KB up and down at 0.4/1.5 Mb/s ≫ 1 s
      for (const id of r.stragglers) expect(profiles[id]!.tier).toBe('3g');
      for (const id of r.selected) expect(profiles[id]!.tier).toBe('lan');
    }
    expect(r0.selected.concat(r0.stragglers).sort()).not.toEqual(r1.selected.concat(r1.stragglers).sort());
  });

  it('takes part only while the diurnal availability generator says a client is online', async () => {
    const cfg = testConfig({ seed: 4, fleet: { clients: 6, workers: 2, availability: { kind: 'diurnal', period: 4, online: 0.5 } }, training: { rounds: 2, batchSize: 16, maxStepsPerRound: 2 } });
    const h = await startHarness(cfg);
    await h.server.waitForClients();
    const rounds = [await h.server.runRound(0), await h.server.runRound(1)];
    await h.close();
    rounds.forEach((r, round) => {
      const online = [0, 1, 2, 3, 4, 5].filter((id) => isOnline(cfg.fleet.availability, cfg.seed, id, round));
      expect(r.selected).toEqual(online);
      expect(r.participants).toEqual(online);
    });
  });

  it('a population of 10,000 with 20 sampled per round trains 3 rounds with ephemeral clients; a local-mode client keeps its head and tail through the rounds it sits out', async () => {
    const cfg = testConfig({
      partition: { kind: 'dirichlet', alpha: 0.1, scheme: 'per-client', minSize: 0 },
      fleet: { population: 10_000, sample: 20, workers: 2 },
      training: { mode: 'local', rounds: 3, batchSize: 4, maxStepsPerRound: 1 },
      data: { testSamples: 40 },
    });
    expect(cfg.fleet.clients).toBe(10_000);
    const h = await startPopulationHarness(cfg);
    const pop = h.server.population();
    // the population is described by distributions, not 10,000 listed rows
    expect(pop).toMatchObject({ registered: 10_000, clients: [], profiles: [], rowsFile: 'population.csv' });
    expect(pop.distributions!.samples.count).toBe(10_000);
    expect(pop.distributions!.hellinger.quantiles.median).toBeGreaterThan(0.5);
    const rounds = [];
    const held = new Map<number, string>();
    for (const round of [0, 1, 2]) {
      const r = await h.server.runRound(round);
      rounds.push(r);
      expect(r.selected).toHaveLength(20);
      // every summoned client joined and finished; none stays connected once its round is over
      expect(r.participants).toEqual(r.selected);
      expect(r.dropped).toEqual([]);
      expect(r.notSelected).toEqual([]);
      expect(r.notSelectedCount).toBe(9_980);
      expect(h.server.connectedClients).toBe(0);
      expect(h.server.clientStates()).toEqual([]);
      // a client that sat this round out still holds exactly what it trained
      for (const [id, w] of held) if (!r.selected.includes(id)) expect(JSON.stringify(h.server.clientWeights(id)), `client ${id}`).toBe(w);
      for (const id of r.selected) held.set(id, JSON.stringify(h.server.clientWeights(id)));
    }
    const mem = await h.fleet!.memory();
    await h.close();
    expect(new Set(rounds.flatMap((r) => r.selected)).size).toBeGreaterThan(50);
    expect(rounds.some((r) => r.clients.some((c) => c.steps === 1))).toBe(true);
    expect(h.logs.some((l) => /refused|error|did not join/i.test(l))).toBe(false);
    // dismissed clients are disposed on the workers
    expect(mem.every((m) => m.numTensors < 10)).toBe(true);
  });
});

