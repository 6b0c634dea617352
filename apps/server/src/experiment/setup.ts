import { heldOutIndices } from '@splitfleet/attack';
import { readAuxImages, type Dataset } from '@splitfleet/client-sim/node';
import { convertImages, featureNoiseLevels, partitionExcluding, type ImageSet, split, type ClientProfile, type SplitModel } from '@splitfleet/splitcore';
import { ConfigError, resolvePartition, resolveProfiles, type Config } from './config.ts';
import { resolveModel } from './model-config.ts';

/** Everything a run derives from its config and data before anyone connects: computed once, here. */
export interface ExperimentSetup {
  readonly cfg: Config;
  readonly data: Dataset;
  readonly split: SplitModel;
  /** Train indices no client holds (the attacker's auxiliary pool); empty without an attack. */
  readonly heldOut: readonly number[];
  /** Training indices of every client slot (held-out samples excluded). */
  readonly partitions: readonly (readonly number[])[];
  /** Per-client input noise of the feature-noise partitioner (0 elsewhere). */
  readonly inputNoise: readonly number[];
  readonly profiles: readonly ClientProfile[];
}

/**
 * The split, the held-out pool, the partitions and the device profiles of a run: pure functions of
 * (config, data), so `run`, `--resume` and `attack --run` all see the same ones. `heldOut` overrides
 * the pool (a finished run's checkpoint records the one it used).
 */
export function setupExperiment(cfg: Config, data: Dataset, over: { heldOut?: readonly number[] } = {}): ExperimentSetup {
  const { spec, cut } = resolveModel(cfg);
  const s = split(spec, cut, cfg.seed);
  const heldOut = over.heldOut ?? (cfg.attack.method === 'spadv' ? heldOutIndices(data.train.count, cfg.attack.aux.holdout, cfg.seed) : []);
  const pc = resolvePartition(cfg);
  const partitions = partitionExcluding(pc, data.train.labels, cfg.fleet.clients, cfg.seed, data.train.classes, heldOut);
  return { cfg, data, split: s, heldOut, partitions, inputNoise: featureNoiseLevels(pc, cfg.fleet.clients), profiles: resolveProfiles(cfg) };
}

/**
 * Whether the server keeps the training images: only for an attack (its auxiliary pool and
 * baselines). The server trains on none, and they are the largest part of its memory (188 MB as
 * float32 on the full Fashion-MNIST); the labels, which make the partitions, are always read.
 */
export function serverNeedsTrainImages(cfg: Config): boolean {
  return cfg.attack.method === 'spadv';
}

/**
 * The attacker's out-of-distribution images (attack.aux.source: dataset), converted to the clients'
 * input shape; undefined otherwise. Read before training, so a missing directory or an image set
 * that cannot be converted is a config error (exit 2) and not a failure after hours of training.
 */
export function loadAttackerImages(cfg: Config, inputShape: readonly number[]): ImageSet | undefined {
  const spec = cfg.attack.aux.dataset;
  if (cfg.attack.method !== 'spadv' || cfg.attack.aux.source !== 'dataset' || spec === null) return undefined;
  try {
    return convertImages(readAuxImages(spec), inputShape);
  } catch (e) {
    throw new ConfigError(`attack.aux.dataset: ${JSON.stringify(spec)} cannot be used; ${(e as Error).message}`);
  }
}
