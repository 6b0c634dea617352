import * as tf from '@tensorflow/tfjs-core';
// Gradients are the host's to register (splitcore registers nothing on import). tfjs-core publishes
// them only as extensionless ESM (dist/register_all_gradients.js), which Node cannot load; the union
// package's Node bundle registers the same gradients (and chained tensor ops) on the shared tfjs-core.
import '@tensorflow/tfjs';
import { registerSplitfleetKernels } from '@splitfleet/splitcore';

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

interface AdapterProbe {
  readonly ok: boolean;
  readonly software: boolean;
  readonly description: string;
}

/**
 * Sets up Dawn (npm package `webgpu`) as navigator.gpu, on Mesa's software OpenGL ES when no GPU
 * exists. Must run before @tensorflow/tfjs-backend-webgpu is imported (it looks at navigator.gpu
 * at import time). EGL_PLATFORM must already be in the process environment (set by the parent or
 * the shell): native code in a worker_thread does not see a worker's copy of process.env.
 */
async function probeWebgpu(): Promise<AdapterProbe> {
  let mod: { create: (opts: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as unknown as typeof mod;
  } catch (e) {
    return { ok: false, software: false, description: `npm package "webgpu" failed to load: ${(e as Error).message}` };
  }
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, mod.globals);
  const attempts: [string[], GPURequestAdapterOptions][] = [
    [[], {}],
    [['backend=opengles'], { featureLevel: 'compatibility' } as GPURequestAdapterOptions],
  ];
  for (const [opts, req] of attempts) {
    try {
      const gpu = mod.create(opts);
      const adapter = await gpu.requestAdapter(req);
      if (!adapter) continue;
      const info = adapter.info;
      const text = `${info.vendor || 'unknown vendor'} / ${info.architecture || info.device || 'unknown device'} (${info.description || 'no description'})`;
      // Dawn's null backend accepts work and returns garbage: never use it.
      if (/null/i.test(`${info.description} ${info.device}`) && !info.vendor) continue;
      const software = adapter.isFallbackAdapter || /swiftshader|llvmpipe|softpipe|lavapipe|software|cpu/i.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`);
      // tfjs-backend-webgpu requests its own adapter; make it ask with the options that worked here
      // (OpenGL ES through Dawn only offers a 'compatibility' adapter).
      const wrapped = Object.create(gpu) as GPU;
      Object.defineProperty(wrapped, 'requestAdapter', { value: (o?: GPURequestAdapterOptions) => gpu.requestAdapter({ ...o, ...req }) });
      if (!('navigator' in g)) Object.defineProperty(g, 'navigator', { value: {}, configurable: true, writable: true });
      Object.defineProperty(g.navigator as object, 'gpu', { value: wrapped, configurable: true });
      return { ok: true, software, description: text + (software ? ' [software]' : '') };
    } catch {
      continue;
    }
  }
  return { ok: false, software: false, description: 'no WebGPU adapter (Dawn found no usable adapter; set EGL_PLATFORM=surfaceless for Mesa)' };
}

/**
 * Chooses and initialises the tfjs backend of this process/worker. `auto` picks webgpu only for a
 * hardware adapter (a software adapter is slower than wasm), otherwise wasm.
 */
export async function initBackend(requested: BackendRequest): Promise<BackendInfo> {
  let note: string | null = null;
  if (requested === 'webgpu' || requested === 'auto') {
    const probe = await probeWebgpu();
    if (probe.ok && (requested === 'webgpu' || !probe.software)) {
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) throw new BackendUnavailableError('webgpu', 'tfjs could not initialise it');
      await tf.ready();
      return { requested, backend: 'webgpu', adapter: probe.description, note };
    }
    if (requested === 'webgpu') throw new BackendUnavailableError('webgpu', probe.description);
    note = probe.ok ? `auto: skipped software WebGPU adapter ${probe.description}; wasm is faster on CPU` : `auto: ${probe.description}`;
  }
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
