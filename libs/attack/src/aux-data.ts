import { Rng } from '@splitfleet/splitcore';

/**
 * The attacker's data. `heldOut` reserves part of the training split that no client is given (and
 * that is disjoint from the test split); `drawAux` then draws a few samples from it, non-IID: class
 * proportions from Dirichlet(alpha) with its own seed, or a given client-like distribution.
 * Labels are used only to shape the draw (the simulation's choice of population); the attack
 * receives pixels only.
 */
export function heldOutIndices(count: number, size: number, seed: number): number[] {
  if (!Number.isInteger(size) || size < 1 || size >= count) throw new Error(`attack.aux.holdout must be an integer in [1, ${count - 1}], got ${size}`);
  return Rng.fromSeed(seed).fork('attack-holdout').permutation(count).slice(0, size).sort((a, b) => a - b);
}

export interface AuxDraw {
  readonly indices: number[];
  /** Fraction of each class in the draw (for the report). */
  readonly classShare: number[];
}

export function drawAux(pool: readonly number[], labels: ArrayLike<number>, size: number, classes: number, seed: number, dist: { alpha: number } | { proportions: readonly number[] }): AuxDraw {
  if (!Number.isInteger(size) || size < 1) throw new Error(`attack.aux.size must be an integer ≥ 1, got ${size}`);
  if (size > pool.length) throw new Error(`attack.aux.size (${size}) must be ≤ the held-out pool (${pool.length}); raise attack.aux.holdout`);
  const rng = Rng.fromSeed(seed).fork('attack-aux');
  let p: number[];
  if ('alpha' in dist) {
    if (!(dist.alpha > 0)) throw new Error(`attack.aux.alpha must be > 0, got ${dist.alpha}`);
    p = rng.dirichlet(new Array(classes).fill(dist.alpha));
  } else {
    const s = dist.proportions.reduce((a, b) => a + b, 0);
    p = dist.proportions.map((v) => v / s);
  }
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (const i of rng.shuffle(pool)) byClass[labels[i]!]!.push(i);
  const out: number[] = [];
  // sample class by class from the proportions, without replacement; when a class runs out the
  // draw continues from the others in proportion
  const taken = new Array<number>(classes).fill(0);
  while (out.length < size) {
    const avail = p.map((v, c) => (taken[c]! < byClass[c]!.length ? v : 0));
    const total = avail.reduce((a, b) => a + b, 0);
    let c: number;
    if (total <= 0) {
      c = byClass.findIndex((l, k) => taken[k]! < l.length);
    } else {
      let r = rng.float() * total;
      c = avail.findIndex((v) => (r -= v) <= 0);
      if (c < 0) c = avail.findLastIndex((v) => v > 0);
    }
    out.push(byClass[c]![taken[c]!++]!);
  }
  return { indices: out, classShare: taken.map((t) => t / size) };
}

/**
 * D_aux from another data set (`attack.aux.source: dataset`): `size` images drawn uniformly without
 * replacement, seeded. None of them is a client's or a test image: they come from another set.
 * The draw's class share is empty — that set's labels are not the clients' classes.
 */
export function drawOutOfDistribution(poolCount: number, size: number, seed: number): AuxDraw {
  if (!Number.isInteger(size) || size < 1) throw new Error(`attack.aux.size must be an integer ≥ 1, got ${size}`);
  if (size > poolCount) throw new Error(`attack.aux.size (${size}) must be ≤ the ${poolCount} images of attack.aux.dataset`);
  return { indices: Rng.fromSeed(seed).fork('attack-aux-dataset').permutation(poolCount).slice(0, size), classShare: [] };
}

/** A finished run cannot be attacked as asked (a user error: the message says what to do instead). */
export class AttackSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttackSetupError';
  }
}

/**
 * The pool D_aux is drawn from when attacking a finished run: the held-out samples its checkpoint
 * recorded. A run that held none out has no data the clients never trained on, and drawing D_aux
 * from their training data would overstate the attack, so it is refused.
 */
export function attackerPool(heldOut: readonly number[] | undefined): readonly number[] {
  if (!heldOut?.length)
    throw new AttackSetupError('this run held out no attacker data (it trained with attack.method=none), and D_aux from the clients\' training data would overstate the attack: train again with attack.method=spadv');
  return heldOut;
}
