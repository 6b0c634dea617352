// tfjs backend set-up inside a browser (page or Web Worker).
import * as tf from '@tensorflow/tfjs-core';
// Gradients and chained tensor ops are the host's to register (splitcore registers nothing on
// import); esbuild bundles tfjs-core's own registration modules, the ones the union package imports.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerSplitfleetKernels } from '@splitfleet/splitcore';
import type { WorkerBackend } from '../worker-api.ts';

export type BrowserBackendRequest = 'auto' | 'wasm' | 'cpu' | 'webgpu';

interface GpuLike {
  requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string }; isFallbackAdapter?: boolean } | null>;
}

/** Describes the WebGPU adapter the browser offers, or why there is none. */
async function probeAdapter(): Promise<{ ok: boolean; description: string }> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { ok: false, description: 'navigator.gpu is missing (WebGPU disabled or unsupported in this browser)' };
  const a = await gpu.requestAdapter().catch(() => null);
  if (!a) return { ok: false, description: 'navigator.gpu.requestAdapter() returned no adapter' };
  const i = a.info ?? {};
  const software = Boolean(a.isFallbackAdapter) || /swiftshader|llvmpipe|software|cpu/i.test(`${i.vendor} ${i.architecture} ${i.description} ${i.device}`);
  return { ok: true, description: `${i.vendor || 'unknown vendor'} / ${i.architecture || i.device || 'unknown device'}${software ? ' [software]' : ''}` };
}

/**
 * In a browser, `auto` takes WebGPU whenever the browser offers an adapter (a phone's or laptop's
 * GPU; SwiftShader in headless Chromium), else wasm. A backend asked for by name that cannot run
 * raises an error; it is never silently replaced.
 */
export async function initBrowserBackend(requested: BrowserBackendRequest, wasmBase: string): Promise<WorkerBackend> {
  let note: string | null = null;
  if (requested === 'webgpu' || requested === 'auto') {
    const probe = await probeAdapter();
    if (probe.ok && (await tf.setBackend('webgpu').catch(() => false))) {
      await tf.ready();
      return { backend: 'webgpu', adapter: probe.description, note: null };
    }
    if (requested === 'webgpu') throw new Error(`backend "webgpu" is unavailable: ${probe.description}`);
    note = `auto: ${probe.description}; using wasm`;
  }
  if (requested === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error('backend "cpu" is unavailable');
    return { backend: 'cpu', adapter: null, note };
  }
  // one wasm thread per worker (threads need cross-origin isolation; results stay deterministic)
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(wasmBase);
  if (!(await tf.setBackend('wasm'))) throw new Error(`backend "wasm" is unavailable (wasm files from ${wasmBase})`);
  await tf.ready();
  registerSplitfleetKernels();
  return { backend: 'wasm', adapter: null, note };
}
