// The fleet process: `node apps/client-sim/src/main.ts --server URL --clients N --workers W --backend B`
// (also `splitfleet fleet ...`).
import { Command, Option } from 'commander';
import { loadTokens, runFleet } from './fleet.ts';

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be an integer ≥ 1, got ${v}`);
    process.exit(2);
  }
  return n;
};

const o = new Command()
  .name('splitfleet-fleet')
  .description('Run simulated split-learning clients as worker_threads against a splitfleet server')
  .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:7070')
  .option('--clients <n>', 'number of clients', positiveInt('clients'), 8)
  .option('--workers <n>', 'number of worker threads', positiveInt('workers'), 2)
  .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'wasm', 'cpu', 'webgpu']).default('auto'))
  .option('--tokens <file>', 'JSON list of client tokens written by `splitfleet serve` (or env SPLITFLEET_TOKENS)')
  .option('--first-client <k>', 'use tokens from this index on (to split one token file over several fleets)', (v) => Number(v), 0)
  .option('--quiet', 'only errors')
  .parse()
  .opts<{ server: string; clients: number; workers: number; backend: 'auto' | 'wasm' | 'cpu' | 'webgpu'; quiet?: boolean; tokens?: string; firstClient: number }>();

try {
  const tokens = loadTokens(o.tokens, o.firstClient);
  process.exit(await runFleet({ serverUrl: o.server, clients: o.clients, workers: o.workers, backend: o.backend, quiet: o.quiet, ...(tokens ? { tokens } : {}) }));
} catch (e) {
  console.error(`[fleet] ${(e as Error).message}`);
  process.exit(1);
}
