import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCifar10, parseIdx, parseIdxLabels, type ImageSet } from '@splitfleet/splitcore';

/** The Fashion-MNIST subset committed in the repository. */
export const BUNDLED_FASHION_MNIST = resolve(fileURLToPath(new URL('../../../../data/fashion-mnist', import.meta.url)));

export interface Dataset {
  readonly name: string;
  readonly dir: string;
  readonly train: ImageSet;
  readonly test: ImageSet;
}

function readMaybeGz(dir: string, base: string): Uint8Array {
  for (const name of [`${base}.gz`, base]) {
    const p = join(dir, name);
    if (existsSync(p)) {
      const bytes = readFileSync(p);
      const isGz = bytes[0] === 0x1f && bytes[1] === 0x8b;
      return new Uint8Array(isGz ? gunzipSync(bytes) : bytes);
    }
  }
  throw new Error(`dataset file ${base}(.gz) not found in ${dir}`);
}

/**
 * Reads a dataset from disk (IDX for Fashion-MNIST, binary batches for CIFAR-10). `trainImages:
 * false` keeps the training labels only (train.images is empty): a server that trains on no image.
 */
export function readDataset(name: string, dir: string | null, opts: { trainImages?: boolean } = {}): Dataset {
  const withTrain = opts.trainImages ?? true;
  const root = dir ?? BUNDLED_FASHION_MNIST;
  if (!existsSync(root)) {
    const hint = name === 'fashion-mnist' ? ' (the full set: npm run setup -- --for data, which apt-installs dataset-fashion-mnist, then data.dir=/usr/share/datasets/fashion-mnist)' : '';
    throw new Error(`data.dir ${root} does not exist${hint}`);
  }
  if (name === 'fashion-mnist') {
    const load = (split: string) => parseIdx(readMaybeGz(root, `${split}-images-idx3-ubyte`), readMaybeGz(root, `${split}-labels-idx1-ubyte`));
    const test = load('t10k');
    // without training images, their file is not even read (47 MB; 188 MB as float32)
    const train = withTrain ? load('train') : parseIdxLabels(readMaybeGz(root, 'train-labels-idx1-ubyte'), test.shape);
    return { name, dir: root, train, test };
  }
  if (name === 'cifar10') {
    const files = readdirSync(root).filter((f) => /^data_batch_\d+\.bin$/.test(f)).sort();
    if (files.length === 0) throw new Error(`no data_batch_*.bin in ${root}`);
    const parsed = parseCifar10(files.map((f) => new Uint8Array(readFileSync(join(root, f)))));
    const train = withTrain ? parsed : { ...parsed, images: new Uint8Array(0) };
    const test = parseCifar10([new Uint8Array(readFileSync(join(root, 'test_batch.bin')))]);
    return { name, dir: root, train, test };
  }
  throw new Error(`unknown dataset ${name}; available: fashion-mnist, cifar10`);
}

const cache = new Map<string, Dataset>();
/** Per-process cache: the clients of one worker share one copy of the data. */
export function readDatasetCached(name: string, dir: string | null): Dataset {
  const key = `${name}|${dir ?? ''}`;
  let d = cache.get(key);
  if (!d) {
    d = readDataset(name, dir);
    cache.set(key, d);
  }
  return d;
}
