import { readFileSync } from 'node:fs';
import { decodeTensor, encodeTensor, type WeightArray, type WireTensor } from '@splitfleet/splitcore';
import { writeFileAtomic } from './atomic.ts';

/**
 * A checkpoint file: magic "SFCK", u32 JSON length, the JSON (metadata + tensor index), then the
 * tensors as codec frames back to back. Written atomically (temp file + fsync + rename).
 */
const MAGIC = 'SFCK1';

export interface CheckpointIndexEntry { readonly name: string; readonly offset: number; readonly length: number }

export function writeCheckpoint(path: string, meta: unknown, tensors: Readonly<Record<string, WireTensor>>): void {
  const frames: [string, Uint8Array][] = Object.entries(tensors).map(([k, t]) => [k, encodeTensor(t)]);
  const index: CheckpointIndexEntry[] = [];
  let off = 0;
  for (const [name, f] of frames) {
    index.push({ name, offset: off, length: f.byteLength });
    off += f.byteLength;
  }
  const head = Buffer.from(JSON.stringify({ meta, index }));
  const out = Buffer.alloc(MAGIC.length + 4 + head.length + off);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(head.length, MAGIC.length);
  head.copy(out, MAGIC.length + 4);
  let p = MAGIC.length + 4 + head.length;
  for (const [, f] of frames) {
    out.set(f, p);
    p += f.byteLength;
  }
  writeFileAtomic(path, out);
}

export function readCheckpoint<M>(path: string): { meta: M; tensors: Map<string, WireTensor> } {
  const buf = readFileSync(path);
  if (buf.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) throw new Error(`${path} is not a splitfleet checkpoint`);
  const len = buf.readUInt32LE(MAGIC.length);
  const { meta, index } = JSON.parse(buf.subarray(MAGIC.length + 4, MAGIC.length + 4 + len).toString()) as { meta: M; index: CheckpointIndexEntry[] };
  const base = MAGIC.length + 4 + len;
  const tensors = new Map<string, WireTensor>();
  for (const e of index) tensors.set(e.name, decodeTensor(new Uint8Array(buf.buffer, buf.byteOffset + base + e.offset, e.length)));
  return { meta, tensors };
}

export function weightsToTensors(prefix: string, w: readonly WeightArray[]): Record<string, WireTensor> {
  return Object.fromEntries(w.map((x, i) => [`${prefix}/${i}`, { dtype: 'float32', shape: x.shape, data: x.values } as WireTensor]));
}

export function tensorsToWeights(prefix: string, tensors: Map<string, WireTensor>, names: readonly string[]): WeightArray[] {
  return names.map((name, i) => {
    const t = tensors.get(`${prefix}/${i}`);
    if (!t) throw new Error(`checkpoint lacks ${prefix}/${i}`);
    return { name, shape: t.shape, values: t.data as Float32Array };
  });
}

/** Observed (z, gm) batches as checkpoint tensors plus their metadata; the inverse is `observationsFrom`. */
export interface ObservedMeta { readonly clientId: number; readonly round: number; readonly step: number; readonly batch: number }

export function observationTensors(observed: readonly (ObservedMeta & { z: Float32Array; gm: Float32Array })[]): { meta: ObservedMeta[]; tensors: Record<string, WireTensor> } {
  const tensors: Record<string, WireTensor> = {};
  observed.forEach((b, i) => {
    tensors[`obs${i}/z`] = { dtype: 'float32', shape: [b.z.length], data: b.z };
    tensors[`obs${i}/gm`] = { dtype: 'float32', shape: [b.gm.length], data: b.gm };
  });
  return { meta: observed.map(({ clientId, round, step, batch }) => ({ clientId, round, step, batch })), tensors };
}

export function observationsFrom(meta: readonly ObservedMeta[], tensors: ReadonlyMap<string, WireTensor>): (ObservedMeta & { z: Float32Array; gm: Float32Array })[] {
  return meta.map((b, i) => {
    const z = tensors.get(`obs${i}/z`);
    const gm = tensors.get(`obs${i}/gm`);
    if (!z || !gm) throw new Error(`checkpoint lacks observation ${i}`);
    return { ...b, z: z.data as Float32Array, gm: gm.data as Float32Array };
  });
}
