// Populations (issue #22) for `npm run bench`, in its own process so its memory figures are its own:
// what a registered client costs the server (its partition, profile and description — no worker, no
// connection), and a population round with ephemeral clients against a standing fleet of the same
// sampled size. Prints one JSON array of rows (ScopeBenchRow).
// `node --expose-gc scripts/bench-population.ts [--full]`
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { initBackend, readDataset, startFleet, type FleetHandle } from '@splitfleet/client-sim';
import { parseConfig, type ConfigInput } from '../apps/server/src/experiment/config.ts';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';
import { SplitServer } from '../apps/server/src/server/split-server.ts';
import { mintTokens, newSecret } from '../apps/server/src/server/auth.ts';
import type { ScopeBenchRow } from './bench-scopes.ts';
import { FULL_FASHION_MNIST, fullDataConfig, standingRound } from './standing-round.ts';

const full = process.argv.includes('--full');
const rows: ScopeBenchRow[] = [];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const data = readDataset('fashion-mnist', null, { trainImages: false });
const cfgOf = (over: ConfigInput) => parseConfig({
  seed: 1, data: { testSamples: 64 }, partition: { kind: 'dirichlet', alpha: 0.1, scheme: 'per-client', minSize: 0 },
  training: { mode: 'splitfed', rounds: 1, batchSize: 4, maxStepsPerRound: 1, checkpointEvery: 0 }, ...over,
});
await initBackend('wasm');

/** Heap + external bytes after a full collection: what the process holds, not what it once touched. */
function heldBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** A server for a population of n (no client connects): its held bytes, with the description results.json reads. */
async function registered(n: number): Promise<number> {
  const before = heldBytes();
  const cfg = cfgOf({ fleet: { population: n, sample: 10, workers: 1, backend: 'wasm' } });
  const server = await SplitServer.start({ config: cfg, runId: 'bench', setup: setupExperiment(cfg, data), auth: { secret: newSecret() }, summonFleet: async () => [] });
  server.population();
  const held = heldBytes() - before;
  await server.close();
  return held;
}

{
  const small = await registered(100);
  const large = await registered(100_000);
  const perClient = (large - small) / (100_000 - 100);
  rows.push({ name: 'bytes per registered (idle) client: 100,000 vs 100 registered', value: perClient, unit: 'bytes', baseline: '', base: null, note: `heap + external after GC, server with partitions, profiles and the population summary; ${(large / 2 ** 20).toFixed(0)} MiB for 100,000; target ≤ 2 KB` });
}

/**
 * Wall seconds of one splitfed round of `sampled` clients, one step of 4 samples each, evaluation
 * included: a standing fleet of `sampled` clients (connected before the round), or a population of
 * `population` from which the round's clients are summoned (connect, authenticate, join, dismissal).
 */
async function roundSeconds(sampled: number, population: number | null): Promise<number> {
  const fleetCfg = population === null ? { clients: sampled } : { population, sample: sampled };
  const cfg = cfgOf({ fleet: { ...fleetCfg, workers: 2, backend: 'wasm', joinTimeoutSeconds: 600 }, partition: { kind: 'iid' } });
  let fleet: FleetHandle | null = null;
  const secret = newSecret();
  const server = await SplitServer.start({ config: cfg, runId: 'bench', setup: setupExperiment(cfg, data), auth: { secret }, summonFleet: (e) => fleet!.summon(e) });
  const tokens = population === null ? mintTokens(secret, 'bench', sampled, 3600) : undefined;
  fleet = await startFleet({ serverUrl: server.url, clients: population === null ? sampled : 0, ephemeral: population !== null, workers: 2, backend: 'wasm', ...(tokens ? { tokens } : {}) });
  if (population === null) await server.waitForClients();
  const t0 = performance.now();
  await server.runRound(0);
  const seconds = (performance.now() - t0) / 1000;
  await server.close();
  await fleet.terminate();
  return seconds;
}

{
  const sampled = full ? 100 : 20;
  const standing = await roundSeconds(sampled, null);
  const ephemeral = await roundSeconds(sampled, full ? 5_000 : 1_000);
  rows.push({
    name: `one round of ${sampled} clients summoned from a population of ${full ? '5,000' : '1,000'} (ephemeral), wall s`, value: ephemeral, unit: 's',
    baseline: `${sampled} standing clients`, base: standing, note: 'one step of 4 samples each plus evaluation; the difference is connecting, authenticating, joining and dismissing each client',
  });
}

/**
 * The per-client overhead target (--full): one local epoch of the full Fashion-MNIST, batch
 * 16, splitfed, by 1,000 standing clients (≈ 58 images each) against 8 (≈ 7,250 each) — samples/s.
 */
async function epochRate(clients: number): Promise<number> {
  const { result, seconds } = await standingRound(fullDataConfig(clients));
  return result.clients.reduce((s, c) => s + c.samples, 0) / seconds;
}

if (full && existsSync(FULL_FASHION_MNIST)) {
  const eight = await epochRate(8);
  const thousand = await epochRate(1000);
  rows.push({
    name: '1,000 active clients, one epoch of the full Fashion-MNIST (batch 16), samples/s', value: thousand, unit: 'samples/s',
    baseline: '8 clients, the same epoch', base: eight, note: 'target ≥ 0.5× (issue #22); round wall time incl. one evaluation, joins excluded',
  });
  // the middle served in bounded runs of clients (server.middleChunkRows, default 1024) against each step whole
  const step = (chunkRows: string) => JSON.parse(execFileSync(process.execPath, ['scripts/bench-chunked-step.ts', '500', chunkRows], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!) as { seconds: number; wasmHeapMiB: number };
  const whole = step('null');
  const runs = step('1024');
  rows.push({ name: '500 clients × 16 rows a step, middle served in runs of ≤ 1,024 rows: server wasm heap high-water, MiB', value: runs.wasmHeapMiB, unit: 'MiB', baseline: 'each 8,000-row step served whole', base: whole.wasmHeapMiB, note: 'main thread of the server (the middle pool\'s other thread and the fleet have their own heaps); two steps, full Fashion-MNIST' });
  rows.push({ name: 'the same round, wall s', value: runs.seconds, unit: 's', baseline: 'each step served whole', base: whole.seconds, note: 'runs of whole clients recompute all but the last run\'s forward in the backward' });
}

console.log(JSON.stringify(rows));
