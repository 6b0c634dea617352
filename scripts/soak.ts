// Memory soak (docs/performance.md, "Memory over long runs"): one long, cheap `splitfleet run` — the
// server in this process, the fleet in its own process as `run` starts it — sampling memory after
// every round: this process's resident set, JS heap, external memory (ArrayBuffers, including the
// ones middle workers transfer in) and tfjs-wasm heap, and the fleet process's resident set (its
// main thread and client-sim worker_threads; read from /proc, Linux only). Prints one JSON object.
// `node scripts/soak.ts [rounds]`; `npm run bench` runs it as a child process, so the figures are
// this run's alone and not the bench's earlier sections'.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseConfig } from '../apps/server/src/experiment/config.ts';
import { runExperiment } from '../apps/server/src/experiment/run.ts';

/** One sample, after a round (1-based). Import only the type: importing this module runs the soak. */
export interface SoakSample {
  readonly round: number;
  readonly serverRss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly wasmHeap: number | null;
  readonly tensors: number;
  readonly fleetRss: number | null;
}

const SOAK = { clients: 4, workers: 2, steps: 5, batchSize: 32 } as const;

/** Resident bytes of this process's children (the fleet), or null where /proc does not tell. */
function childrenRss(): number | null {
  try {
    const dir = `/proc/${process.pid}/task`;
    const kids = readdirSync(dir).flatMap((t) => readFileSync(join(dir, t, 'children'), 'utf8').trim().split(/\s+/).filter(Boolean));
    if (kids.length === 0) return null;
    return kids.reduce((a, k) => a + Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${k}/status`, 'utf8'))![1]) * 1024, 0);
  } catch {
    return null;
  }
}

function sample(round: number): SoakSample {
  const m = process.memoryUsage();
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return {
    round, serverRss: m.rss, heapUsed: m.heapUsed, external: m.external, wasmHeap: wasm ? wasm.HEAPU8.buffer.byteLength : null,
    tensors: tf.memory().numTensors, fleetRss: childrenRss(),
  };
}

const rounds = Number(process.argv[2] ?? 50);
// checkpoints and the dashboard stay on (both run every round); the attack is off: it runs once, after
const cfg = parseConfig({
  seed: 1, data: { testSamples: 64 },
  fleet: { clients: SOAK.clients, workers: SOAK.workers, backend: 'wasm' },
  training: { mode: 'splitfed', rounds, batchSize: SOAK.batchSize, maxStepsPerRound: SOAK.steps },
  attack: { method: 'none' },
});
const outDir = mkdtempSync(join(tmpdir(), 'soak-'));
const samples: SoakSample[] = [];
const t0 = performance.now();
await runExperiment(cfg, { outDir, onRound: (r) => samples.push(sample(r.round + 1)) });
rmSync(outDir, { recursive: true, force: true });
console.log(JSON.stringify({ ...SOAK, rounds, seconds: (performance.now() - t0) / 1000, samples }));
process.exit(0);
