import type { Rng } from '../rng/rng.ts';
import type { DefenceSpec } from './spec.ts';
import { quantileSorted } from '../metrics/bootstrap.ts';

/**
 * The defences' arithmetic on plain arrays: a pure function of the values, the defence and a seeded
 * generator, so every backend (wasm, webgpu, cpu; Node or browser) perturbs identically and a run
 * stays deterministic. `values` holds `batch` samples of equal size, row-major. Each function
 * returns new values and never changes its input; the identity strength returns a copy.
 */

/** Laplace(0, 1/√2): unit variance, so σ means the same for both noise distributions. */
function laplace(rng: Rng): number {
  const u = rng.float() - 0.5;
  return (-Math.sign(u) * Math.log(Math.max(1 - 2 * Math.abs(u), Number.MIN_VALUE))) / Math.SQRT2;
}

/** Population standard deviation of all values (the feature scale `relative` noise refers to). */
export function standardDeviation(values: Float32Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length || 1;
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return Math.sqrt(ss / (values.length || 1));
}

/** smashed-noise: z + σ·n with unit-variance Gaussian or Laplace n; σ relative to the batch's spread or absolute. */
export function noisySmashed(values: Float32Array, d: Extract<DefenceSpec, { kind: 'smashed-noise' }>, rng: Rng): Float32Array {
  const out = Float32Array.from(values);
  if (d.sigma === 0) return out;
  const sigma = d.scale === 'relative' ? d.sigma * standardDeviation(values) : d.sigma;
  const draw = d.distribution === 'laplace' ? laplace : (r: Rng) => r.normal();
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + sigma * draw(rng);
  return out;
}

/** L2 norm of each sample's row. */
export function rowNorms(values: Float32Array, batch: number): number[] {
  const d = values.length / batch;
  return Array.from({ length: batch }, (_, j) => {
    let s = 0;
    for (let k = j * d; k < (j + 1) * d; k++) s += values[k]! ** 2;
    return Math.sqrt(s);
  });
}

/**
 * gradient-noise: each sample's gradient clipped to L2 norm C (when `clip` is set), then N(0, (σ·C)²)
 * per coordinate (σ² without clipping). C = `clip`, or `clip` × the batch's median per-sample norm
 * with `clipScale: relative`.
 */
export function noisyGradient(values: Float32Array, batch: number, d: Extract<DefenceSpec, { kind: 'gradient-noise' }>, rng: Rng): Float32Array {
  const out = Float32Array.from(values);
  const dim = values.length / batch;
  let bound = 1;
  if (d.clip !== null) {
    const norms = rowNorms(values, batch);
    bound = d.clipScale === 'relative' ? d.clip * quantileSorted([...norms].sort((a, b) => a - b), 0.5) : d.clip;
    for (let j = 0; j < batch; j++) {
      const scale = Math.min(1, bound / Math.max(norms[j]!, 1e-12));
      for (let k = j * dim; k < (j + 1) * dim; k++) out[k] = out[k]! * scale;
    }
  }
  if (d.sigma === 0) return out;
  const std = d.sigma * bound;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + std * rng.normal();
  return out;
}

/**
 * maxnorm (Li et al. 2022): sample j's gradient gets N(0, σ_j²) per coordinate with
 * σ_j² = strength·(‖g_max‖² − ‖g_j‖²)/d, so at strength 1 every gradient's expected squared norm
 * is the batch's largest — the norm no longer separates positive from negative classes.
 */
export function maxNormGradient(values: Float32Array, batch: number, d: Extract<DefenceSpec, { kind: 'maxnorm' }>, rng: Rng): Float32Array {
  const out = Float32Array.from(values);
  if (d.strength === 0) return out;
  const dim = values.length / batch;
  const sq = rowNorms(values, batch).map((n) => n * n);
  const top = Math.max(...sq);
  for (let j = 0; j < batch; j++) {
    const std = Math.sqrt((d.strength * (top - sq[j]!)) / dim);
    for (let k = j * dim; k < (j + 1) * dim; k++) out[k] = out[k]! + std * rng.normal();
  }
  return out;
}

/** Probability that randomised response keeps a label: e^ε / (e^ε + C − 1). */
export function keepProbability(epsilon: number, classes: number): number {
  return 1 / (1 + (classes - 1) * Math.exp(-epsilon));
}

/** label-rr: each label kept with keepProbability, else replaced by one of the other C − 1 classes uniformly. */
export function randomisedLabels(labels: Int32Array, classes: number, d: Extract<DefenceSpec, { kind: 'label-rr' }>, rng: Rng): Int32Array {
  const out = Int32Array.from(labels);
  if (d.epsilon === null) return out;
  const keep = keepProbability(d.epsilon, classes);
  for (let i = 0; i < out.length; i++) {
    if (rng.float() < keep) continue;
    const other = rng.int(classes - 1);
    out[i] = other >= out[i]! ? other + 1 : other;
  }
  return out;
}

/** topk: in each sample, the `drop` fraction of values smallest in magnitude set to 0 (ties: the later index goes first). */
export function sparsified(values: Float32Array, batch: number, d: Extract<DefenceSpec, { kind: 'topk' }>): Float32Array {
  const out = Float32Array.from(values);
  const dim = values.length / batch;
  const dropped = Math.floor(d.drop * dim);
  if (dropped === 0) return out;
  for (let j = 0; j < batch; j++) {
    const order = Array.from({ length: dim }, (_, k) => j * dim + k).sort((a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || b - a);
    for (const k of order.slice(0, dropped)) out[k] = 0;
  }
  return out;
}
