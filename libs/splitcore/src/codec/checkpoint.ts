import type { WeightArray } from '../model/split.ts';
import { decodeTensor, encodeTensor, type WireTensor } from './tensor-codec.ts';

/**
 * The checkpoint format, bytes in and bytes out: magic "SFCK1", u32 (little-endian) JSON length, the
 * JSON ({meta, index}: each tensor's name, offset and length), then the tensors as codec frames back
 * to back. Reading a file and writing it atomically is the apps' job.
 */
const MAGIC = 'SFCK1';

export interface CheckpointIndexEntry { readonly name: string; readonly offset: number; readonly length: number }

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function encodeCheckpoint(meta: unknown, tensors: Readonly<Record<string, WireTensor>>): Uint8Array {
  const frames = Object.entries(tensors).map(([k, t]) => [k, encodeTensor(t)] as const);
  const index: CheckpointIndexEntry[] = [];
  let off = 0;
  for (const [name, f] of frames) {
    index.push({ name, offset: off, length: f.byteLength });
    off += f.byteLength;
  }
  const head = new TextEncoder().encode(JSON.stringify({ meta, index }));
  const out = new Uint8Array(MAGIC.length + 4 + head.length + off);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  new DataView(out.buffer).setUint32(MAGIC.length, head.length, true);
  out.set(head, MAGIC.length + 4);
  let p = MAGIC.length + 4 + head.length;
  for (const [, f] of frames) {
    out.set(f, p);
    p += f.byteLength;
  }
  return out;
}

/** Decodes a checkpoint; `source` names it in errors. Tensors are copies (aligned, independent of `bytes`). */
export function decodeCheckpoint<M>(bytes: Uint8Array, source = 'checkpoint'): { meta: M; tensors: Map<string, WireTensor> } {
  const magic = String.fromCharCode(...bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new CheckpointError(`${source} is not a splitfleet checkpoint`);
  if (bytes.byteLength < MAGIC.length + 4) throw new CheckpointError(`${source} is truncated`);
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  const base = MAGIC.length + 4 + len;
  if (base > bytes.byteLength) throw new CheckpointError(`${source} is truncated (header of ${len} bytes)`);
  let head: { meta: M; index: CheckpointIndexEntry[] };
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, base))) as typeof head;
  } catch (e) {
    throw new CheckpointError(`${source}: unreadable header: ${(e as Error).message}`);
  }
  const tensors = new Map<string, WireTensor>();
  for (const e of head.index) {
    if (base + e.offset + e.length > bytes.byteLength) throw new CheckpointError(`${source} is truncated (tensor ${e.name})`);
    tensors.set(e.name, decodeTensor(bytes.subarray(base + e.offset, base + e.offset + e.length)));
  }
  return { meta: head.meta, tensors };
}

export function weightsToTensors(prefix: string, w: readonly WeightArray[]): Record<string, WireTensor> {
  return Object.fromEntries(w.map((x, i) => [`${prefix}/${i}`, { dtype: 'float32', shape: x.shape, data: x.values } as WireTensor]));
}

export function tensorsToWeights(prefix: string, tensors: ReadonlyMap<string, WireTensor>, names: readonly string[]): WeightArray[] {
  return names.map((name, i) => {
    const t = tensors.get(`${prefix}/${i}`);
    if (!t) throw new CheckpointError(`checkpoint lacks ${prefix}/${i}`);
    return { name, shape: t.shape, values: t.data as Float32Array };
  });
}

/** Observed (z, gm) batches as checkpoint tensors plus their metadata; the inverse is `observationsFrom`. */
export interface ObservedMeta { readonly clientId: number; readonly round: number; readonly step: number; readonly batch: number }
type Observed = ObservedMeta & { readonly z: Float32Array; readonly gm: Float32Array };

export function observationTensors(observed: readonly Observed[]): { meta: ObservedMeta[]; tensors: Record<string, WireTensor> } {
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
    if (!z || !gm) throw new CheckpointError(`checkpoint lacks observation ${i}`);
    return { ...b, z: z.data as Float32Array, gm: gm.data as Float32Array };
  });
}
