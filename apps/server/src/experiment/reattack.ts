import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, readDatasetCached } from '@splitfleet/client-sim/node';
import { getModelSpec, partitionExcluding, split } from '@splitfleet/splitcore';
import { runSpadv, type AttackReport } from './attack-run.ts';
import { observationsFrom, readCheckpoint, tensorsToWeights } from './checkpoint.ts';
import { ConfigError, parseConfig, resolvePartition, type Config } from './config.ts';

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
  await initBackend('wasm');
  const data = readDatasetCached(cfg.data.name, cfg.data.dir);
  const spec = getModelSpec(cfg.model.name);
  const s = split(spec, cfg.model.cut ?? spec.defaultCut, cfg.seed);
  const { meta, tensors } = readCheckpoint<{ heldOut: number[]; targets: { label: string; clientIds: number[] }[]; observed: { clientId: number; round: number; step: number; batch: number }[] }>(ck);
  if (meta.heldOut.length === 0 || meta.observed.length === 0)
    log('note: this run did not record observations or hold out attacker data (attack.method was none); only attack.objective=infomax is meaningful, with D_aux drawn from the whole training split', 'warn');
  const names = [...s.head.params, ...s.tail.params].map((p) => p.name);
  const parts = partitionExcluding(resolvePartition(cfg), data.train.labels, cfg.fleet.clients, cfg.seed, data.train.classes, meta.heldOut);
  return runSpadv({
    cfg, split: s, train: data.train, test: data.test,
    heldOut: meta.heldOut.length ? meta.heldOut : Array.from({ length: data.train.count }, (_, i) => i),
    middle: tensorsToWeights('middle', tensors, s.middle.params.map((p) => p.name)),
    observed: observationsFrom(meta.observed, tensors),
    targets: meta.targets.map((t, i) => ({ ...t, headTail: tensorsToWeights(`target${i}`, tensors, names) })),
    partitions: parts, log: (l) => log(l), onProgress: o.onProgress,
  });
}
