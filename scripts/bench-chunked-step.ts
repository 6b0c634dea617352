// One splitfed round on the full Fashion-MNIST by `clients` standing clients (two steps of 16 rows
// each) with the shared middle serving at most `chunkRows` rows per call (`null`: a step whole), in
// its own process: the server's wasm heap only grows, so its size after the round is the round's
// high-water mark. Prints {seconds, wasmHeapMiB}. Called by bench-population.ts --full.
// `node scripts/bench-chunked-step.ts CLIENTS CHUNK_ROWS|null`
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readDataset, startFleet } from '@splitfleet/client-sim';
import { parseConfig } from '../apps/server/src/experiment/config.ts';
import { setupExperiment } from '../apps/server/src/experiment/setup.ts';
import { SplitServer } from '../apps/server/src/server/split-server.ts';
import { mintTokens, newSecret } from '../apps/server/src/server/auth.ts';

const FULL = '/usr/share/datasets/fashion-mnist';
const clients = Number(process.argv[2]);
const chunkRows = process.argv[3] === 'null' ? null : Number(process.argv[3]);
await initBackend('wasm');
const cfg = parseConfig({
  seed: 1, data: { name: 'fashion-mnist', dir: FULL, testSamples: 64 }, partition: { kind: 'iid' },
  fleet: { clients, workers: 2, backend: 'wasm', joinTimeoutSeconds: 1200 }, server: { pingTimeoutSeconds: 1200, middleChunkRows: chunkRows },
  training: { mode: 'splitfed', rounds: 1, batchSize: 16, maxStepsPerRound: 2, checkpointEvery: 0, stepTimeoutSeconds: 1200 },
});
const secret = newSecret();
const server = await SplitServer.start({ config: cfg, runId: 'bench', setup: setupExperiment(cfg, readDataset('fashion-mnist', FULL, { trainImages: false })), auth: { secret } });
const fleet = await startFleet({ serverUrl: server.url, clients, workers: 2, backend: 'wasm', tokens: mintTokens(secret, 'bench', clients, 3600) });
await server.waitForClients();
const t0 = performance.now();
await server.runRound(0);
const seconds = (performance.now() - t0) / 1000;
const wasm = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm;
console.log(JSON.stringify({ seconds, wasmHeapMiB: wasm.HEAPU8.buffer.byteLength / 2 ** 20 }));
await server.close();
await fleet.terminate();
