import { z } from 'zod';
import { CraftMethodSchema } from './config.ts';

/**
 * What one evaluation suite (SPADV and baselines against one real model) measures, as schemas: the
 * suite's results are stored verbatim in results.json (`attack.objectives[].targets[].suite`), so a
 * reader can validate them, and the TypeScript types are derived from the same definitions.
 */
const counts = z.array(z.number());

/** Every attack an evaluation cell can hold: a SPADV craft or a baseline. */
export const AttackMethodNameSchema = z.union([
  z.templateLiteral(['spadv-', CraftMethodSchema]),
  // random-shadow-head: a head-only shadow's baseline (a random ĥ, the real middle, SPADV's first middle-* craft)
  z.enum(['whitebox-pgd', 'whitebox-cw', 'whitebox-apgd', 'whitebox-worst', 'random-shadow-pgd', 'random-shadow-head', 'transfer-pgd', 'transfer-pool-pgd', 'labelled-shadow-pgd', 'noise']),
]);
export type AttackMethodName = z.infer<typeof AttackMethodNameSchema>;

/** Counts and perturbation sizes per true class, so metrics can be re-weighted to any client's label distribution. */
export const PerClassCountsSchema = z
  .object({
    total: counts,
    /** Classified correctly by the real model before the attack (the attacked samples). */
    correct: counts,
    /** Attacked samples whose real prediction changed. */
    fooled: counts,
    /** Targeted only: attacked samples (target ≠ true class) the real model now puts in the target class. */
    hit: counts,
    targetable: counts,
    /** Sum of the attacked samples' L2 perturbation norms. */
    l2Sum: counts,
    /** Largest L∞ perturbation among the attacked samples (0 for a class with none). */
    linfMax: counts,
  })
  .strict();
export type PerClassCounts = z.infer<typeof PerClassCountsSchema>;

export const AttackCellSchema = z
  .object({
    method: AttackMethodNameSchema,
    epsilon: z.number(),
    targeted: z.boolean(),
    /** Samples attacked: those the real model classifies correctly. */
    evaluated: z.number(),
    cleanAccuracy: z.number(),
    /** Accuracy of the real model on all evaluation samples after the attack. */
    robustAccuracy: z.number(),
    /** Attack success rate: fraction of the attacked samples whose real prediction changed. */
    successRate: z.number(),
    /**
     * Over ALL evaluation samples: those misclassified after the attack, counting the ones the real
     * model already got wrong (= 1 − robustAccuracy; untargeted). Foolbox/TransferAttack users ask
     * which denominator a table uses: successRate's is the correctly classified samples, this one's all.
     */
    successRateAll: z.number().default(0),
    /**
     * Per evaluation sample, in order (attack.evalSlice): 1 = the attack succeeded, 0 = attacked
     * without success, - = not attacked (misclassified clean; targeted: target = true class). Every
     * method of a suite attacks the same samples, so these rows pair methods for a bootstrap.
     */
    outcomes: z.string().default(''),
    /** Targeted attacks: fraction of attacked samples (target ≠ true class) now predicted as the target. */
    targetedSuccess: z.number().nullable(),
    linfMean: z.number(),
    /** Largest |x_adv − x|∞ seen (checked ≤ ε). */
    linfMax: z.number(),
    l2Mean: z.number(),
    l2Max: z.number(),
    seconds: z.number(),
    /** Gradient queries to the model the attack runs on, per attacked sample (0 for noise). */
    queriesPerSample: z.number(),
    perClass: PerClassCountsSchema,
  })
  .strict();
export type AttackCell = z.infer<typeof AttackCellSchema>;

export const ShadowQualitySchema = z
  .object({
    /** Agreement of shadow and real predictions on the evaluation inputs, after the best relabelling; null without a shadow tail. */
    agreement: z.number().nullable(),
    /** Mean per-sample cosine similarity between ĥ(x) and h(x). */
    smashedCosine: z.number(),
    /** Mean |per-channel mean difference| / per-channel std of h(x). */
    channelMeanGap: z.number(),
    /** Mean per-sample cosine similarity between the middle's outputs m(ĥ(x)) and m(h(x)). */
    middleCosine: z.number().nullable().default(null),
  })
  .strict();
export type ShadowQuality = z.infer<typeof ShadowQualitySchema>;

export const SuiteResultSchema = z
  .object({
    cleanAccuracy: z.number(),
    evaluated: z.number(),
    cells: z.array(AttackCellSchema),
    shadow: ShadowQualitySchema,
    /** Examples for the report: a few clean and adversarial images at the largest ε. */
    examples: z
      .object({ clean: z.array(z.array(z.number())), adversarial: z.array(z.array(z.number())), method: z.string(), epsilon: z.number() })
      .strict(),
  })
  .strict();
export type SuiteResult = z.infer<typeof SuiteResultSchema>;
