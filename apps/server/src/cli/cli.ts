// The splitfleet command line. `npx splitfleet --help`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { loadAgentToken, loadTokens, runFleet, serveEphemeralFleet, type FleetRuntime } from '@splitfleet/client-sim';
import { writeJsonAtomic } from '../experiment/atomic.ts';
import { attackFinishedRun } from '../experiment/reattack.ts';
import { formatAttackTable } from '../output/attack-table.ts';
import { applyOverrides, ConfigError, parseConfig, parseConfigText, type Config } from '../experiment/config.ts';
import { writeReport } from '../output/report.ts';
import { readCompared, writeComparison } from '../output/compare.ts';
import { modelSummary, zooTable } from '../output/model-summary.ts';
import { resolveModel } from '../experiment/model-config.ts';
import { readResults, type RunResults } from '../experiment/results.ts';
import { expandSweep, gatherSweep, isDone, type SweepSpec } from '../sweep/sweep.ts';
import { runSweepPoint } from '../sweep/sweep-point.ts';
import { hostname } from 'node:os';
import { reportError } from './errors.ts';
import { reporterFor, runWithReport, type CommonOpts } from '../output/run-report.ts';
import { withMallocArenaLimit } from './malloc-arenas.ts';

/** A token file given to `fleet`: one that is missing or of the wrong kind is the user's input (one line, exit 2). */
function tokenFile<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw new ConfigError(`--tokens: ${(e as Error).message}`);
  }
}

/** BullMQ and ioredis (≈ 19 MB resident) load only for the commands that use a queue, not into every run's server. */
const queue = () => import('../sweep/queue.ts');

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

const program = new Command()
  .name('splitfleet')
  .description('Simulate fleets of U-shaped split-learning clients and stress-test server-side attacks (SPADV)')
  .showHelpAfterError()
  // usage errors reach the catch below (exit 2, as every user error) instead of exiting with 1
  .exitOverride();

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
    let cfg: Config;
    if (o.resume) {
      if (o.config || o.set.length) throw new ConfigError('--resume uses the run directory\'s config.json; do not combine it with --config/--set');
      const file = join(o.resume, 'config.json');
      if (!existsSync(file)) throw new ConfigError(`${file} not found: is ${o.resume} a run directory?`);
      cfg = parseConfig(JSON.parse(readFileSync(file, 'utf8')));
    } else cfg = loadConfig(o.config, o.set);
    const relaunched = withMallocArenaLimit(cfg);
    if (relaunched) {
      process.exitCode = await relaunched;
      return;
    }
    if (o.resume) await runWithReport(cfg, o.resume, o, { resume: true });
    else await runWithReport(cfg, o.out ?? join('runs', stamp()), o);
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
    const cfg = loadConfig(o.config, o.set);
    await runWithReport(cfg, o.out ?? join('runs', stamp()), o, { fleet: 'external', host: o.host, port: o.port });
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
  .option('--ephemeral', 'population runs only: start the workers empty and instantiate the clients the server summons each round — over IPC when started by `splitfleet run`, or as a fleet agent of `splitfleet serve` with --tokens <run dir>/tokens.json')
  .option('-q, --quiet', 'only errors')
  .addHelpText('after', `
Examples:
  splitfleet fleet --server http://127.0.0.1:7070 --clients 8 --workers 2 --tokens runs/x/tokens.json
  splitfleet fleet --server http://127.0.0.1:7070 --clients 4 --tokens runs/x/tokens.json --first-client 4
  splitfleet fleet --server http://10.0.0.5:7070 --clients 32 --workers 8 --backend wasm
  splitfleet fleet --server http://127.0.0.1:7070 --clients 4 --runtime browser --backend webgpu --tokens runs/x/tokens.json
  splitfleet fleet --server http://10.0.0.5:7070 --ephemeral --workers 8 --tokens runs/x/tokens.json   (a population run's agent)
  (a person joins from a phone or laptop: open http://<server>:7070/join)`)
  .action(async (o: { server: string; clients: number; workers: number; backend: 'auto' | 'wasm' | 'cpu' | 'webgpu'; quiet?: boolean; tokens?: string; firstClient: number; runtime: FleetRuntime; perPage: number; ephemeral?: boolean }) => {
    if (o.ephemeral) {
      const agentToken = o.tokens ? tokenFile(() => loadAgentToken(o.tokens!)) : undefined;
      process.exitCode = await serveEphemeralFleet({ serverUrl: o.server, workers: o.workers, backend: o.backend, quiet: o.quiet, ...(agentToken ? { agentToken } : {}) });
      return;
    }
    const tokens = tokenFile(() => loadTokens(o.tokens, o.firstClient));
    process.exitCode = await runFleet({ serverUrl: o.server, clients: o.clients, workers: o.workers, backend: o.backend, quiet: o.quiet, runtime: o.runtime, perPage: o.perPage, ...(tokens ? { tokens } : {}) });
  });

withCommon(
  program
    .command('attack')
    .description('run SPADV and baselines on a finished run (from its final checkpoint and recorded observations)')
    .requiredOption('-r, --run <dir>', 'run directory of a finished run')
    .option('-s, --set <path=value>', 'override attack options, e.g. attack.epsilons=[0.05,0.1]', collect, [])
    .option('-o, --out <file>', "write the attack report to this file instead of the run's attack.json (results.json and report.html stay as they are)"),
)
  .addHelpText('after', `
Examples:
  splitfleet attack --run runs/x
  splitfleet attack --run runs/x --set attack.objectives=[observe,infomax] --set attack.epsilons=[0.05,0.1,0.2]
  splitfleet attack --run runs/x --set attack.shadow.tail=none --set 'attack.craft=[middle-l2]' --out runs/x/head-only.json`)
  .action(async (o: CommonOpts & { run: string; set: string[]; out?: string }) => {
    const dir = o.run;
    const base = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config;
    const cfg = parseConfig(applyOverrides({ ...base, attack: { ...base.attack, method: 'spadv' } }, o.set));
    for (const s of o.set) if (!s.startsWith('attack.')) throw new ConfigError(`--set ${s}: only attack.* options can change after training`);
    const rep = reporterFor(o, dir);
    const report = await attackFinishedRun(dir, cfg, { log: (l, level) => rep.log(l, level), onProgress: (l, d, t) => rep.attackProgress(l, d, t) });
    if (o.out) {
      // a side experiment: the run's own results stay those of its configured attack
      writeJsonAtomic(o.out, report);
      rep.close();
      console.log(formatAttackTable(report));
      console.log(`attack results: ${o.out}`);
      return;
    }
    const previous = readResults(dir);
    writeJsonAtomic(join(dir, 'attack.json'), report);
    writeJsonAtomic(join(dir, 'results.json'), { ...previous, attack: report } satisfies RunResults);
    const html = await writeReport(dir);
    rep.close();
    console.log(formatAttackTable(report));
    console.log(`attack results: ${join(dir, 'attack.json')}\nreport: ${html}`);
  });

program
  .command('models')
  .description('list the model zoo; with --config/--set, show that run\'s model layer by layer (shapes, parameters, the cut)')
  .option('-c, --config <file>', 'YAML or JSON config whose model to show')
  .option('-s, --set <path=value>', 'override one config option (repeatable)', collect, [])
  .addHelpText('after', '\nExamples:\n  splitfleet models\n  splitfleet models --set model.name=resnet-18 --set model.cut=split-3 --set data.name=cifar10 --set data.dir=x')
  .action((o: { config?: string; set: string[] }) => {
    if (!o.config && o.set.length === 0) return void console.log(zooTable().join('\n'));
    const { spec, cut } = resolveModel(loadConfig(o.config, o.set));
    console.log(modelSummary(spec, cut).join('\n'));
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

program
  .command('compare')
  .description('one side-by-side report of several runs or studies: the options that differ, metrics with intervals, accuracy curves overlaid')
  .argument('<dirs...>', 'run directories (results.json) and/or study directories (study.json)')
  .option('-o, --out <file>', 'the HTML comparison', 'compare.html')
  .addHelpText('after', '\nExamples:\n  splitfleet compare runs/a runs/b runs/c --out runs/abc.html\n  splitfleet compare runs/study-alpha runs/study-cut')
  .action(async (dirs: string[], o: { out: string }) => {
    console.log(await writeComparison(readCompared(dirs), o.out));
    console.log(`comparison: ${o.out}`);
  });

withCommon(
  program
    .command('sweep')
    .alias('study')
    .description('run a grid of configs, each grid point for every seed listed, locally in turn or as jobs on a BullMQ/Redis queue; pools each point over its seeds with 95 % intervals (study.md); resumable (finished points, found by config hash, are skipped)')
    .requiredOption('-c, --config <file>', 'sweep/study file: { base: <config>, grid: { "path": [values] }, seeds: [training seeds], auxSeeds: [attacker D_aux seeds] }')
    .option('-o, --out <dir>', 'sweep directory (results gather here)', join('runs', 'sweep'))
    .option('--queue <url>', 'redis://host:port: enqueue the points for `splitfleet worker` processes and wait for them')
    .option('--attempts <n>', 'with --queue: tries per point before it counts as failed', intArg('attempts'), 3)
    .option('--no-wait', 'with --queue: submit and exit')
    .option('--status', 'print done/running/failed/waiting per point and exit'),
)
  .addHelpText('after', `
Examples:
  splitfleet sweep --config examples/attack-sweep.yaml --out runs/sweep1
  splitfleet study --config examples/spadv-study-small.yaml --out runs/study   (seeds: 3 runs per point, pooled with intervals)
  splitfleet sweep --config examples/attack-sweep.yaml --out runs/sweep1 --status
  splitfleet sweep --config examples/spadv-sweep.yaml --out runs/big --queue redis://10.0.0.2:6379
  splitfleet sweep --config examples/spadv-sweep.yaml --out runs/big --queue redis://10.0.0.2:6379 --status`)
  .action(async (o: CommonOpts & { config: string; out: string; status?: boolean; queue?: string; attempts: number; wait: boolean }) => {
    const points = expandSweep(readConfigFile(o.config) as SweepSpec);
    if (o.status) {
      const states = o.queue ? await (await queue()).sweepStatus(o.queue, points, o.out) : new Map(points.map((p) => [p.id, { state: isDone(join(o.out, p.id)) ? 'done' : 'waiting', attempts: 0 }]));
      const counts: Record<string, number> = {};
      for (const p of points) {
        const st = states.get(p.id)!;
        counts[st.state] = (counts[st.state] ?? 0) + 1;
        console.log(`${p.id}  ${st.state.padEnd(9)} ${JSON.stringify(p.settings)}${'failedReason' in st && st.failedReason ? `  (${st.failedReason})` : ''}`);
      }
      console.log(Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', '));
      return;
    }
    if (o.queue) {
      const { queued, doneAlready } = await (await queue()).submitSweep(o.queue, points, o.out, o.attempts);
      console.log(`sweep: ${queued.length} points queued on ${o.queue}, ${doneAlready.length} done already`);
      if (!o.wait) return;
      const failed = await (await queue()).waitForSweep(o.queue, points, o.out, (d, t, f) => console.log(`sweep: ${d}/${t} done${f.length ? `, ${f.length} failed` : ''}`));
      if (failed.length) {
        console.error(`sweep: ${failed.length} points failed after ${o.attempts} attempts: ${failed.join(', ')} (splitfleet sweep --status --queue ... shows why)`);
        process.exitCode = 1;
      }
    } else
      for (const [i, p] of points.entries()) {
        console.log(`[${i + 1}/${points.length}] ${p.id} ${isDone(join(o.out, p.id)) ? 'done already, skipped' : JSON.stringify(p.settings)}`);
        await runSweepPoint(p, o.out, o);
      }
    const rows = await gatherSweep(o.out, points);
    console.log(`sweep: ${rows.length} rows in ${join(o.out, 'sweep.csv')}, ${join(o.out, 'sweep.md')}; pooled over seeds with 95 % intervals: ${join(o.out, 'study.md')}`);
  });

program
  .command('worker')
  .description('take sweep points from a BullMQ/Redis queue and run them, until stopped (SIGINT/SIGTERM)')
  .requiredOption('--queue <url>', 'redis://host:port')
  .option('-o, --out <dir>', 'where this worker keeps its runs', join('runs', 'worker'))
  .option('--lock-seconds <n>', 'a job whose worker goes silent this long is retried elsewhere', intArg('lock-seconds'), 60)
  .addHelpText('after', `
Examples:
  splitfleet worker --queue redis://10.0.0.2:6379 --out runs/worker-a`)
  .action(async (o: { queue: string; out: string; lockSeconds: number }) => {
    const name = `${hostname()}:${process.pid}`;
    const w = (await queue()).startQueueWorker(o.queue, { outDir: o.out, lockSeconds: o.lockSeconds, name, log: (l) => console.log(`[worker ${name}] ${l}`) });
    console.log(`[worker ${name}] waiting for jobs on ${o.queue}`);
    await new Promise<void>((resolve) => {
      const stop = () => void w.close().then(() => resolve());
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });

try {
  await program.parseAsync(process.argv);
  process.exit(process.exitCode ?? 0);
} catch (e) {
  const { lines, exitCode } = reportError(e, process.argv.includes('--verbose') || process.argv.includes('-v'));
  for (const l of lines) console.error(l);
  process.exit(exitCode);
}
