import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng/rng.ts';
import { ClientDefences, defenceRng } from './client-defence.ts';
import { smashedChannel } from './channel.ts';
import { distanceCorrelation, noPeekGradient } from './distance-correlation.ts';
import { DefenceConfigSchema, defenceProblems, DEFENCES, type DefenceSpec } from './spec.ts';
import { decodeTensor, dequantise, headerBytes, quantiseLevels } from '../codec/tensor-codec.ts';
import { tensorToFrame } from '../codec/tf-frames.ts';
import { keepProbability, maxNormGradient, noisyGradient, noisySmashed, randomisedLabels, rowNorms, standardDeviation } from './transforms.ts';

const floats = (min: number, max: number) => fc.array(fc.float({ min, max, noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 64 });
const rng = () => Rng.fromSeed(7);

describe('every defence at its identity strength changes nothing', () => {
  const identities = DefenceConfigSchema.parse([
    { kind: 'smashed-noise', sigma: 0 }, { kind: 'gradient-noise', sigma: 0 }, { kind: 'maxnorm', strength: 0 },
    { kind: 'label-rr', epsilon: null }, { kind: 'nopeek', lambda: 0 }, { kind: 'quantise', bits: null }, { kind: 'topk', drop: 0 },
    { kind: 'adversarial', epsilon: 0 },
  ]);

  it('covers every kind the registry knows', () => {
    expect(identities.map((d) => d.kind).sort()).toEqual(Object.keys(DEFENCES).sort());
  });

  it('the transforms return the values they were given (property)', () => {
    fc.assert(fc.property(floats(-5, 5), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 32 }), (vs, ys) => {
      const v = Float32Array.from(vs.slice(0, vs.length - (vs.length % 2)));
      const [sn, gn, mn, rr] = identities as [Extract<DefenceSpec, { kind: 'smashed-noise' }>, Extract<DefenceSpec, { kind: 'gradient-noise' }>, Extract<DefenceSpec, { kind: 'maxnorm' }>, Extract<DefenceSpec, { kind: 'label-rr' }>];
      expect(noisySmashed(v, sn, rng())).toEqual(v);
      expect(noisyGradient(v, 2, gn, rng())).toEqual(v);
      expect(maxNormGradient(v, 2, mn, rng())).toEqual(v);
      expect(randomisedLabels(Int32Array.from(ys), 10, rr, rng())).toEqual(Int32Array.from(ys));
    }));
  });

  it('a client with only identity defences hands back the very tensors it was given (no copy, no draw) and sends the plain frame', async () => {
    const d = new ClientDefences(identities, 10);
    const z = tf.randomNormal([3, 4]);
    const x = tf.randomNormal([3, 5]);
    const y = Int32Array.from([1, 2, 3]);
    expect(await d.smashedFrame(z, rng())).toEqual(await tensorToFrame(z));
    expect(await d.gradient(z, rng())).toBe(z);
    expect(d.headGradient(x, z, z)).toBe(z);
    expect(d.labels(y, rng())).toBe(y);
    expect(d.adversarial()).toBeNull();
    tf.dispose([x, z]);
  });
});

describe('smashed-data noise', () => {
  it('relative σ scales with the batch’s spread; Laplace and Gaussian have unit variance', () => {
    const v = Float32Array.from({ length: 20000 }, (_, i) => 3 * Math.sin(i));
    const sd = standardDeviation(v);
    for (const distribution of ['gaussian', 'laplace'] as const) {
      const out = noisySmashed(v, { kind: 'smashed-noise', sigma: 0.5, distribution, scale: 'relative' }, rng());
      const noise = out.map((o, i) => o - v[i]!);
      expect(standardDeviation(noise)).toBeCloseTo(0.5 * sd, 1);
    }
    const abs = noisySmashed(v, { kind: 'smashed-noise', sigma: 0.2, distribution: 'gaussian', scale: 'absolute' }, rng());
    expect(standardDeviation(abs.map((o, i) => o - v[i]!))).toBeCloseTo(0.2, 2);
  });
});

describe('quantised and sparse smashed data (the bytes on the wire are the compressed ones)', () => {
  const z = () => tf.tensor(Float32Array.from({ length: 2 * 50 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7))), [2, 5, 10]);

  it('quantised frames decode to the values the client used, within half a step, in bits per value (property over bits)', async () => {
    for (const bits of [1, 3, 8, 12, 16]) {
      const t = z();
      const values = (await t.data()) as Float32Array;
      const frame = await new ClientDefences(DefenceConfigSchema.parse({ kind: 'quantise', bits }), 10).smashedFrame(t, rng());
      const q = quantiseLevels(values, bits);
      const got = decodeTensor(frame);
      expect(got.shape).toEqual([2, 5, 10]);
      expect(got.data).toEqual(dequantise(q));
      got.data.forEach((v, i) => expect(Math.abs(v - values[i]!)).toBeLessThanOrEqual(q.step / 2 + 1e-6));
      expect(frame.byteLength).toBe(headerBytes(3) + 12 + Math.ceil((100 * bits) / 8));
      t.dispose();
    }
  });

  it('top-k keeps each sample’s largest values, sends the smaller of sparse and dense, and decodes to the kept values', async () => {
    for (const drop of [0.3, 0.9]) {
      const t = z();
      const values = (await t.data()) as Float32Array;
      const frame = await new ClientDefences(DefenceConfigSchema.parse({ kind: 'topk', drop }), 10).smashedFrame(t, rng());
      const got = decodeTensor(frame).data as Float32Array;
      for (let j = 0; j < 2; j++) {
        const row = Array.from(got.subarray(j * 50, (j + 1) * 50));
        const kept = row.filter((v) => v !== 0);
        expect(kept).toHaveLength(50 - Math.floor(drop * 50));
        const smallestKept = Math.min(...kept.map(Math.abs));
        row.forEach((v, k) => (v === 0 ? expect(Math.abs(values[j * 50 + k]!)).toBeLessThanOrEqual(smallestKept) : expect(v).toBe(values[j * 50 + k]!)));
      }
      const dense = headerBytes(3) + 4 * 100;
      expect(frame.byteLength).toBe(Math.min(dense, headerBytes(3) + 4 + 8 * (100 - 2 * Math.floor(drop * 50))));
      t.dispose();
    }
  });
});

describe('gradient protection', () => {
  it('clipping bounds every sample’s norm by clip and leaves smaller gradients alone (property)', () => {
    fc.assert(fc.property(floats(-10, 10), fc.float({ min: Math.fround(0.1), max: 5, noNaN: true }), (vs, clip) => {
      const v = Float32Array.from(vs.slice(0, vs.length - (vs.length % 4)));
      const out = noisyGradient(v, 4, { kind: 'gradient-noise', sigma: 0, clip, clipScale: 'absolute' }, rng());
      const before = rowNorms(v, 4);
      rowNorms(out, 4).forEach((n, j) => expect(n).toBeCloseTo(Math.min(before[j]!, clip), 3));
    }));
  });

  it('a relative clip is a multiple of the batch’s median norm, so scaling the gradients scales the output alike (property)', () => {
    // rows of norms 1, 2, 3, 4, 5 (median 3): clip 1 relative bounds them by 3
    const dim = 4;
    const g = Float32Array.from({ length: 5 * dim }, (_, k) => (Math.floor(k / dim) + 1) / 2);
    const clipped = rowNorms(noisyGradient(g, 5, { kind: 'gradient-noise', sigma: 0, clip: 1, clipScale: 'relative' }, rng()), 5);
    [1, 2, 3, 3, 3].forEach((n, j) => expect(clipped[j]).toBeCloseTo(n, 5));
    fc.assert(fc.property(floats(-10, 10), fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }), fc.integer({ min: 0, max: 1000 }), (vs, k, seed) => {
      const v = Float32Array.from(vs.slice(0, vs.length - (vs.length % 4)));
      if (v.length === 0) return;
      const d = { kind: 'gradient-noise', sigma: 0.5, clip: 1, clipScale: 'relative' } as const;
      const base = noisyGradient(v, 4, d, Rng.fromSeed(seed));
      const scaled = noisyGradient(v.map((x) => x * k), 4, d, Rng.fromSeed(seed));
      base.forEach((x, i) => expect(Math.abs(scaled[i]! - x * k)).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(x * k))));
    }));
  });

  it('maxnorm at strength 1 lifts every sample’s expected squared norm to the batch’s largest', () => {
    const dim = 256;
    const g = Float32Array.from({ length: 2 * dim }, (_, k) => (k < dim ? 1 : 0.25)); // norms² 256 and 16
    const r = rng();
    let sq = 0;
    const draws = 200;
    for (let t = 0; t < draws; t++) sq += rowNorms(maxNormGradient(g, 2, { kind: 'maxnorm', strength: 1 }, r), 2)[1]! ** 2;
    expect(sq / draws / 256).toBeCloseTo(1, 1);
    // the largest gradient gets no noise
    expect(maxNormGradient(g, 2, { kind: 'maxnorm', strength: 1 }, r).slice(0, dim)).toEqual(g.slice(0, dim));
  });

  it('randomised response keeps labels at e^ε/(e^ε+C−1) and spreads the rest uniformly over the other classes', () => {
    const y = new Int32Array(40000).fill(3);
    const out = randomisedLabels(y, 10, { kind: 'label-rr', epsilon: 1 }, rng());
    const counts = new Array<number>(10).fill(0);
    for (const v of out) counts[v]!++;
    expect(counts[3]! / y.length).toBeCloseTo(keepProbability(1, 10), 2);
    const others = counts.filter((_, c) => c !== 3).map((c) => c / (y.length - counts[3]!));
    for (const share of others) expect(share).toBeCloseTo(1 / 9, 1);
  });
});

/** dCor by the textbook formulas with plain loops: the reference for the tfjs version. */
function referenceDcor(x: number[][], z: number[][]): number {
  const n = x.length;
  const centred = (m: number[][]) => {
    const d = m.map((a) => m.map((b) => Math.sqrt(a.reduce((s, v, k) => s + (v - b[k]!) ** 2, 0))));
    const row = d.map((r) => r.reduce((s, v) => s + v, 0) / n);
    const all = row.reduce((s, v) => s + v, 0) / n;
    return d.map((r, i) => r.map((v, j) => v - row[i]! - row[j]! + all));
  };
  const a = centred(x);
  const b = centred(z);
  const dcov = (p: number[][], q: number[][]) => p.reduce((s, r, i) => s + r.reduce((t, v, j) => t + v * q[i]![j]!, 0), 0) / (n * n);
  return Math.sqrt(dcov(a, b) / Math.sqrt(dcov(a, a) * dcov(b, b)));
}

describe('distance correlation (NoPeek’s penalty and the privacy proxy)', () => {
  const x = [[0, 1, 2], [1, 0, 0], [2, 2, 1], [0, 0, 3], [1, 3, 0]];
  const z = [[1, 0], [0, 2], [2, 1], [1, 1], [0, 0]];

  it('equals the hand-computed value on a small batch, and 1 for a scaled copy', () => {
    const got = tf.tidy(() => distanceCorrelation(tf.tensor2d(x), tf.tensor2d(z)).dataSync()[0]!);
    expect(got).toBeCloseTo(referenceDcor(x, z), 4);
    const same = tf.tidy(() => distanceCorrelation(tf.tensor2d(x), tf.mul(3, tf.tensor2d(x))).dataSync()[0]!);
    expect(same).toBeCloseTo(1, 4);
  });

  it('NoPeek’s gradient is λ·∂dCor/∂z (central differences) and is finite', () => {
    const xt = tf.tensor2d(x);
    const zt = tf.tensor2d(z);
    const g = noPeekGradient(xt, zt, 2).arraySync() as number[][];
    const h = 1e-3;
    for (const [i, k] of [[0, 0], [3, 1]] as const) {
      const shifted = (d: number) => referenceDcor(x, z.map((r, a) => r.map((v, b) => (a === i && b === k ? v + d : v))));
      expect(g[i]![k]!).toBeCloseTo((2 * (shifted(h) - shifted(-h))) / (2 * h), 2);
    }
    expect(g.flat().every(Number.isFinite)).toBe(true);
    tf.dispose([xt, zt]);
  });
});

describe('defence config', () => {
  it('one defence or a list; refuses an unknown kind and a negative strength', () => {
    expect(DefenceConfigSchema.parse({ kind: 'nopeek', lambda: 0.5 })).toEqual([{ kind: 'nopeek', lambda: 0.5 }]);
    expect(DefenceConfigSchema.parse(undefined)).toEqual([]);
    expect(DefenceConfigSchema.safeParse({ kind: 'dropout', p: 0.1 }).success).toBe(false);
    expect(DefenceConfigSchema.safeParse({ kind: 'smashed-noise', sigma: -1 }).success).toBe(false);
  });

  it('names the option, the value and what is allowed for a defence that cannot act in its context', () => {
    const ds = DefenceConfigSchema.parse([{ kind: 'maxnorm', strength: 1 }, { kind: 'maxnorm', strength: 2 }]);
    expect(defenceProblems(ds, { mode: 'splitfed', batchSize: 1 })).toEqual([
      "defence.0.kind: maxnorm is not allowed with training.batchSize 1; it lifts each sample's gradient towards the batch's largest (needs a batch of 2 or more)",
      'defence.1.kind: maxnorm is given twice; give it once with the strength wanted',
      "defence.1.kind: maxnorm is not allowed with training.batchSize 1; it lifts each sample's gradient towards the batch's largest (needs a batch of 2 or more)",
    ]);
  });

  it('refuses a defence in a training mode its registry entry does not list, naming the allowed ones', () => {
    // every shipped defence is valid in all five modes; a registry entry that lists fewer is enforced
    expect(Object.values(DEFENCES).every((d) => d.modes.length === 5)).toBe(true);
    const registry = { ...DEFENCES, nopeek: { ...DEFENCES.nopeek, modes: ['splitfed', 'sflv1'] as const } };
    const ds = DefenceConfigSchema.parse({ kind: 'nopeek', lambda: 1 });
    expect(defenceProblems(ds, { mode: 'sequential', batchSize: 16 }, registry)).toEqual(['defence.0.kind: nopeek is not allowed with training.mode sequential (allowed: splitfed, sflv1)']);
    expect(defenceProblems(ds, { mode: 'sflv1', batchSize: 16 }, registry)).toEqual([]);
  });

  it('refuses top-k together with quantisation (a frame is one or the other)', () => {
    expect(defenceProblems(DefenceConfigSchema.parse([{ kind: 'quantise', bits: 4 }, { kind: 'topk', drop: 0.5 }]), { mode: 'local', batchSize: 16 })).toEqual([
      'defence.1.kind: topk is not allowed with quantise; a frame is either sparse or quantised (choose one)',
    ]);
    expect(defenceProblems(DefenceConfigSchema.parse([{ kind: 'quantise', bits: null }, { kind: 'topk', drop: 0.5 }]), { mode: 'local', batchSize: 16 })).toEqual([]);
  });

  it('draws are a pure function of (seed, client, round, step, purpose)', () => {
    const a = defenceRng(1, 2, 3, 4, 'train');
    expect(a.float()).toBe(defenceRng(1, 2, 3, 4, 'train').float());
    expect(defenceRng(1, 2, 3, 4, 'eval').float()).not.toBe(defenceRng(1, 2, 3, 4, 'train').float());
  });
});

describe('the deployed channel (attacks evaluated against defended clients)', () => {
  const z = () => tf.tensor(Float32Array.from({ length: 2 * 50 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7))), [2, 50]);
  const w = () => tf.tensor(Float32Array.from({ length: 100 }, (_, i) => (i % 5) - 2), [2, 50]);

  it('quantises and sparsifies as the client’s frames do', async () => {
    for (const spec of [{ kind: 'quantise', bits: 3 }, { kind: 'topk', drop: 0.8 }] as const) {
      const ds = DefenceConfigSchema.parse(spec);
      const t = z();
      const sent = decodeTensor(await new ClientDefences(ds, 10).smashedFrame(t, rng())).data as Float32Array;
      const got = tf.tidy(() => smashedChannel(ds, rng())!(t).dataSync());
      got.forEach((v, i) => expect(v, spec.kind).toBeCloseTo(sent[i]!, 4));
      t.dispose();
    }
  });

  it('draws fresh noise on every forward, at the configured scale', () => {
    const ch = smashedChannel(DefenceConfigSchema.parse({ kind: 'smashed-noise', sigma: 0.2, scale: 'absolute' }), rng())!;
    const t = z();
    const [a, b] = tf.tidy(() => [tf.sub(ch(t), t).dataSync(), tf.sub(ch(t), t).dataSync()]);
    expect(a).not.toEqual(b);
    expect(standardDeviation(Float32Array.from(a!))).toBeCloseTo(0.2, 1);
    t.dispose();
  });

  it('passes gradients straight through noise and quantisation, and through top-k’s mask (BPDA)', () => {
    for (const [spec, masked] of [[{ kind: 'smashed-noise', sigma: 1 }, false], [{ kind: 'quantise', bits: 2 }, false], [{ kind: 'topk', drop: 0.5 }, true]] as const) {
      const ch = smashedChannel(DefenceConfigSchema.parse(spec), rng())!;
      const t = z();
      const wt = w();
      const [g, kept] = tf.tidy(() => {
        const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(ch(v), wt)))(t);
        return [grad.dataSync(), tf.notEqual(ch(t), 0).dataSync()];
      });
      const wv = wt.dataSync();
      g!.forEach((v, i) => expect(v, spec.kind).toBeCloseTo(masked && !kept![i] ? 0 : wv[i]!, 5));
      tf.dispose([t, wt]);
    }
  });

  it('is absent when no smashed-data defence acts', () => {
    expect(smashedChannel(DefenceConfigSchema.parse([{ kind: 'label-rr', epsilon: 1 }, { kind: 'smashed-noise', sigma: 0 }]), rng())).toBeNull();
  });
});
