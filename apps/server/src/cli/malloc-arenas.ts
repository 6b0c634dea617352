import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Config } from '../experiment/config.ts';

/**
 * A population run makes and drops ~100 connections a round while the middle's worker threads
 * allocate too: glibc then keeps a malloc arena per thread and the server's resident memory creeps
 * up round after round (+3 MB a round at 100,000 clients, with the JS heap, external memory and the
 * wasm heaps all flat; MALLOC_ARENA_MAX=2 made it level off — docs/population.md). glibc reads the
 * variable at start only, so a population run re-executes this command once with it set (the fleet
 * process it starts inherits it). Resolves with the child's exit code, or null when no re-exec is needed.
 */
export function withMallocArenaLimit(cfg: Config): Promise<number> | null {
  if (cfg.fleet.population === null || process.platform !== 'linux' || process.env.MALLOC_ARENA_MAX) return null;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, MALLOC_ARENA_MAX: '2' } });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, forward(sig));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0))));
}
