import { pixelAt, type ImageSet } from './idx.ts';

/**
 * Converts an image set to another per-sample shape [h, w, c]: bilinear resizing (pixel centres
 * aligned, as tf.image.resizeBilinear with halfPixelCenters) and channel conversion — grey to RGB by
 * copying, RGB to grey by ITU-R BT.601 luminance. Out-of-distribution attacker data (MNIST digits for
 * Fashion-MNIST clients, any IDX or CIFAR-format set) is brought to the clients' input this way.
 * Pixels stay in [0, 1]. Throws one line naming both shapes when no such conversion exists.
 */
export function convertImages(set: ImageSet, to: readonly number[]): ImageSet {
  const [H, W, C] = set.shape;
  if (to.length !== 3 || !to.every((d) => Number.isInteger(d) && d > 0))
    throw new Error(`cannot convert [${set.shape}] images to [${to}]: the model's input is not an [h, w, c] image`);
  const [h, w, c] = to as [number, number, number];
  if (!((C === c) || (C === 1 && c === 3) || (C === 3 && c === 1)))
    throw new Error(`cannot convert [${set.shape}] images to [${to}]: channels ${C} → ${c} (only 1 ↔ 3 and equal counts are converted)`);
  if (H === h && W === w && C === c) return set;
  const per = h * w * c;
  const out = new Float32Array(set.count * per);
  const pixel = new Float32Array(C);
  for (let n = 0; n < set.count; n++) {
    const base = n * H * W * C;
    for (let y = 0; y < h; y++) {
      const sy = Math.min(H - 1, Math.max(0, ((y + 0.5) * H) / h - 0.5));
      const y0 = Math.floor(sy);
      const y1 = Math.min(H - 1, y0 + 1);
      const fy = sy - y0;
      for (let x = 0; x < w; x++) {
        const sx = Math.min(W - 1, Math.max(0, ((x + 0.5) * W) / w - 0.5));
        const x0 = Math.floor(sx);
        const x1 = Math.min(W - 1, x0 + 1);
        const fx = sx - x0;
        for (let k = 0; k < C; k++) {
          const at = (yy: number, xx: number) => pixelAt(set, base + (yy * W + xx) * C + k);
          pixel[k] = (at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy;
        }
        const o = n * per + (y * w + x) * c;
        if (C === c) out.set(pixel, o);
        else if (c === 3) out.fill(pixel[0]!, o, o + 3);
        else out[o] = 0.299 * pixel[0]! + 0.587 * pixel[1]! + 0.114 * pixel[2]!;
      }
    }
  }
  return { images: out, labels: set.labels, count: set.count, shape: [h, w, c], classes: set.classes };
}
