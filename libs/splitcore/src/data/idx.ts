import { sizeOf } from '../model/shape.ts';
/**
 * IDX (the MNIST/Fashion-MNIST container) and CIFAR-10 binary parsers. They take bytes; reading
 * and gunzipping files is the platform's job (apps), so this stays usable in browsers.
 */

export interface ImageSet {
  /**
   * N × H × W × C pixels: in [0, 1] as float32, or as the data set's raw bytes (pixel = byte / 255,
   * a quarter of the memory: what the IDX and CIFAR readers keep). Read them through `gather` (or
   * `pixelAt`), which gives float32 pixels in [0, 1] for either.
   */
  readonly images: Float32Array | Uint8Array;
  readonly labels: Int32Array;
  readonly count: number;
  readonly shape: readonly [number, number, number];
  readonly classes: number;
}

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

function readIdx(bytes: Uint8Array, magic: number, what: string): { dims: number[]; data: Uint8Array } {
  if (bytes.byteLength < 8) throw new Error(`${what}: ${bytes.byteLength} bytes is too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic)
    throw new Error(`${what}: IDX magic 0x${got.toString(16).padStart(8, '0')} is not 0x${magic.toString(16).padStart(8, '0')} (is the file gzipped or of the wrong kind?)`);
  const rank = got & 0xff;
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const offset = 4 + 4 * rank;
  const size = sizeOf(dims);
  if (bytes.byteLength !== offset + size)
    throw new Error(`${what}: header says ${size} bytes of data for dims [${dims}], file has ${bytes.byteLength - offset}`);
  return { dims, data: bytes.subarray(offset) };
}

/** Parses an IDX image file and its label file (both uncompressed). */
export function parseIdx(imageBytes: Uint8Array, labelBytes: Uint8Array, classes = 10): ImageSet {
  const img = readIdx(imageBytes, IDX_IMAGES_MAGIC, 'images');
  const lab = readIdx(labelBytes, IDX_LABELS_MAGIC, 'labels');
  const [n, h, w] = img.dims as [number, number, number];
  if (lab.dims[0] !== n) throw new Error(`images hold ${n} samples but labels hold ${lab.dims[0]}`);
  const labels = Int32Array.from(lab.data);
  checkLabels(labels, classes);
  // the file's own bytes, not a float32 copy: 47 MB for the full Fashion-MNIST training set, not 188 MB
  return { images: img.data, labels, count: n, shape: [h, w, 1], classes };
}

/**
 * The labels of an IDX label file as an image set without pixels (`images` empty), of the given
 * image shape: for a host that trains on no image (the server) and should not read 47 MB of them.
 */
export function parseIdxLabels(labelBytes: Uint8Array, shape: readonly [number, number, number], classes = 10): ImageSet {
  const lab = readIdx(labelBytes, IDX_LABELS_MAGIC, 'labels');
  const labels = Int32Array.from(lab.data);
  checkLabels(labels, classes);
  return { images: new Uint8Array(0), labels, count: labels.length, shape, classes };
}

/** Serialises images (uint8) or labels to IDX; used to commit the data subset and by tests. */
export function encodeIdx(kind: 'images' | 'labels', dims: readonly number[], data: Uint8Array): Uint8Array {
  const magic = kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/**
 * CIFAR-10 binary format (data_batch_*.bin, test_batch.bin): records of 1 label byte then
 * 3072 bytes, channel-major (1024 R, 1024 G, 1024 B). Converted to channels-last.
 */
export function parseCifar10(batches: readonly Uint8Array[]): ImageSet {
  const rec = 1 + 3072;
  let count = 0;
  for (const [i, b] of batches.entries()) {
    if (b.byteLength % rec !== 0) throw new Error(`CIFAR-10 batch ${i}: ${b.byteLength} bytes is not a multiple of the ${rec}-byte record`);
    count += b.byteLength / rec;
  }
  const images = new Uint8Array(count * 3072);
  const labels = new Int32Array(count);
  let n = 0;
  for (const b of batches) {
    for (let r = 0; r < b.byteLength / rec; r++, n++) {
      const base = r * rec;
      labels[n] = b[base]!;
      for (let p = 0; p < 1024; p++)
        for (let c = 0; c < 3; c++) images[n * 3072 + p * 3 + c] = b[base + 1 + c * 1024 + p]!;
    }
  }
  checkLabels(labels, 10);
  return { images, labels, count, shape: [32, 32, 3], classes: 10 };
}

function checkLabels(labels: Int32Array, classes: number): void {
  for (let i = 0; i < labels.length; i++)
    if (labels[i]! < 0 || labels[i]! >= classes) throw new Error(`label ${labels[i]} at index ${i} is outside [0, ${classes})`);
}

/** Gathers samples by index into a batch (pixels and labels). */
export function gather(set: ImageSet, indices: readonly number[]): { x: Float32Array; y: Int32Array } {
  const per = set.shape[0] * set.shape[1] * set.shape[2];
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  const src = set.images;
  indices.forEach((idx, i) => {
    if (!(idx >= 0 && idx < set.count)) throw new Error(`sample index ${idx} is outside [0, ${set.count})`);
    if (src instanceof Float32Array) x.set(src.subarray(idx * per, (idx + 1) * per), i * per);
    else for (let k = 0; k < per; k++) x[i * per + k] = src[idx * per + k]! / 255;
    y[i] = set.labels[idx]!;
  });
  return { x, y };
}

/** Pixel `k` of a set (flat N × H × W × C index), in [0, 1]: the float32 value `gather` gives. */
export function pixelAt(set: ImageSet, k: number): number {
  const v = set.images[k]!;
  return set.images instanceof Float32Array ? v : Math.fround(v / 255);
}
