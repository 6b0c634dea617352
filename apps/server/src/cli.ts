// The splitfleet command line. `npx splitfleet --help`.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { loadTokens, runFleet, type FleetRuntime } from '@splitfleet/client-sim';
import { writeJsonAtomic } from './atomic.ts';
import { attackFinishedRun } from './reattack.ts';
import { formatAttackTable } from './attack-table.ts';
import { applyOverrides, ConfigError, parseConfig, parseConfigText, type Config } from './config.ts';
import { Reporter } from './progress.ts';
import { writeReport } from './report.ts';
import type { RunResults } from './results.ts';
import { runExperiment, type RunOptions } from './run.ts';
import { configId, expandSweep, gatherSweep, isDone, trainingConfig, type SweepSpec } from './sweep.ts';

function readConfigFile(file: string | undefined): unknown {
  if (!file) return {};
  if (!existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
  return parseConfigText(readFileSync(file, 'utf8'), file);
}

function loadConfig(file: string | undefined, sets: string[]): Config {
  return parseConfig(applyOverrides(readConfigFile(file), sets));
}

const collect = (v: string, acc: string[]) => [...acc, v];
const intArg = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--${name} must be an integer ≥ 1, got ${v}`);
  return n;
};
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-');

interface CommonOpts { quiet?: boolean; verbose?: boolean }

function reporterFor(o: CommonOpts, runDir: string | null): Reporter {
  return new Reporter({ quiet: Boolean(o.quiet), verbose: Boolean(o.verbose), logFile: runDir ? join(runDir, 'log.jsonl') : null });
}

/**
 * Lines that go to log.jsonl (and --verbose) only: per-worker chatter, and Dawn's warnings while the
 * webgpu probe of backend=auto looks for an adapter (harmless: auto falls back to wasm).
 */
const DETAIL = /^\[fleet\] worker|joined \(|disconnected \(|^Warning: (Couldn't load Vulkan|max\w+ artificially reduced)|^\s*at operator\(\) \(.*dawn/;

/** Runs one experiment with progress, logs and the report; returns the results. */
async function runWithReport(cfg: Config, out: string, o: CommonOpts, extra: Partial<RunOptions> = {}): Promise<RunResults> {
  const rep = reporterFor(o, out);
  rep.event('config', { config: cfg });
  try {
    const { results, resultsPath } = await runExperiment(cfg, {
      outDir: out,
      ...extra,
      log: (l) => rep.log(l, DETAIL.test(l) ? 'detail' : 'info'),
      onStep: (r, s, n) => rep.progress('batches', s, n, `round ${r + 1}`),
      onRound: (r, total) => {
        rep.progress('rounds', r.round + 1, total, `acc ${(100 * r.testAccuracy).toFixed(1)}%`);
        rep.event('round', { ...r });
        rep.log(`round ${r.round + 1}/${total}  test acc ${(100 * r.testAccuracy).toFixed(2)}%  test loss ${r.testLoss.toFixed(4)}  train loss ${r.trainLoss?.toFixed(4) ?? '-'}  clients ${r.participants.length}${r.dropped.length ? ` (dropped ${r.dropped.join(',')})` : ''}  ${r.wallSeconds.toFixed(1)}s`);
      },
      onAttackProgress: (label, d, t) => rep.progress('attack', d, t, label),
    });
    const report = await writeReport(out);
    rep.close();
    const acc = results.final ? `${(100 * results.final.testAccuracy).toFixed(2)}%` : 'n/a';
    console.log(`final test accuracy ${acc} after ${results.rounds.length} rounds in ${results.timings.wallSeconds.toFixed(1)}s`);
    if (results.attack) console.log(formatAttackTable(results.attack));
    console.log(`results: ${resultsPath}\nreport:  ${report}`);
    return results;
  } catch (e) {
    rep.close();
    throw e;
  }
}

const program = new Command()
  .name('splitfleet')
  .description('Simulate fleets of U-shaped split-learning clients and stress-test server-side attacks (SPADV)')
  .showHelpAfterError();

const withCommon = (c: Command) =>
  c.option('-q, --quiet', 'print only the final lines and errors').option('-v, --verbose', 'also print every client event');

withCommon(
  program
    .command('run')
    .description('train a split model with a fleet (server here, fleet in a separate process); attack after it when attack.method is set')
    .option('-c, --config <file>', 'YAML or JSON config (see docs/config.md)')
    .option('-s, --set <path=value>', 'override one config option (repeatable)', collect, [])
    .option('-o, --out <dir>', 'run directory (default: runs/<timestamp>)')
    .option('--resume <dir>', 'continue a killed run from its last round checkpoint (uses its config.json)'),
)
  .addHelpText('after', `
Examples:
  splitfleet run --config examples/quick.yaml
  splitfleet run --resume runs/x
  splitfleet run --config examples/quick.yaml --set fleet.clients=16 --set training.rounds=3 --out runs/x
  splitfleet run --config examples/attack.yaml --set attack.epsilon=0.05
  splitfleet run --set data.dir=/usr/share/datasets/fashion-mnist`)
  .action(async (o: CommonOpts & { config?: string; set: string[]; out?: string; resume?: string }) => {
    if (o.resume) {
      if (o.config || o.set.length) throw new ConfigError('--resume uses the run directory\'s config.json; do not combine it with --config/--set');
      const file = join(o.resume, 'config.json');
      if (!existsSync(file)) throw new ConfigError(`${file} not found: is ${o.resume} a run directory?`);
      await runWithReport(parseConfig(JSON.parse(readFileSync(file, 'utf8'))), o.resume, o, { resume: true });
      return;
    }
    await runWithReport(loadConfig(o.config, o.set), o.out ?? join('runs', stamp()), o);
  });

withCommon(
  program
    .command('serve')
    .description('run the server only; fleets join from other processes or hosts with `splitfleet fleet`')
    .option('-c, --config <file>', 'YAML or JSON config')
    .option('-s, --set <path=value>', 'override one config option (repeatable)', collect, [])
    .option('-o, --out <dir>', 'run directory (default: runs/<timestamp>)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', (v) => Number(v), 7070),
)
  .addHelpText('after', `
Examples:
  splitfleet serve --config examples/quick.yaml --port 7070
  splitfleet serve --config examples/quick.yaml --host 0.0.0.0 --set fleet.clients=64`)
  .action(async (o: CommonOpts & { config?: string; set: string[]; out?: string; host: string; port: number }) => {
    await runWithReport(loadConfig(o.config, o.set), o.out ?? join('runs', stamp()), o, { fleet: 'external', host: o.host, port: o.port });
  });

program
  .command('fleet')
  .description('run simulated clients as worker_threads against a running server')
  .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:7070')
  .option('--clients <n>', 'number of clients', intArg('clients'), 8)
  .option('--workers <n>', 'number of worker threads', intArg('workers'), 2)
  .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'wasm', 'cpu', 'webgpu']).default('auto'))
  .option('--tokens <file>', 'client tokens written by `splitfleet serve` (<run dir>/tokens.json), or env SPLITFLEET_TOKENS')
  .option('--first-client <k>', 'use tokens from this index on (several fleets sharing one token file)', (v) => Number(v), 0)
  .addOption(new Option('--runtime <where>', 'node: worker_threads; browser: Web Workers in headless Chromium (Debian chromium); mixed: half each').choices(['node', 'browser', 'mixed']).default('node'))
  .option('--per-page <n>', 'browser clients per Chromium page', intArg('per-page'), 8)
  .option('-q, --quiet', 'only errors')
  .addHelpText('after', `
Examples:
  splitfleet fleet --server http://127.0.0.1:7070 --clients 8 --workers 2 --tokens runs/x/tokens.json
  splitfleet fleet --server http://127.0.0.1:7070 --clients 4 --tokens runs/x/tokens.json --first-client 4
  splitfleet fleet --server http://10.0.0.5:7070 --clients 32 --workers 8 --backend wasm
  splitfleet fleet --server http://127.0.0.1:7070 --clients 4 --runtime browser --backend webgpu --tokens runs/x/tokens.json
  (a person joins from a phone or laptop: open http://<server>:7070/join)`)
  .action(async (o: { server: string; clients: number; workers: number; backend: 'auto' | 'wasm' | 'cpu' | 'webgpu'; quiet?: boolean; tokens?: string; firstClient: number; runtime: FleetRuntime; perPage: number }) => {
    const tokens = loadTokens(o.tokens, o.firstClient);
    process.exitCode = await runFleet({ serverUrl: o.server, clients: o.clients, workers: o.workers, backend: o.backend, quiet: o.quiet, runtime: o.runtime, perPage: o.perPage, ...(tokens ? { tokens } : {}) });
  });

withCommon(
  program
    .command('attack')
    .description('run SPADV and baselines on a finished run (from its final checkpoint and recorded observations)')
    .requiredOption('-r, --run <dir>', 'run directory of a finished run')
    .option('-s, --set <path=value>', 'override attack options, e.g. attack.epsilons=[0.05,0.1]', collect, []),
)
  .addHelpText('after', `
Examples:
  splitfleet attack --run runs/x
  splitfleet attack --run runs/x --set attack.objectives=[observe,infomax] --set attack.epsilons=[0.05,0.1,0.2]`)
  .action(async (o: CommonOpts & { run: string; set: string[] }) => {
    const dir = o.run;
    const base = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config;
    const cfg = parseConfig(applyOverrides({ ...base, attack: { ...base.attack, method: 'spadv' } }, o.set));
    for (const s of o.set) if (!s.startsWith('attack.')) throw new ConfigError(`--set ${s}: only attack.* options can change after training`);
    const rep = reporterFor(o, dir);
    const previous = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults;
    const report = await attackFinishedRun(dir, cfg, { log: (l, level) => rep.log(l, level), onProgress: (l, d, t) => rep.progress('attack', d, t, l) });
    writeJsonAtomic(join(dir, 'attack.json'), report);
    writeJsonAtomic(join(dir, 'results.json'), { ...previous, attack: report });
    const html = await writeReport(dir);
    rep.close();
    console.log(formatAttackTable(report));
    console.log(`attack results: ${join(dir, 'attack.json')}\nreport: ${html}`);
  });

program
  .command('report')
  .description('rebuild report.html and the CSV files of a run directory')
  .requiredOption('-r, --run <dir>', 'run directory')
  .addHelpText('after', '\nExample:\n  splitfleet report --run runs/x')
  .action(async (o: { run: string }) => {
    if (!existsSync(join(o.run, 'results.json'))) throw new ConfigError(`${o.run}/results.json not found`);
    console.log(await writeReport(o.run));
  });

withCommon(
  program
    .command('sweep')
    .description('run a grid of configs in turn; resumable (finished points, found by config hash, are skipped)')
    .requiredOption('-c, --config <file>', 'sweep file: { base: <config>, grid: { "path": [values] } }')
    .option('-o, --out <dir>', 'sweep directory', join('runs', 'sweep'))
    .option('--status', 'print done/waiting per point and exit'),
)
  .addHelpText('after', `
Examples:
  splitfleet sweep --config examples/attack-sweep.yaml --out runs/sweep1
  splitfleet sweep --config examples/attack-sweep.yaml --out runs/sweep1 --status`)
  .action(async (o: CommonOpts & { config: string; out: string; status?: boolean }) => {
    const points = expandSweep(readConfigFile(o.config) as SweepSpec);
    if (o.status) {
      for (const p of points) console.log(`${p.id}  ${isDone(join(o.out, p.id)) ? 'done   ' : 'waiting'}  ${JSON.stringify(p.settings)}`);
      return;
    }
    for (const [i, p] of points.entries()) {
      const dir = join(o.out, p.id);
      if (isDone(dir)) {
        console.log(`[${i + 1}/${points.length}] ${p.id} done already, skipped`);
        continue;
      }
      console.log(`[${i + 1}/${points.length}] ${p.id} ${JSON.stringify(p.settings)}`);
      if (p.config.attack.method !== 'spadv') {
        await runWithReport(p.config, dir, { ...o, quiet: o.quiet ?? true });
        continue;
      }
      // train once per distinct training config, then attack from its final checkpoint
      const tc = trainingConfig(p.config);
      const trainDir = join(o.out, `train-${configId(tc)}`);
      if (!isDone(trainDir)) {
        console.log(`  training ${trainDir}`);
        await runWithReport(tc, trainDir, { ...o, quiet: o.quiet ?? true }, { attack: false });
      }
      const rep = reporterFor({ ...o, quiet: o.quiet ?? true }, null);
      const report = await attackFinishedRun(trainDir, p.config, { log: (l, level) => rep.log(l, level), onProgress: (l, d, t) => rep.progress('attack', d, t, l) });
      rep.close();
      const trained = JSON.parse(readFileSync(join(trainDir, 'results.json'), 'utf8')) as RunResults;
      mkdirSync(dir, { recursive: true });
      writeJsonAtomic(join(dir, 'config.json'), p.config);
      writeJsonAtomic(join(dir, 'attack.json'), report);
      writeJsonAtomic(join(dir, 'results.json'), { ...trained, config: p.config, attack: report, trainedIn: trainDir });
      await writeReport(dir);
      console.log(`  SPADV ${(100 * report.aggregate.asr).toFixed(1)}% vs white-box ${report.baselines.whiteBox ? (100 * report.baselines.whiteBox.asr).toFixed(1) + '%' : '–'} at ε=${report.primary.epsilon}`);
    }
    const rows = await gatherSweep(o.out, points);
    console.log(`sweep: ${rows.length} rows in ${join(o.out, 'sweep.csv')}, ${join(o.out, 'sweep.md')}`);
  });

try {
  await program.parseAsync(process.argv);
  process.exit(process.exitCode ?? 0);
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`splitfleet: ${e.message}`);
    process.exit(2);
  }
  console.error(`splitfleet: ${(e as Error).stack ?? e}`);
  process.exit(1);
}
