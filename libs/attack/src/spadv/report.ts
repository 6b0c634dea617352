import { z } from 'zod';
import { AttackConfigSchema, LABELLED_BASELINES, ShadowObjectiveSchema, ShadowScopeSchema } from '../config.ts';
import { AttackCellSchema, AttackMethodNameSchema, SuiteResultSchema } from '../suite-result.ts';

/**
 * The SPADV report exactly as results.json (`attack`) and attack.json hold it: strict schemas, so a
 * reader can validate a run directory's files, and the TypeScript types derived from them.
 * docs/spadv.md explains every field.
 */

/** One objective's shadow and its evaluation against every real model. */
export const ObjectiveReportSchema = z
  .object({
    objective: ShadowObjectiveSchema,
    shadowSeconds: z.number(),
    shadowFinalLoss: z.number(),
    /** For 'observe': accuracy of the labels inferred from gradients, after the best relabelling (mean over shadows, by observed samples). */
    labelInferenceAccuracy: z.number().nullable(),
    /** Every shadow trained (one per plan of attack.shadowScope): whom it serves and what it cost. */
    shadows: z.array(
      z.object({
        key: z.string(), scope: ShadowScopeSchema, clientIds: z.array(z.number()),
        /** Of clientIds, those seen less than attack.minClientSamples: served by this shadow, not trained into it. */
        fallbackIds: z.array(z.number()).default([]),
        observedSamples: z.number(), seconds: z.number(),
        finalLoss: z.number(), labelInferenceAccuracy: z.number().nullable(),
        /**
         * Memory: the observations this shadow trained from, and its own parameters and buffers
         * (ĥ and t̂, float32). Shadows are trained and freed one at a time, so a scope's peak is the
         * rings (observedBytes of the report) plus the largest shadow's weights and its optimiser state.
         */
        observedBytes: z.number().default(0),
        weightBytes: z.number().default(0),
        /** Targeted, attack.targetMap labelled: real class → this shadow's class, from the attacker's labelled images. */
        targetMap: z.array(z.number()).nullable().default(null),
      }).strict(),
    ).default([]),
    /** One suite per real model and shadow: `clientIds` are the model's clients that shadow serves. */
    targets: z.array(z.object({ label: z.string(), clientIds: z.array(z.number()), shadow: z.string().default('fleet'), suite: SuiteResultSchema }).strict()),
    /** SPADV success / white-box success per craft method and ε, averaged over targets. */
    relativeToWhitebox: z.array(z.object({ method: AttackMethodNameSchema, epsilon: z.number(), ratio: z.number().nullable() }).strict()),
  })
  .strict();
export type ObjectiveReport = z.infer<typeof ObjectiveReportSchema>;

/** One attack's metrics at one ε, over the (unweighted) evaluation set, averaged over target models. */
export const MetricSummarySchema = AttackCellSchema.omit({ method: true, successRate: true, successRateAll: true, outcomes: true, perClass: true, evaluated: true, targeted: true })
  .extend({
    method: AttackMethodNameSchema,
    /** = AttackCell.successRate, under the name results.json uses: over the correctly classified samples. */
    asr: z.number(),
    /** = AttackCell.successRateAll: over all evaluation samples (1 − robustAccuracy). */
    asrAll: z.number().default(0),
  })
  .strict();
export type MetricSummary = z.infer<typeof MetricSummarySchema>;

/** The primary attack against one client's real model, re-weighted to that client's label distribution. */
export const ClientAttackRowSchema = z
  .object({
    id: z.number(),
    target: z.string(),
    samples: z.number(),
    /** Hellinger distance between this client's label distribution and D_aux's. */
    /** null when D_aux comes from another data set (its labels are not the clients' classes). */
    hellingerToAux: z.number().nullable(),
    cleanAccuracy: z.number(),
    robustAccuracy: z.number(),
    asr: z.number(),
    targetedSuccess: z.number().nullable(),
    linfMax: z.number(),
    l2Mean: z.number(),
    /** The shadow the attacker used for this client (attack.shadowScope) and the scope it serves. */
    // defaults: reports written before these fields existed read as one fleet shadow with nothing measured
    shadow: z.string().default('fleet'),
    scope: ShadowScopeSchema.default('fleet'),
    /** The attacker saw less than attack.minClientSamples of this client: its shadow is a fallback (a cluster's or the fleet's). */
    fallback: z.boolean().default(false),
    /** That shadow's agreement with this client's real model (null without a shadow tail). */
    shadowAgreement: z.number().nullable().default(null),
    /** Label inference from gradients by that shadow's observations (null when not measured). */
    labelInferenceAccuracy: z.number().nullable().default(null),
    /** The strongest white-box attack's ASR against this client's own model, re-weighted to its labels (null: not run). */
    whiteboxAsr: z.number().nullable().default(null),
    /** This client's ASR ÷ whiteboxAsr. */
    ratioToWhitebox: z.number().nullable().default(null),
    /** ‖h_i − h̄‖ / ‖h̄‖: how far this client's head lies from the clients' mean head. */
    headDistance: z.number().nullable().default(null),
  })
  .strict();
export type ClientAttackRow = z.infer<typeof ClientAttackRowSchema>;

const SpreadSchema = z.object({ min: z.number(), median: z.number(), max: z.number() }).strict();

/** Means of the per-client rows (null when there are no client rows). */
const MeanOverClientsSchema = z
  .object({ cleanAccuracy: z.number().nullable(), robustAccuracy: z.number().nullable(), asr: z.number().nullable() })
  .strict();

/** Which splitfleet made a report (filled in by the app that ran it; the library knows no git). */
export const ToolProvenanceSchema = z.object({ version: z.string(), commit: z.string().nullable(), dirty: z.boolean().nullable() }).strict();

export const AttackReportSchema = z
  .object({
    method: z.literal('spadv'),
    tool: ToolProvenanceSchema.nullable().default(null),
    /** The evaluated test images: indices first … first + count − 1 of the test split (attack.evalSlice, attack.evalSamples). */
    evaluation: z.object({ slice: z.enum(['all', 'tune', 'eval']), first: z.number().int(), count: z.number().int() }).strict().nullable().default(null),
    /** The attack section of the config used. */
    config: AttackConfigSchema,
    /** What perClient/aggregate describe: the first objective and craft at the configured ε. */
    primary: z.object({
      objective: ShadowObjectiveSchema, method: AttackMethodNameSchema, epsilon: z.number(), targeted: z.boolean(),
      /** Targeted SPADV whose class map came from the evaluation-side oracle (attack.targetMap oracle): not an attacker's figure. */
      oracleTargetMap: z.boolean().default(false),
    }).strict(),
    perClient: z.array(ClientAttackRowSchema),
    aggregate: MetricSummarySchema.extend({
      meanOverClients: MeanOverClientsSchema,
      /** Over the per-client rows: min, median and max of ASR and of the ratio to each client's own white-box success. */
      overClients: z.object({ asr: SpreadSchema.nullable(), ratioToWhitebox: SpreadSchema.nullable() }).strict().default({ asr: null, ratioToWhitebox: null }),
    }).strict(),
    /** Same budget, same samples. whiteBox is the upper bound; transfer's attacker holds labels (stronger than SPADV's). */
    baselines: z
      .object({
        randomNoise: MetricSummarySchema.nullable(),
        randomShadow: MetricSummarySchema.nullable(),
        transfer: MetricSummarySchema.nullable(),
        /** A whole model trained on the held-out pool with labels (attack.baselines transfer-pool). */
        transferPool: MetricSummarySchema.nullable().default(null),
        /** ĥ and t̂ around the real middle, trained on D_aux with labels (attack.baselines labelled-shadow). */
        labelledShadow: MetricSummarySchema.nullable().default(null),
        whiteBox: MetricSummarySchema.nullable(),
      })
      .strict(),
    /** Primary SPADV success / white-box success. */
    relativeToWhitebox: z.number().nullable(),
    aux: z.object({ size: z.number(), classShare: z.array(z.number()), source: z.string() }).strict(),
    surrogate: z.object({ seconds: z.number(), finalLoss: z.number() }).strict().nullable(),
    /** Every labelled baseline's model: how many labelled images it trained on and its accuracy on the evaluation images. */
    labelledBaselines: z.array(z.object({
      baseline: z.enum(LABELLED_BASELINES), samples: z.number(), seconds: z.number(), finalLoss: z.number(), cleanAccuracy: z.number(),
    }).strict()).default([]),
    observedSamples: z.number(),
    /** Bytes the server's observation rings held (every client's ring). */
    observedBytes: z.number().nullable().default(null),
    epsilons: z.array(z.number()),
    objectives: z.array(ObjectiveReportSchema),
  })
  .strict();
export type AttackReport = z.infer<typeof AttackReportSchema>;
