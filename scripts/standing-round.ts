// One training round of a standing fleet for the benchmarks: a server in this process with the
// config's clients (fleet.clients, fleet.workers, fleet.backend) joined over authenticated
// connections first, then round 0 timed alone (joins excluded). Used by bench-population.ts and
// bench-chunked-step.ts.
import { readDataset, startFleet } from '@splitfleet/client-sim';
import type { RoundResult } from '@splitfleet/splitcore';
import { parseConfig, type Config, type ConfigInput } from '../apps/server/src/experiment/config.ts';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';
import { SplitServer } from '../apps/server/src/server/split-server.ts';
import { mintTokens, newSecret } from '../apps/server/src/server/auth.ts';

export async function standingRound(cfg: Config): Promise<{ result: RoundResult; seconds: number }> {
  const secret = newSecret();
  const data = readDataset(cfg.data.name, cfg.data.dir, { trainImages: false });
  const server = await SplitServer.start({ config: cfg, runId: 'bench', setup: setupExperiment(cfg, data), auth: { secret } });
  const { clients, workers, backend } = cfg.fleet;
  const fleet = await startFleet({ serverUrl: server.url, clients, workers, backend, tokens: mintTokens(secret, 'bench', clients, 3600) });
  await server.waitForClients();
  const t0 = performance.now();
  const result = await server.runRound(0);
  const seconds = (performance.now() - t0) / 1000;
  await server.close();
  await fleet.terminate();
  return { result, seconds };
}

/** Debian's dataset-fashion-mnist: the full set the --full rows train on. */
export const FULL_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/**
 * The --full rows' round: splitfed on the full Fashion-MNIST, iid, batch 16, 2 wasm workers, with
 * join, heartbeat and step timeouts long enough for 1,000 clients on 2 cores.
 */
export function fullDataConfig(clients: number, over: { server?: ConfigInput['server']; training?: ConfigInput['training'] } = {}): Config {
  return parseConfig({
    seed: 1, data: { name: 'fashion-mnist', dir: FULL_FASHION_MNIST, testSamples: 64 }, partition: { kind: 'iid' },
    fleet: { clients, workers: 2, backend: 'wasm', joinTimeoutSeconds: 1200 }, server: { pingTimeoutSeconds: 1200, ...over.server },
    training: { mode: 'splitfed', rounds: 1, batchSize: 16, checkpointEvery: 0, stepTimeoutSeconds: 1200, ...over.training },
  });
}
