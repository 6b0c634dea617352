import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/**
 * A seed derived from `seed` and a path (round, step, client…): independent numbers for every
 * path, the same ones on every run. Used for per-step dropout masks.
 */
export function derivedSeed(seed: number, ...path: readonly (string | number)[]): number {
  let r = Rng.fromSeed(seed);
  for (const p of path) r = r.fork(p);
  return r.int(2 ** 31 - 1);
}

/**
 * The one seeded random source of splitfleet (shuffling, partitioning, initial weights, sampling).
 * Wraps pure-rand's xoroshiro128+; `Math.random` is never used anywhere in the libraries.
 * Streams for independent purposes are derived with `fork(label)`, so adding a draw in one place
 * never shifts the numbers another component sees.
 */
export class Rng {
  private readonly gen: JumpableRandomGenerator;
  private spareNormal: number | null = null;

  private constructor(gen: JumpableRandomGenerator) {
    this.gen = gen;
  }

  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    return new Rng(xoroshiro128plus(seed | 0));
  }

  static fromState(state: readonly number[]): Rng {
    return new Rng(xoroshiro128plusFromState(state));
  }

  /** Serialisable state, for checkpoints. */
  state(): number[] {
    return [...this.gen.getState()];
  }

  /** An independent stream derived from this seed's first state and a label; does not advance this stream. */
  fork(label: string | number): Rng {
    const base = this.gen.getState();
    let h = 0x811c9dc5;
    const text = `${base.join(',')}|${label}`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return new Rng(xoroshiro128plus(h | 0));
  }

  /** Uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`int(n) needs a positive integer, got ${n}`);
    return uniformInt(this.gen, 0, n - 1);
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.float() - 1;
      const v = 2 * this.float() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * m;
        return u * m;
      }
    }
  }

  /** Gamma(shape, 1) by Marsaglia–Tsang, with the boost for shape < 1. */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new Error(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      const u = this.float();
      return this.gamma(shape + 1) * Math.pow(u === 0 ? Number.MIN_VALUE : u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.float();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** A draw from Dirichlet(alpha). */
  dirichlet(alpha: readonly number[]): number[] {
    const g = alpha.map((a) => this.gamma(a));
    const s = g.reduce((a, b) => a + b, 0);
    if (s === 0) {
      // every component underflowed (tiny alpha): the limit is a one-hot at a uniform position
      const out = alpha.map(() => 0);
      out[this.int(alpha.length)] = 1;
      return out;
    }
    return g.map((v) => v / s);
  }

  /** Fisher–Yates shuffle, returning a new array. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i] as T;
      out[i] = out[j] as T;
      out[j] = t;
    }
    return out;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
