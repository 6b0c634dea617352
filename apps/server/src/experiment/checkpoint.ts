import { readFileSync } from 'node:fs';
import { decodeCheckpoint, encodeCheckpoint, type WireTensor } from '@splitfleet/splitcore';
import { writeFileAtomic } from './atomic.ts';

/** Checkpoint files: the format is splitcore's (codec/checkpoint.ts); written atomically (temp file + fsync + rename). */
export function writeCheckpoint(path: string, meta: unknown, tensors: Readonly<Record<string, WireTensor>>): void {
  writeFileAtomic(path, encodeCheckpoint(meta, tensors));
}

export function readCheckpoint<M>(path: string): { meta: M; tensors: Map<string, WireTensor> } {
  return decodeCheckpoint<M>(readFileSync(path), path);
}
