import * as tf from '@tensorflow/tfjs-core';
// Gradients are the host's to register (splitcore registers nothing on import). tfjs-core publishes
// them only as extensionless ESM (dist/register_all_gradients.js), which Node cannot load; the union
// package's Node bundle registers the same gradients (and chained tensor ops) on the shared tfjs-core.
import '@tensorflow/tfjs';
import { registerSplitfleetKernels } from '@splitfleet/splitcore';
import { chooseAutoBackend, type AutoChoice } from './auto-backend.ts';
import { findWebgpuAdapter } from './webgpu-adapter.ts';

export type { AutoChoice } from './auto-backend.ts';

export type BackendRequest = 'auto' | 'wasm' | 'cpu' | 'webgpu';

export interface BackendInfo {
  readonly requested: BackendRequest;
  readonly backend: 'wasm' | 'cpu' | 'webgpu';
  /** Adapter description for webgpu, e.g. "mesa / llvmpipe (software)". */
  readonly adapter: string | null;
  /** Why auto did not pick webgpu, when it did not. */
  readonly note: string | null;
}

/** A backend the user asked for by name that cannot run here. Never silently replaced. */
export class BackendUnavailableError extends Error {
  constructor(backend: string, why: string) {
    super(`backend "${backend}" is unavailable: ${why}`);
    this.name = 'BackendUnavailableError';
  }
}

/**
 * Chooses and initialises the tfjs backend of this process/worker. `auto` picks webgpu only for a
 * hardware adapter (a software adapter is slower than wasm), otherwise wasm; a fleet passes the
 * choice it made once for all its workers (`auto`), else it is made here (auto-backend.ts).
 */
export async function initBackend(requested: BackendRequest, auto?: AutoChoice): Promise<BackendInfo> {
  let note: string | null = null;
  if (requested === 'auto') {
    const choice = auto ?? (await chooseAutoBackend());
    if (choice.backend === 'webgpu') return initWebgpu(requested);
    note = choice.note;
  }
  if (requested === 'webgpu') return initWebgpu(requested);
  if (requested === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('cpu', 'tfjs could not initialise it');
    return { requested, backend: 'cpu', adapter: null, note };
  }
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // Threads come from our worker pool; one wasm thread per worker keeps results deterministic.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  void wasm;
  if (!(await tf.setBackend('wasm'))) throw new BackendUnavailableError('wasm', 'tfjs could not initialise it');
  await tf.ready();
  registerSplitfleetKernels();
  return { requested, backend: 'wasm', adapter: null, note };
}

/** webgpu through Dawn in this thread; a backend asked for by name is never silently replaced. */
async function initWebgpu(requested: BackendRequest): Promise<BackendInfo> {
  const found = await findWebgpuAdapter();
  if (!found.install) throw new BackendUnavailableError('webgpu', found.description);
  found.install();
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new BackendUnavailableError('webgpu', 'tfjs could not initialise it');
  await tf.ready();
  return { requested, backend: 'webgpu', adapter: found.description, note: null };
}
