import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, readDatasetCached } from '@splitfleet/client-sim/node';
import { AttackSetupError, attackerPool, runSpadv, type AttackReport } from '@splitfleet/attack';
import { headTailShapes, observationsFrom, stateShapes, tensorsToWeights } from '@splitfleet/splitcore';
import { readCheckpoint } from './checkpoint.ts';
import { ConfigError, parseConfig, type Config } from './config.ts';
import { loadAttackerImages, setupExperiment } from './setup.ts';
import { toolProvenance } from './provenance.ts';

export interface ReattackOptions {
  readonly log?: (line: string, level?: 'info' | 'warn') => void;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

/**
 * Runs SPADV on a finished run from its final checkpoint (middle, real heads/tails for evaluation,
 * recorded observations, held-out pool). Only attack.* may differ from the training config: the
 * rest must describe the run the checkpoint came from.
 */
export async function attackFinishedRun(runDir: string, cfg: Config, o: ReattackOptions = {}): Promise<AttackReport> {
  const log = o.log ?? (() => {});
  const ck = join(runDir, 'final.ckpt');
  if (!existsSync(ck)) throw new ConfigError(`${ck} not found: is ${runDir} a finished run?`);
  // parsed, so a run saved before an option existed compares equal under that option's default
  const trained = parseConfig(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')));
  for (const key of Object.keys(trained) as (keyof Config)[])
    if (key !== 'attack' && JSON.stringify(trained[key]) !== JSON.stringify(cfg[key]))
      throw new ConfigError(`config.${key} differs from the run in ${runDir}: only attack.* options can change after training`);
  const { meta, tensors } = readCheckpoint<{ heldOut?: number[]; targets: { label: string; clientIds: number[] }[]; observed: { clientId: number; round: number; step: number; batch: number }[] }>(ck);
  const heldOut = userError(runDir, () => attackerPool(meta.heldOut));
  if (meta.observed.length === 0)
    log('note: this run recorded no observations; only attack.objective=infomax is meaningful', 'warn');
  await initBackend('wasm');
  // the run's split and partitions, computed as training computed them (with the pool it recorded)
  const { split: s, partitions, data } = setupExperiment(cfg, readDatasetCached(cfg.data.name, cfg.data.dir), { heldOut });
  const auxImages = loadAttackerImages(cfg, s.head.inputShape);
  const names = headTailShapes(s).map((p) => p.name);
  const report = await runSpadv({
    attack: cfg.attack, seed: cfg.seed, trainingBatchSize: cfg.training.batchSize, split: s, train: data.train, test: data.test,
    heldOut,
    middle: tensorsToWeights('middle', tensors, stateShapes(s.middle).map((p) => p.name)),
    observed: observationsFrom(meta.observed, tensors),
    targets: meta.targets.map((t, i) => ({ ...t, headTail: tensorsToWeights(`target${i}`, tensors, names) })),
    partitions, defence: cfg.defence, log: (l) => log(l), onProgress: o.onProgress, ...(auxImages ? { auxImages } : {}),
  });
  return { ...report, tool: toolProvenance() };
}

/** The attack's user errors become ConfigErrors: the CLI prints them as one line and exits 2. */
function userError<T>(runDir: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof AttackSetupError) throw new ConfigError(`${runDir}: ${e.message}`);
    throw e;
  }
}
