// The splitfleet command line. `node apps/server/src/cli.ts --help`, or `npx splitfleet --help`.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { applyOverrides, ConfigError, parseConfig, parseConfigText, type Config } from './config.ts';
import { runExperiment } from './run.ts';

function loadConfig(file: string | undefined, sets: string[]): Config {
  let raw: unknown = {};
  if (file) {
    if (!existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
    raw = parseConfigText(readFileSync(file, 'utf8'), file);
  }
  return parseConfig(applyOverrides(raw, sets));
}

const collect = (v: string, acc: string[]) => [...acc, v];

const program = new Command()
  .name('splitfleet')
  .description('Simulate fleets of U-shaped split-learning clients and stress-test server-side attacks')
  .showHelpAfterError();

program
  .command('run')
  .description('train a split model with a fleet of simulated clients (server here, fleet in a separate process)')
  .option('-c, --config <file>', 'YAML or JSON config (see docs/config.md)')
  .option('-s, --set <path=value>', 'override one config option (repeatable)', collect, [])
  .option('-o, --out <dir>', 'run directory (default: runs/<timestamp>)')
  .option('-q, --quiet', 'print only the final line')
  .option('-v, --verbose', 'also print every client event')
  .addHelpText('after', `
Examples:
  splitfleet run --config examples/quick.yaml
  splitfleet run --config examples/quick.yaml --set fleet.clients=16 --set training.rounds=5 --out runs/x
  splitfleet run --set data.dir=/usr/share/datasets/fashion-mnist`)
  .action(async (o: { config?: string; set: string[]; out?: string; quiet?: boolean; verbose?: boolean }) => {
    const cfg = loadConfig(o.config, o.set);
    const out = o.out ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-'));
    const say = (l: string) => {
      if (!o.quiet) console.log(l);
    };
    const { results, resultsPath } = await runExperiment(cfg, {
      outDir: out,
      log: (l) => {
        if (o.verbose || (!o.quiet && !/^\[fleet\] worker|joined \(/.test(l))) console.log(l);
      },
      onRound: (r, total) =>
        say(`round ${r.round + 1}/${total}  test acc ${(100 * r.testAccuracy).toFixed(2)}%  test loss ${r.testLoss.toFixed(4)}  train loss ${r.trainLoss?.toFixed(4) ?? '-'}  clients ${r.participants.length}${r.dropped.length ? ` (dropped ${r.dropped.join(',')})` : ''}  ${r.wallSeconds.toFixed(1)}s`),
    });
    console.log(`final test accuracy ${(100 * results.final!.testAccuracy).toFixed(2)}% after ${results.rounds.length} rounds in ${results.timings.wallSeconds.toFixed(1)}s; results: ${resultsPath}`);
  });

try {
  await program.parseAsync(process.argv);
  process.exit(0);
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`splitfleet: ${e.message}`);
    process.exit(2);
  }
  console.error(`splitfleet: ${(e as Error).stack ?? e}`);
  process.exit(1);
}
