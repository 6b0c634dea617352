import { z } from 'zod';
import YAML from 'yaml';
import { getModelSpec, validateCut, OptimizerSchema, TrainingModeSchema } from '@splitfleet/splitcore';

/**
 * The run configuration: one schema, documented defaults, validated before any work starts.
 * docs/config.md lists every option.
 */
const int = (min: number) => z.number().int().min(min);

export const ConfigSchema = z
  .object({
    seed: z.number().int().default(42),
    data: z
      .object({
        name: z.enum(['fashion-mnist', 'cifar10']).default('fashion-mnist'),
        /** null: the Fashion-MNIST subset committed in data/fashion-mnist. */
        dir: z.string().min(1).nullable().default(null),
        /** Use only the first N test samples for evaluation (null: all). */
        testSamples: int(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        name: z.enum(['cnn-small', 'vgg-mini']).default('cnn-small'),
        /** null: the model's default cut (cnn-small: headEnd 2, tailStart 5). */
        cut: z.object({ headEnd: int(1), tailStart: int(2) }).strict().nullable().default(null),
      })
      .strict()
      .prefault({}),
    partition: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('iid') }).strict(),
        z.object({ kind: z.literal('dirichlet'), alpha: z.number().positive().default(0.5), minSize: int(0).default(10) }).strict(),
      ])
      .prefault({ kind: 'iid' }),
    fleet: z
      .object({
        clients: int(1).max(100000).default(8),
        workers: int(1).max(256).default(2),
        runtime: z.enum(['node']).default('node'),
        backend: z.enum(['auto', 'wasm', 'cpu', 'webgpu']).default('auto'),
        /** Seconds to wait for all clients to join. */
        joinTimeoutSeconds: z.number().positive().default(120),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        mode: TrainingModeSchema.default('splitfed'),
        rounds: int(1).max(100000).default(3),
        batchSize: int(1).max(4096).default(64),
        optimizer: OptimizerSchema.default({ name: 'sgd', lr: 0.05, momentum: 0.9 }),
        /** Write checkpoint.ckpt every N rounds (0: never); `--resume` continues from it. */
        checkpointEvery: int(0).default(1),
        /** Cap on local steps per round (null: one full local epoch). */
        maxStepsPerRound: int(1).nullable().default(null),
        /** The server drops a client that has not sent its part of a step within this time. */
        stepTimeoutSeconds: z.number().positive().default(120),
      })
      .strict()
      .prefault({}),
    attack: z
      .object({
        /** none: no attack; spadv: record during training, attack after it. */
        method: z.enum(['none', 'spadv']).default('none'),
        aux: z
          .object({
            /** |D_aux|: unlabelled samples the attacker holds. */
            size: int(2).default(256),
            /** Class skew of D_aux: Dirichlet(alpha) proportions; null with fromClient set. */
            alpha: z.number().positive().nullable().default(0.5),
            /** Draw D_aux with the label distribution of this client instead. */
            fromClient: int(0).nullable().default(null),
            /** Training samples held out from every client (the attacker's pool). */
            holdout: int(2).default(1000),
            seed: z.number().int().nullable().default(null),
          })
          .strict()
          .prefault({}),
        objective: z.enum(['infomax', 'match', 'cluster', 'observe']).default('observe'),
        /** Compare several objectives in one run (overrides objective). */
        objectives: z.array(z.enum(['infomax', 'match', 'cluster', 'observe'])).nullable().default(null),
        observe: z.object({ batches: int(1).default(32) }).strict().prefault({}),
        shadow: z
          .object({
            architecture: z.enum(['same', 'small']).default('same'),
            steps: int(1).default(300),
            lr: z.number().positive().default(0.003),
            batchSize: int(2).default(64),
          })
          .strict()
          .prefault({}),
        craft: z.array(z.enum(['pgd', 'feature', 'ila'])).min(1).default(['pgd', 'feature']),
        epsilon: z.number().min(0).max(1).default(0.1),
        /** ε grid for the report (defaults to [epsilon]). */
        epsilons: z.array(z.number().min(0).max(1)).nullable().default(null),
        steps: int(1).default(20),
        evalSamples: int(1).default(500),
        baselines: z.array(z.enum(['whitebox', 'random-shadow', 'noise'])).default(['whitebox', 'random-shadow', 'noise']),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let v = obj;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Validates raw config data; errors name each bad path, its value and what is allowed. */
export function parseConfig(raw: unknown): Config {
  const r = ConfigSchema.safeParse(raw ?? {});
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const path = i.path.join('.') || '(root)';
      const got = valueAt(raw, i.path);
      const extra = i.code === 'unrecognized_keys' ? ` (${(i as { keys: string[] }).keys.join(', ')})` : '';
      return `  ${path}: ${i.message}${extra}${got === undefined ? '' : `; got ${JSON.stringify(got)}`}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const cfg = r.data;
  const spec = getModelSpec(cfg.model.name);
  try {
    validateCut(spec, cfg.model.cut ?? spec.defaultCut);
  } catch (e) {
    throw new ConfigError(`invalid configuration:\n  model.cut: ${(e as Error).message}`);
  }
  if (cfg.data.name === 'cifar10' && cfg.model.name !== 'vgg-mini')
    throw new ConfigError('invalid configuration:\n  model.name: cifar10 (32×32×3) needs model vgg-mini');
  if (cfg.data.name === 'cifar10' && cfg.data.dir === null)
    throw new ConfigError('invalid configuration:\n  data.dir: cifar10 is not shipped; give the directory holding data_batch_*.bin and test_batch.bin');
  return cfg;
}

/** Parses YAML or JSON text (JSON is YAML). */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return YAML.parse(text) ?? {};
  } catch (e) {
    throw new ConfigError(`${source}: not valid YAML/JSON: ${(e as Error).message}`);
  }
}

/** Applies `path=value` overrides; values are parsed as YAML scalars (numbers, booleans, null). */
export function applyOverrides(raw: unknown, sets: readonly string[]): unknown {
  const root = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${s}: expected path=value, e.g. --set fleet.clients=64`);
    const path = s.slice(0, eq).split('.');
    const value = YAML.parse(s.slice(eq + 1));
    let node = root;
    path.slice(0, -1).forEach((k) => {
      if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
      node = node[k] as Record<string, unknown>;
    });
    node[path[path.length - 1]!] = value;
  }
  return root;
}
