// One experiment with progress bars, structured logs, the report and the printed summary: what
// `run`, `serve` and each sweep point share.
import { join } from 'node:path';
import { formatAttackTable } from './attack-table.ts';
import type { Config } from '../experiment/config.ts';
import { Reporter } from './progress.ts';
import { writeReport } from './report.ts';
import type { RunResults } from '../experiment/results.ts';
import { runExperiment, type RunOptions } from '../experiment/run.ts';

export interface CommonOpts { quiet?: boolean; verbose?: boolean }

export function reporterFor(o: CommonOpts, runDir: string | null): Reporter {
  return new Reporter({ quiet: Boolean(o.quiet), verbose: Boolean(o.verbose), logFile: runDir ? join(runDir, 'log.jsonl') : null });
}

/**
 * Lines that go to log.jsonl (and --verbose) only: per-worker chatter, and Dawn's warnings while the
 * webgpu probe of backend=auto looks for an adapter (harmless: auto falls back to wasm).
 */
const DETAIL = /^\[fleet\] worker|joined \(|disconnected \(|^Warning: (Couldn't load Vulkan|max\w+ artificially reduced)|^\s*at operator\(\) \(.*dawn/;

/** Runs one experiment with progress, logs and the report; returns the results. */
export async function runWithReport(cfg: Config, out: string, o: CommonOpts, extra: Partial<RunOptions> = {}): Promise<RunResults> {
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
      onAttackProgress: (label, d, t) => rep.attackProgress(label, d, t),
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

