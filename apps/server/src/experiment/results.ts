import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { RoundResultSchema } from '@splitfleet/splitcore';
import { AttackReportSchema, ToolProvenanceSchema, type AttackReport } from '@splitfleet/attack';
import { ConfigError, ConfigSchema } from './config.ts';

export type { ClientRoundResult, RoundResult } from '@splitfleet/splitcore';

/** The shape of results.json (versioned; bump RESULTS_SCHEMA_VERSION on breaking changes). */
export const RESULTS_SCHEMA_VERSION = 1;

const num = z.number();

export const ClientInfoSchema = z.object({
  id: z.number().int().nonnegative(),
  runtime: z.string(),
  backend: z.string(),
  adapter: z.string().nullable(),
  /** Browser clients: the user agent they reported. */
  userAgent: z.string().nullable(),
  samples: z.number().int().nonnegative(),
  labelCounts: z.array(z.number().int().nonnegative()),
}).strict();
export type ClientInfo = z.infer<typeof ClientInfoSchema>;

const ProfileSchema = z.object({
  computeSlowdown: num, uplinkMbps: num, downlinkMbps: num, latencyMs: num, dropoutProbability: num, tier: z.string(),
  onlineRounds: z.array(z.tuple([num, num]).readonly()).readonly().optional(),
}).strict();

const DistributionSchema = z.object({
  count: num, mean: num,
  quantiles: z.object({ min: num, p10: num, p25: num, median: num, p75: num, p90: num, max: num }).strict(),
  histogram: z.object({ edges: z.array(num), counts: z.array(num) }).strict(),
}).strict();

/** Non-IID measures of the admitted population and the clients' device profiles. */
const PopulationSchema = z.object({
  global: z.array(num),
  clients: z.array(z.object({ counts: z.array(num), hellinger: num, jensenShannon: num, emd: num }).strict()),
  meanHellinger: num, maxHellinger: num, meanJensenShannon: num, maxJensenShannon: num, meanEmd: num, meanPairwiseJensenShannon: num,
  profiles: z.array(ProfileSchema),
  inputNoise: z.array(num),
  /** Clients described; beyond 1,000 the lists above are empty and `distributions` summarise them (rows in `rowsFile`). */
  registered: num.optional(),
  distributions: z.record(z.string(), DistributionSchema).optional(),
  rowsFile: z.string().optional(),
}).strict();

export const RunResultsSchema = z.object({
  schemaVersion: z.literal(RESULTS_SCHEMA_VERSION),
  runId: z.string(),
  config: ConfigSchema,
  seed: z.number().int(),
  /** Backend of the server's middle. */
  backend: z.string(),
  clientBackends: z.record(z.string(), z.number().int().nonnegative()),
  environment: z.object({
    node: z.string(), platform: z.string(), tfjs: z.string(), cpus: z.number().int(),
    /** Which splitfleet made this (experiment/provenance.ts); absent in results written before it was recorded. */
    splitfleet: ToolProvenanceSchema.optional(),
  }).strict(),
  clients: z.array(ClientInfoSchema),
  rounds: z.array(RoundResultSchema),
  population: PopulationSchema.optional(),
  final: z.object({ testAccuracy: num, testLoss: num }).strict().nullable(),
  timings: z.object({ startedAt: z.string(), finishedAt: z.string().nullable(), wallSeconds: num }).strict(),
  status: z.enum(['running', 'completed', 'failed']),
  error: z.string().optional(),
  /** Set when training ended before training.rounds (POST /api/stop on the dashboard). */
  stoppedEarly: z.string().optional(),
  /** Observations the attack's taps never saw because their queue was full (server.taps.whenFull: drop). */
  tapsDropped: z.number().int().nonnegative().optional(),
  /** SPADV: perClient[], aggregate, baselines, the attack config, and every objective's full cells. */
  attack: AttackReportSchema.optional(),
  /** The smashed data's privacy proxy: dCor(test inputs, smashed data sent) per trained client model (experiment/privacy.ts). */
  privacy: z.object({
    distanceCorrelation: num, perTarget: z.array(z.object({ label: z.string(), distanceCorrelation: num }).strict()), samples: z.number().int().positive(),
  }).strict().optional(),
  /** Sweeps: the run directory that trained this point's model (attack-only points share it). */
  trainedIn: z.string().optional(),
  /** Queued sweeps: the worker that ran this point. */
  ranOn: z.string().optional(),
}).strict();
export type RunResults = z.infer<typeof RunResultsSchema>;

/** `raw` checked against `schema`; the error names `source`, what it should be, and the first bad field. */
function parseChecked<S extends z.ZodType>(schema: S, raw: unknown, source: string, what: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new ConfigError(`${source}: not ${what}: ${i.path.join('.') || '(root)'}: ${i.message}`);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/** Checks a results object against the schema; the error names the first bad field and where it came from. */
export function parseResults(raw: unknown, source: string): RunResults {
  return parseChecked(RunResultsSchema, raw, source, `a splitfleet results file (schema ${RESULTS_SCHEMA_VERSION})`);
}

/** Reads and checks `<dir>/results.json`: the one way every reader gets a run's results. */
export function readResults(dir: string): RunResults {
  const path = join(dir, 'results.json');
  if (!existsSync(path)) throw new ConfigError(`${path} not found: is ${dir} a splitfleet run directory?`);
  return parseResults(readJson(path), path);
}

/** Reads and checks `<dir>/attack.json` (written by `attack --run` and by runs that attack); none: undefined. */
export function readAttack(dir: string): AttackReport | undefined {
  const path = join(dir, 'attack.json');
  return existsSync(path) ? parseChecked(AttackReportSchema, readJson(path), path, 'a splitfleet attack report') : undefined;
}
