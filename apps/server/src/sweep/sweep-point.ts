// Runs one sweep point into <root>/<point id>: the one code path behind local sweeps and queue
// workers. Points that differ only in attack.* share a training run (<root>/train-<hash>).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../experiment/atomic.ts';
import { attackFinishedRun } from '../experiment/reattack.ts';
import { writeReport } from '../output/report.ts';
import { readResults, type RunResults } from '../experiment/results.ts';
import { reporterFor, runWithReport, type CommonOpts } from '../output/run-report.ts';
import { configId, isDone, trainingConfig, type SweepPoint } from './sweep.ts';

/** Runs the point unless it is done already; returns its results (read back when it was). */
export async function runSweepPoint(p: SweepPoint, root: string, o: CommonOpts = {}, say: (l: string) => void = console.log): Promise<RunResults> {
  const dir = join(root, p.id);
  const quiet = { ...o, quiet: o.quiet ?? true };
  if (!isDone(dir)) {
    if (p.config.attack.method !== 'spadv') await runWithReport(p.config, dir, quiet);
    else {
      // train once per distinct training config, then attack from its final checkpoint
      const tc = trainingConfig(p.config);
      const trainDir = join(root, `train-${configId(tc)}`);
      if (!isDone(trainDir)) {
        say(`  training ${trainDir}`);
        await runWithReport(tc, trainDir, quiet, { attack: false });
      }
      const rep = reporterFor(quiet, null);
      const report = await attackFinishedRun(trainDir, p.config, { log: (l, level) => rep.log(l, level), onProgress: (l, d, t) => rep.attackProgress(l, d, t) });
      rep.close();
      const trained = readResults(trainDir);
      mkdirSync(dir, { recursive: true });
      writeJsonAtomic(join(dir, 'config.json'), p.config);
      writeJsonAtomic(join(dir, 'attack.json'), report);
      writeJsonAtomic(join(dir, 'results.json'), { ...trained, config: p.config, attack: report, trainedIn: trainDir } satisfies RunResults);
      await writeReport(dir);
      say(`  SPADV ${(100 * report.aggregate.asr).toFixed(1)}% vs white-box ${report.baselines.whiteBox ? (100 * report.baselines.whiteBox.asr).toFixed(1) + '%' : '–'} at ε=${report.primary.epsilon}`);
    }
  }
  return readResults(dir);
}
