import { z } from 'zod';
import { TRAINING_MODES, type TrainingMode } from '../rounds/registry.ts';

/**
 * Defences against SPADV's two leaks (issue #21): what the smashed data reveals about the head, and
 * what the gradient a client returns at the middle's output reveals about its labels. A defence
 * declares where it acts, which training modes it is valid for, its strength parameter with the
 * value at which it is the identity, and the strengths a study sweeps (SecretFlow's DefenseBase
 * plays this role there). Configured as `defence: [...]`; browser and Node clients run the same
 * code (transforms.ts, distance-correlation.ts).
 */

/** Where a defence acts: the smashed data a client sends, the gradient it returns, its loss, its training labels, its training inputs. */
export type DefenceSite = 'smashed' | 'gradient' | 'loss' | 'labels' | 'inputs';

const strength = z.number().min(0);

export const DefenceSpecSchema = z.discriminatedUnion('kind', [
  z.object({
    /** Noise on the smashed data a client sends (training and evaluation): z + σ·n, n Gaussian or Laplace. */
    kind: z.literal('smashed-noise'),
    sigma: strength,
    distribution: z.enum(['gaussian', 'laplace']).default('gaussian'),
    /** relative: σ is a multiple of the batch's smashed-data standard deviation; absolute: in the smashed data's units. */
    scale: z.enum(['relative', 'absolute']).default('relative'),
  }).strict(),
  z.object({
    /**
     * A DP-style mechanism on the gradient a client returns at the middle's output: each sample's
     * gradient clipped to L2 norm `clip` (null: no clipping), then Gaussian noise of standard
     * deviation σ·clip per coordinate (σ alone without clipping).
     */
    kind: z.literal('gradient-noise'),
    sigma: strength,
    clip: z.number().positive().nullable().default(null),
    /**
     * absolute: `clip` in the gradient's units; relative: `clip` is a multiple of the batch's median
     * per-sample gradient norm, so one setting carries across models, batch sizes and training
     * (the norm shrinks as the loss falls). A clip read from the batch is not a DP guarantee.
     */
    clipScale: z.enum(['absolute', 'relative']).default('absolute'),
  }).strict(),
  z.object({
    /**
     * Li et al. (ICLR 2022) "Max Norm": each sample's returned gradient gets Gaussian noise whose
     * expected squared norm lifts it towards the batch's largest, scaled by `strength` (1: to it),
     * so gradient norms stop telling classes apart. Our reading: σ_j² = strength·(‖g_max‖² − ‖g_j‖²)/d.
     */
    kind: z.literal('maxnorm'),
    strength,
  }).strict(),
  z.object({
    /** Label randomised response: each training label kept with probability e^ε/(e^ε + C − 1), else another class uniformly (ε-label DP). null: off. */
    kind: z.literal('label-rr'),
    epsilon: z.number().positive().nullable(),
  }).strict(),
  z.object({
    /** Uniform quantisation of the smashed data sent to 2^bits levels between the batch's min and max; frames carry bits per value (codec dtype 5). null: off. */
    kind: z.literal('quantise'),
    bits: z.number().int().min(1).max(16).nullable(),
  }).strict(),
  z.object({
    /** Top-k sparsification: each sample's smallest-magnitude `drop` fraction of smashed values is zeroed and not sent (codec dtype 6 when that is smaller). */
    kind: z.literal('topk'),
    drop: z.number().min(0).lt(1),
  }).strict(),
  z.object({
    /** NoPeek (Vepakomma et al. 2020): the client adds λ · distance correlation(inputs, smashed data) to its loss. */
    kind: z.literal('nopeek'),
    lambda: strength,
  }).strict(),
  z.object({
    /**
     * U-shaped adversarial training (Madry et al. 2018, through the split): each training batch is
     * replaced by PGD examples (L∞ `epsilon`, pixels in [0,1], seeded random start) crafted through
     * the client's own head, the server's middle and the client's tail. Every PGD step is one more
     * forward/backward round trip with the server (purpose `craft`: the middle answers as it stands
     * and is not updated), counted in traffic and the virtual clock.
     */
    kind: z.literal('adversarial'),
    epsilon: strength.max(1),
    steps: z.number().int().min(1).max(50).default(3),
    /** PGD step size; null: 2.5·ε/steps (Madry et al.). */
    stepSize: z.number().positive().nullable().default(null),
  }).strict(),
]);
export type DefenceSpec = z.infer<typeof DefenceSpecSchema>;
export type DefenceKind = DefenceSpec['kind'];

/** `defence:` one defence or a list (applied in the order given at each site); none by default. */
export const DefenceConfigSchema = z.preprocess(
  // one defence is a list of one, so every error names its place as defence.<index>.<option>
  (d) => (d === undefined || d === null ? [] : Array.isArray(d) ? d : [d]),
  z.array(DefenceSpecSchema),
).default([]);

export interface DefenceInfo {
  readonly site: DefenceSite;
  /** The option that sets its strength, and the value at which the defence is the identity. */
  readonly strength: string;
  readonly identity: number | null;
  /** Strengths a study sweeps, weakest first (the identity is the study's `none`). */
  readonly search: readonly number[];
  readonly modes: readonly TrainingMode[];
}

export const DEFENCES: Readonly<Record<DefenceKind, DefenceInfo>> = {
  'smashed-noise': { site: 'smashed', strength: 'sigma', identity: 0, search: [0.05, 0.1, 0.3, 1], modes: TRAINING_MODES },
  // σ is a noise multiplier of `clip` (DP-SGD's): a study sets clip near the returned gradients' per-sample norm
  'gradient-noise': { site: 'gradient', strength: 'sigma', identity: 0, search: [0.03, 0.1, 0.3, 1], modes: TRAINING_MODES },
  maxnorm: { site: 'gradient', strength: 'strength', identity: 0, search: [0.25, 0.5, 1, 2], modes: TRAINING_MODES },
  quantise: { site: 'smashed', strength: 'bits', identity: null, search: [8, 4, 2, 1], modes: TRAINING_MODES },
  topk: { site: 'smashed', strength: 'drop', identity: 0, search: [0.5, 0.75, 0.9, 0.97], modes: TRAINING_MODES },
  'label-rr': { site: 'labels', strength: 'epsilon', identity: null, search: [8, 4, 2, 1], modes: TRAINING_MODES },
  nopeek: { site: 'loss', strength: 'lambda', identity: 0, search: [0.1, 0.3, 1, 3], modes: TRAINING_MODES },
  adversarial: { site: 'inputs', strength: 'epsilon', identity: 0, search: [0.025, 0.05, 0.1, 0.2], modes: TRAINING_MODES },
};

/** The training context a defence is checked against. */
export interface DefenceContext {
  readonly mode: TrainingMode;
  readonly batchSize: number;
}

/**
 * Problems of a defence list in its context, one line each naming the option, the value and what
 * is allowed; the app turns them into a config error before any work. `registry` is the one in
 * force (every defence today is valid in all five training modes; a new one may declare fewer).
 */
export function defenceProblems(defences: readonly DefenceSpec[], ctx: DefenceContext, registry: Readonly<Record<DefenceKind, DefenceInfo>> = DEFENCES): string[] {
  const out: string[] = [];
  const seen = new Set<DefenceKind>();
  defences.forEach((d, i) => {
    const info = registry[d.kind];
    if (seen.has(d.kind)) out.push(`defence.${i}.kind: ${d.kind} is given twice; give it once with the strength wanted`);
    seen.add(d.kind);
    if (!info.modes.includes(ctx.mode)) out.push(`defence.${i}.kind: ${d.kind} is not allowed with training.mode ${ctx.mode} (allowed: ${info.modes.join(', ')})`);
    if (d.kind === 'topk' && !isIdentity(d) && defences.some((o) => o.kind === 'quantise' && !isIdentity(o)))
      out.push(`defence.${i}.kind: topk is not allowed with quantise; a frame is either sparse or quantised (choose one)`);
    if (d.kind === 'maxnorm' && d.strength > 0 && ctx.batchSize < 2)
      out.push(`defence.${i}.kind: maxnorm is not allowed with training.batchSize ${ctx.batchSize}; it lifts each sample's gradient towards the batch's largest (needs a batch of 2 or more)`);
  });
  return out;
}

/** The defences at a site, in the order given. */
export function defencesAt(defences: readonly DefenceSpec[], site: DefenceSite): DefenceSpec[] {
  return defences.filter((d) => DEFENCES[d.kind].site === site);
}

/** True when the defence leaves everything as it is (strength at its identity). */
export function isIdentity(d: DefenceSpec): boolean {
  switch (d.kind) {
    case 'smashed-noise': return d.sigma === 0;
    // clipping alone changes the gradient even without noise
    case 'gradient-noise': return d.sigma === 0 && d.clip === null;
    case 'maxnorm': return d.strength === 0;
    case 'label-rr': return d.epsilon === null;
    case 'quantise': return d.bits === null;
    case 'topk': return d.drop === 0;
    case 'nopeek': return d.lambda === 0;
    case 'adversarial': return d.epsilon === 0;
  }
}
