// Builds the committed Fashion-MNIST subset (class-balanced, seeded) from the full IDX files.
// Usage: node scripts/make-subset.ts [/usr/share/datasets/fashion-mnist] [data/fashion-mnist]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { encodeIdx, IDX_IMAGES_MAGIC } from '../libs/splitcore/src/data/idx.ts';
import { Rng } from '../libs/splitcore/src/rng/rng.ts';

const src = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const dst = process.argv[3] ?? 'data/fashion-mnist';
mkdirSync(dst, { recursive: true });
const read = (f: string) => new Uint8Array(gunzipSync(readFileSync(join(src, f))));

for (const [split, perClass] of [['train', 600], ['t10k', 100]] as const) {
  const img = read(`${split}-images-idx3-ubyte.gz`);
  const lab = read(`${split}-labels-idx1-ubyte.gz`);
  if (new DataView(img.buffer).getUint32(0) !== IDX_IMAGES_MAGIC) throw new Error('bad magic');
  const labels = lab.subarray(8);
  const rng = Rng.fromSeed(20261125).fork(split);
  const picked: number[] = [];
  for (let c = 0; c < 10; c++) {
    const idx: number[] = [];
    labels.forEach((l, i) => { if (l === c) idx.push(i); });
    picked.push(...rng.shuffle(idx).slice(0, perClass));
  }
  const order = rng.shuffle(picked);
  const px = new Uint8Array(order.length * 784);
  const ly = new Uint8Array(order.length);
  order.forEach((src, i) => { px.set(img.subarray(16 + src * 784, 16 + (src + 1) * 784), i * 784); ly[i] = labels[src]!; });
  writeFileSync(join(dst, `${split}-images-idx3-ubyte.gz`), gzipSync(encodeIdx('images', [order.length, 28, 28], px), { level: 9 }));
  writeFileSync(join(dst, `${split}-labels-idx1-ubyte.gz`), gzipSync(encodeIdx('labels', [order.length], ly), { level: 9 }));
  console.log(`${split}: ${order.length} samples`);
}
