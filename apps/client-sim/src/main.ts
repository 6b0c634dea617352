// The fleet process: `node apps/client-sim/src/main.ts --server URL --clients N --workers W --backend B`
import { Command, Option } from 'commander';
import { startFleet } from './fleet.ts';

const program = new Command()
  .name('splitfleet-fleet')
  .description('Run simulated split-learning clients as worker_threads against a splitfleet server')
  .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:7070')
  .option('--clients <n>', 'number of clients', (v) => parseInt(v, 10), 8)
  .option('--workers <n>', 'number of worker threads', (v) => parseInt(v, 10), 2)
  .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'wasm', 'cpu', 'webgpu']).default('auto'))
  .option('--quiet', 'only errors')
  .parse();

const o = program.opts<{ server: string; clients: number; workers: number; backend: 'auto' | 'wasm' | 'cpu' | 'webgpu'; quiet?: boolean }>();
for (const [k, v] of [['clients', o.clients], ['workers', o.workers]] as const)
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${k} must be an integer ≥ 1, got ${v}`);
    process.exit(2);
  }
const log = (line: string) => {
  if (!o.quiet) console.log(`[fleet] ${line}`);
};
try {
  const fleet = await startFleet({ serverUrl: o.server, clients: o.clients, workers: o.workers, backend: o.backend, log });
  log(`${o.clients} clients joined over ${fleet.backends.length} workers`);
  const r = await fleet.finished;
  await fleet.terminate();
  for (const c of r.crashed) console.error(`[fleet] worker ${c.worker} crashed (clients ${c.clientIds.join(', ')}): ${c.error}`);
  process.exit(r.crashed.length > 0 ? 1 : 0);
} catch (e) {
  console.error(`[fleet] ${(e as Error).message}`);
  process.exit(1);
}
