import * as tf from '@tensorflow/tfjs-core';
import { intermediateAttack, logits, noise, pgd, type CraftMethod, type ThreePart } from './craft.ts';
import { matchedAccuracy } from './hungarian.ts';

export type AttackMethodName = `spadv-${CraftMethod}` | 'whitebox-pgd' | 'random-shadow-pgd' | 'noise';

export interface AttackCell {
  readonly method: AttackMethodName;
  readonly epsilon: number;
  /** Fraction of the evaluated samples (correctly classified by the real model) that the attack flips. */
  readonly successRate: number;
  readonly evaluated: number;
  readonly seconds: number;
  /** Largest |x_adv − x|∞ seen (checked ≤ ε) and whether every pixel stayed in [0,1]. */
  readonly maxPerturbation: number;
}

export interface ShadowQuality {
  /** Agreement of shadow and real predictions on the evaluation inputs, after the best relabelling. */
  readonly agreement: number;
  /** Mean per-sample cosine similarity between ĥ(x) and h(x). */
  readonly smashedCosine: number;
  /** Mean |per-channel mean difference| / per-channel std of h(x). */
  readonly channelMeanGap: number;
}

export interface SuiteResult {
  readonly cleanAccuracy: number;
  readonly evaluated: number;
  readonly cells: AttackCell[];
  readonly shadow: ShadowQuality;
  /** Examples for the report: a few clean and adversarial images at the largest ε. */
  readonly examples: { readonly clean: number[][]; readonly adversarial: number[][]; readonly method: string; readonly epsilon: number };
}

export interface SuiteOptions {
  readonly real: ThreePart;
  readonly shadow: ThreePart;
  readonly randomShadow: ThreePart;
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly epsilons: readonly number[];
  readonly steps: number;
  readonly crafts: readonly CraftMethod[];
  readonly baselines: readonly ('whitebox' | 'random-shadow' | 'noise')[];
  readonly seed: number;
  /** MI-FGSM momentum for the SPADV crafts (0: plain PGD). White-box PGD stays plain. */
  readonly momentum?: number;
  readonly batch?: number;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

async function argmax(m: ThreePart, x: tf.Tensor): Promise<Int32Array> {
  const a = tf.tidy(() => tf.argMax(logits(m, x), -1));
  const v = (await a.data()) as Int32Array;
  a.dispose();
  return Int32Array.from(v);
}

/**
 * Evaluates SPADV and baselines against a real client model on natural samples: only samples the
 * real model classifies correctly count; success = the real model's prediction changes. The shadow
 * attacks never see the true labels: they attack the shadow's own prediction.
 */
export async function evaluateSuite(o: SuiteOptions): Promise<SuiteResult> {
  const per = o.inputShape.reduce((a, b) => a * b, 1);
  const n = o.y.length;
  const all = tf.tensor(o.x, [n, ...o.inputShape]);
  const realPred = await argmax(o.real, all);
  const shadowPred = await argmax(o.shadow, all);
  const keep: number[] = [];
  realPred.forEach((p, i) => p === o.y[i] && keep.push(i));
  const agreement = matchedAccuracy(shadowPred, realPred, o.classes).accuracy;
  const quality = tf.tidy(() => {
    const h = tf.reshape(o.real.head.apply(all), [n, -1]);
    const hs = tf.reshape(o.shadow.head.apply(all), [n, -1]);
    const cos = tf.mean(tf.div(tf.sum(tf.mul(h, hs), 1), tf.add(tf.mul(tf.norm(h, 2, 1), tf.norm(hs, 2, 1)), 1e-12)));
    const c = o.real.head.spec.outputShape[o.real.head.spec.outputShape.length - 1]!;
    const hc = tf.reshape(h, [-1, c]);
    const hsc = tf.reshape(hs, [-1, c]);
    const gap = tf.mean(tf.div(tf.abs(tf.sub(tf.mean(hc, 0), tf.mean(hsc, 0))), tf.add(tf.moments(hc, 0).variance.sqrt(), 1e-6)));
    return [cos, gap];
  });
  const [cosV, gapV] = await Promise.all(quality.map((t) => t.data()));
  tf.dispose([...quality, all]);
  const xs = new Float32Array(keep.length * per);
  keep.forEach((k, i) => xs.set(o.x.subarray(k * per, (k + 1) * per), i * per));
  const ys = Int32Array.from(keep, (k) => o.y[k]!);
  const shadowYs = Int32Array.from(keep, (k) => shadowPred[k]!);
  const randYsAll = await (async () => {
    const t = tf.tensor(xs, [keep.length, ...o.inputShape]);
    const v = keep.length ? await argmax(o.randomShadow, t) : new Int32Array(0);
    t.dispose();
    return v;
  })();
  type Job = { method: AttackMethodName; run: (x: tf.Tensor, idx: [number, number], eps: number) => tf.Tensor };
  const jobs: Job[] = [];
  const lab = (arr: Int32Array, [a, b]: [number, number]) => tf.tensor1d(arr.slice(a, b), 'int32');
  for (const craft of o.crafts) {
    jobs.push({
      method: `spadv-${craft}`,
      run: (x, r, eps) => {
        const l = lab(shadowYs, r);
        const co = { epsilon: eps, steps: o.steps, momentum: o.momentum ?? 0 };
        const out = craft === 'pgd' ? pgd(o.shadow, x, l, o.classes, co) : intermediateAttack(o.shadow, x, l, o.classes, { ...co, variant: craft });
        l.dispose();
        return out;
      },
    });
  }
  if (o.baselines.includes('whitebox'))
    jobs.push({ method: 'whitebox-pgd', run: (x, r, eps) => { const l = lab(ys, r); const out = pgd(o.real, x, l, o.classes, { epsilon: eps, steps: o.steps }); l.dispose(); return out; } });
  if (o.baselines.includes('random-shadow'))
    jobs.push({ method: 'random-shadow-pgd', run: (x, r, eps) => { const l = lab(randYsAll, r); const out = pgd(o.randomShadow, x, l, o.classes, { epsilon: eps, steps: o.steps }); l.dispose(); return out; } });
  if (o.baselines.includes('noise')) jobs.push({ method: 'noise', run: (x, _r, eps) => noise(x, eps, o.seed) });

  const cells: AttackCell[] = [];
  const bs = o.batch ?? 100;
  const total = jobs.length * o.epsilons.length;
  let examples: SuiteResult['examples'] = { clean: [], adversarial: [], method: '', epsilon: 0 };
  for (const eps of o.epsilons) {
    for (const job of jobs) {
      const t0 = performance.now();
      let flipped = 0;
      let maxPert = 0;
      for (let a = 0; a < keep.length; a += bs) {
        const b = Math.min(keep.length, a + bs);
        const x = tf.tensor(xs.subarray(a * per, b * per), [b - a, ...o.inputShape]);
        const adv = job.run(x, [a, b], eps);
        const [pred, pert, lo, hi] = await Promise.all([
          argmax(o.real, adv),
          tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x)))).data(),
          tf.tidy(() => tf.min(adv)).data(),
          tf.tidy(() => tf.max(adv)).data(),
        ]);
        if (lo[0]! < 0 || hi[0]! > 1) throw new Error(`${job.method}: adversarial pixels left [0,1] (${lo[0]}, ${hi[0]})`);
        maxPert = Math.max(maxPert, pert[0]!);
        if (maxPert > eps + 1e-6) throw new Error(`${job.method}: perturbation ${maxPert} exceeds ε=${eps}`);
        pred.forEach((p, i) => p !== ys[a + i] && flipped++);
        if (a === 0 && job.method.startsWith('spadv') && eps === o.epsilons[o.epsilons.length - 1]) {
          const k = Math.min(8, b - a);
          const av = (await adv.data()) as Float32Array;
          examples = {
            method: job.method, epsilon: eps,
            clean: Array.from({ length: k }, (_, i) => Array.from(xs.subarray(i * per, (i + 1) * per))),
            adversarial: Array.from({ length: k }, (_, i) => Array.from(av.subarray(i * per, (i + 1) * per))),
          };
        }
        tf.dispose([x, adv]);
      }
      cells.push({ method: job.method, epsilon: eps, successRate: keep.length ? flipped / keep.length : 0, evaluated: keep.length, seconds: (performance.now() - t0) / 1000, maxPerturbation: maxPert });
      o.onProgress?.(cells.length, total, `${job.method} ε=${eps}`);
    }
  }
  return {
    cleanAccuracy: keep.length / n, evaluated: keep.length, cells,
    shadow: { agreement, smashedCosine: cosV![0]!, channelMeanGap: gapV![0]! },
    examples,
  };
}
