import { z } from 'zod';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { attackConfigProblems, AttackConfigSchema, observationBytes } from '@splitfleet/attack';
import { ConfigError, describeIssues, show } from './config-errors.ts';
import { resolveModel } from './model-config.ts';
import {
  AggregationSchema, AvailabilitySchema, ConfigLayerSchema, CutSchema, DefenceConfigSchema, defenceProblems, parsePartitionFile, parseProfileTrace, drawProfiles, sizeOf, splitSpecs, validateCut, OptimizerSchema, TrainingModeSchema,
  type ClientProfile, type PartitionConfig, type SplitSpecs,
} from '@splitfleet/splitcore';

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
        /** A zoo model (docs/models.md), or any name for a model given by `layers`. */
        name: z.string().min(1).default('cnn-small'),
        /** A sequential model of your own: layer specs, each named (its name is the cut point after it). */
        layers: z.array(ConfigLayerSchema).min(3).nullable().default(null),
        /**
         * null: the model's default cut. A cut name (zoo models: docs/models.md, e.g. resnet-18's
         * split-1…split-4), {head, tail} layer names (the head ends with `head`, the tail starts with
         * `tail`) or {headEnd, tailStart} layer counts.
         */
        cut: z
          .union([z.string().min(1), CutSchema, z.object({ head: z.string().min(1), tail: z.string().min(1) }).strict()])
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    partition: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('iid') }).strict(),
        z.object({
          kind: z.literal('dirichlet'), alpha: z.number().positive().default(0.5), minSize: int(0).default(10),
          // per-class: each class split over the clients by Dir(α); per-client (Hsu et al. 2019): each client's mix ~ Dir(α·p), any fleet size
          scheme: z.enum(['per-class', 'per-client']).default('per-class'),
          // per-client only: client sizes, equal or from a quantity distribution (exponent, sigma as for kind quantity)
          sizes: z.enum(['equal', 'power-law', 'log-normal']).default('equal'),
          exponent: z.number().positive().default(1.2), sigma: z.number().positive().default(1),
        }).strict(),
        z.object({ kind: z.literal('pathological'), classesPerClient: int(1).default(2) }).strict(),
        z.object({ kind: z.literal('shard'), shardsPerClient: int(1).default(2), shardSize: int(1).default(100) }).strict(),
        z.object({
          kind: z.literal('quantity'), distribution: z.enum(['power-law', 'log-normal']).default('log-normal'),
          exponent: z.number().positive().default(1.2), sigma: z.number().positive().default(1), minSize: int(1).default(10),
        }).strict(),
        z.object({ kind: z.literal('feature-noise'), maxNoise: z.number().min(0).max(1).default(0.3) }).strict(),
        z.object({ kind: z.literal('from-file'), file: z.string().min(1) }).strict(),
      ])
      .prefault({ kind: 'iid' }),
    fleet: z
      .object({
        clients: int(1).max(100000).default(8),
        workers: int(1).max(256).default(2),
        /** node: worker_threads; browser: Web Workers in headless Chromium; mixed: half and half. */
        runtime: z.enum(['node', 'browser', 'mixed']).default('node'),
        backend: z.enum(['auto', 'wasm', 'cpu', 'webgpu']).default('auto'),
        /**
         * The last N client slots are open to anyone who reaches the join page (/join); the others
         * are reserved for the operator's fleet (tokens.json). 0: the join page hands out no slot.
         */
        openSlots: int(0).default(0),
        /** Seconds to wait for all clients to join. */
        joinTimeoutSeconds: z.number().positive().default(120),
        /**
         * A population run: this many registered clients (ids, partitions, profiles, availability),
         * of which `sample` per round are instantiated on the fleet's workers for that round only
         * (ephemeral clients, each with its own authenticated connection); null: every client is a
         * standing connection for the whole run. With it, fleet.clients is the population.
         */
        population: int(1).max(100000).nullable().default(null),
        /** Clients per round: a fraction in (0, 1] or a count > 1 (seeded per round). */
        sample: z.number().positive().default(1),
        /** Generated on/off patterns (always, or diurnal with a seeded phase per client; docs/population.md). */
        availability: AvailabilitySchema.default({ kind: 'always' }),
        /** Device heterogeneity (docs/population.md). */
        profiles: z
          .object({
            computeSigma: z.number().min(0).default(0),
            network: z.record(z.string(), z.number().min(0)).default({ lan: 1 }),
            dropoutProbability: z.number().min(0).max(0.99).default(0),
            /** JSON/CSV trace with one profile per client (overrides the draws). */
            trace: z.string().min(1).nullable().default(null),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        mode: TrainingModeSchema.default('splitfed'),
        rounds: int(1).max(100000).default(3),
        batchSize: int(1).max(4096).default(64),
        optimizer: OptimizerSchema.default({ name: 'sgd', lr: 0.05, momentum: 0.9 }),
        /**
         * How the server combines clients' weights: mean (FedAvg, weighted by samples), or the
         * robust coordinate-wise median / trimmed-mean (Yin et al. 2018; honest majority assumed).
         */
        aggregation: AggregationSchema.default({ rule: 'mean' }),
        /** Simulated seconds per round; clients predicted to need longer are left out as stragglers. */
        deadlineSeconds: z.number().positive().nullable().default(null),
        /** Write checkpoint.ckpt every N rounds (0: never); `--resume` continues from it. */
        checkpointEvery: int(0).default(1),
        /** Cap on local steps per round (null: one full local epoch). */
        maxStepsPerRound: int(1).nullable().default(null),
        /** The server drops a client that has not sent its part of a step within this time. */
        stepTimeoutSeconds: z.number().positive().default(120),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        /**
         * Clients authenticate with per-client tokens signed by the server's secret (from the
         * SPLITFLEET_SECRET environment variable, else random per run). Never put secrets in a config.
         */
        auth: z.boolean().default(true),
        tokenTtlSeconds: int(1).default(86400),
        /** Messages per second a client may send before getting 'rate-limited' errors. */
        rateLimit: int(1).default(1000),
        /** Bad frames in a row after which a client is disconnected. */
        maxBadFrames: int(1).default(20),
        /**
         * socket.io heartbeat: a peer that misses a ping for pingInterval + pingTimeout is dropped.
         * Large fleets on few cores block event loops for long stretches: raise both there.
         */
        pingIntervalSeconds: int(1).default(25),
        /** null: max(60, clients / 2) — 1,000 clients on 2 cores keep the server busy for minutes. */
        pingTimeoutSeconds: int(1).nullable().default(null),
        /**
         * Serve the live dashboard at the server's URL (read-only; POST /api/stop needs the admin
         * token from the SPLITFLEET_ADMIN_TOKEN environment variable).
         */
        dashboard: z.boolean().default(true),
        /**
         * Threads for the middle's training step (data-parallel shards of each step's batch, the
         * gradient summed over shards in a fixed order). The middle holds most of the model's
         * FLOPs, so this is what lets the server use more than one core. Weights are deterministic
         * for a given value; different values agree up to float rounding. null: 2, or 1 for a
         * population run (middleThreadsOf).
         */
        middleThreads: int(1).max(64).nullable().default(null),
        /**
         * Most rows the shared middle serves in one call: a lockstep step's clients are served in
         * runs of whole clients up to this many rows, their parameter gradients summed into the
         * step's one update (the same update up to summation order; batch norm then normalises per
         * run). Bounds the middle's working memory however many clients are active. null: a step's
         * rows in one call.
         */
        middleChunkRows: int(1).nullable().default(1024),
        /**
         * Observation taps (the attack's recorder) run after the clients' acks, from a queue of this
         * many observations; when it is full, `drop` drops the new observation (counted in results and
         * logged) so a slow tap never stalls training, `wait` makes training wait for the taps.
         */
        taps: z.object({ queue: int(1).default(64), whenFull: z.enum(['drop', 'wait']).default('drop') }).strict().prefault({}),
      })
      .strict()
      .prefault({}),
    /** SPADV and its baselines: the schema lives with the attack (libs/attack). */
    attack: AttackConfigSchema.prefault({}),
    /** Defences the clients apply (one or a list; none by default): the schema lives in splitcore (defence/spec.ts). */
    defence: DefenceConfigSchema,
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export { ConfigError };

/** Slots 0..N-1 are the operator's fleet (tokens.json); the last fleet.openSlots belong to the join page. */
export function reservedSlots(cfg: Config): number {
  return cfg.fleet.clients - cfg.fleet.openSlots;
}

/** Validates raw config data; each problem is one line naming its path, the value and what is allowed. */
export function parseConfig(raw: unknown): Config {
  const r = ConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(describeIssues(ConfigSchema, raw ?? {}, r.error.issues).join('\n'));
  const cfg = r.data;
  checkPopulation(cfg, raw);
  const model = resolveModel(cfg);
  const attack = attackConfigProblems(cfg.attack);
  if (attack.length) throw new ConfigError(attack.join('\n'));
  const defence = defenceProblems(cfg.defence, { mode: cfg.training.mode, batchSize: cfg.training.batchSize });
  if (defence.length) throw new ConfigError(defence.join('\n'));
  if (cfg.attack.method === 'spadv') checkObservationBudget(cfg, splitSpecs(model.spec, model.cut));
  const k = cfg.attack.clusters;
  if (k !== null && k > cfg.fleet.clients) throw new ConfigError(`attack.clusters: ${k} is not allowed; must be ≤ fleet.clients (${cfg.fleet.clients}), or null to choose it by silhouette`);
  const pc = cfg.partition;
  if (pc.kind === 'dirichlet' && pc.scheme === 'per-class' && pc.sizes !== 'equal')
    throw new ConfigError(`partition.sizes: ${pc.sizes} is not allowed with partition.scheme per-class (its sizes follow from the per-class draws); use partition.scheme: per-client, or sizes: equal`);
  const open = cfg.fleet.openSlots;
  if (open > cfg.fleet.clients) throw new ConfigError(`fleet.openSlots: ${open} is not allowed; must be ≤ fleet.clients (${cfg.fleet.clients})`);
  if (open > 0 && !cfg.server.auth)
    throw new ConfigError(`fleet.openSlots: ${open} is not allowed with server.auth false; open slots are handed out as tokens, and without tokens any client takes any slot`);
  if (cfg.data.name === 'cifar10' && cfg.data.dir === null)
    throw new ConfigError('data.dir: missing; cifar10 is not shipped: give the directory holding data_batch_*.bin and test_batch.bin');
  return cfg;
}

/** fleet.population: clients becomes the population; what an ephemeral fleet cannot do is refused. */
function checkPopulation(cfg: Config, raw: unknown): void {
  const pop = cfg.fleet.population;
  if (pop === null) return;
  const given = (raw as { fleet?: { clients?: unknown } } | null)?.fleet?.clients;
  if (given !== undefined && given !== pop)
    throw new ConfigError(`fleet.clients: ${show(given)} is not allowed with fleet.population ${pop}; a population run's clients are its population (give fleet.population only)`);
  cfg.fleet.clients = pop;
  if (!cfg.server.auth) throw new ConfigError('fleet.population: not allowed with server.auth false; a summoned client proves its id with a token');
  if (cfg.fleet.openSlots > 0) throw new ConfigError(`fleet.openSlots: ${cfg.fleet.openSlots} is not allowed with fleet.population; the join page hands out standing slots (use 0)`);
  if (cfg.fleet.runtime !== 'node') throw new ConfigError(`fleet.runtime: ${cfg.fleet.runtime} is not allowed with fleet.population; ephemeral clients run on Node worker_threads (use node)`);
}

/**
 * The server keeps attack.observe.batches batches (smashed data and returned gradients) for the
 * fleet, or per client with a client or cluster shadow scope: refused before training when that
 * could exceed attack.observe.maxMegabytes.
 */
function checkObservationBudget(cfg: Config, parts: SplitSpecs): void {
  const o = cfg.attack.observe;
  const perBatch = observationBytes(cfg.training.batchSize, sizeOf(parts.head.outputShape), sizeOf(parts.middle.outputShape));
  const rings = cfg.attack.shadowScope === 'fleet' ? 1 : cfg.fleet.clients;
  const megabytes = (perBatch * o.batches * rings) / 2 ** 20;
  if (megabytes > o.maxMegabytes)
    throw new ConfigError(
      `attack.observe.batches: ${o.batches}${rings > 1 ? ` per client × ${rings} clients (attack.shadowScope ${cfg.attack.shadowScope})` : ''} × ${(perBatch / 2 ** 20).toFixed(2)} MB per batch = ${Math.round(megabytes)} MB exceeds attack.observe.maxMegabytes (${o.maxMegabytes}); lower attack.observe.batches or raise the limit`,
    );
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

/** The partition config with a from-file partition read from disk (the pure partitioner takes the lists). */
export function resolvePartition(cfg: Config): PartitionConfig {
  const p = cfg.partition;
  if (p.kind !== 'from-file') return p;
  let text: string;
  try {
    text = readFileSync(p.file, 'utf8');
  } catch (e) {
    throw new ConfigError(`partition.file: cannot read ${p.file}: ${(e as Error).message}`);
  }
  return { kind: 'from-file', parts: parsePartitionFile(text, p.file) };
}

/** Device profiles of all clients: drawn from the configured distributions, or read from a trace. */
export function resolveProfiles(cfg: Config): ClientProfile[] {
  const pc = cfg.fleet.profiles;
  if (pc.trace) {
    let text: string;
    try {
      text = readFileSync(pc.trace, 'utf8');
    } catch (e) {
      throw new ConfigError(`fleet.profiles.trace: cannot read ${pc.trace}: ${(e as Error).message}`);
    }
    const profiles = parseProfileTrace(text, pc.trace);
    if (profiles.length < cfg.fleet.clients) throw new ConfigError(`fleet.profiles.trace: ${pc.trace} has ${profiles.length} profiles for ${cfg.fleet.clients} clients`);
    return profiles.slice(0, cfg.fleet.clients);
  }
  return drawProfiles(pc, cfg.fleet.clients, cfg.seed);
}
