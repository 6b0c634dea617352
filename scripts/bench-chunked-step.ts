// One splitfed round on the full Fashion-MNIST by `clients` standing clients (two steps of 16 rows
// each) with the shared middle serving at most `chunkRows` rows per call (`null`: a step whole), in
// its own process: the server's wasm heap only grows, so its size after the round is the round's
// high-water mark. Prints {seconds, wasmHeapMiB}. Called by bench-population.ts --full.
// `node scripts/bench-chunked-step.ts CLIENTS CHUNK_ROWS|null`
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@splitfleet/client-sim';
import { fullDataConfig, standingRound } from './standing-round.ts';

const clients = Number(process.argv[2]);
const chunkRows = process.argv[3] === 'null' ? null : Number(process.argv[3]);
await initBackend('wasm');
const cfg = fullDataConfig(clients, { server: { middleChunkRows: chunkRows }, training: { maxStepsPerRound: 2 } });
const { seconds } = await standingRound(cfg);
const wasm = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm;
console.log(JSON.stringify({ seconds, wasmHeapMiB: wasm.HEAPU8.buffer.byteLength / 2 ** 20 }));
