// Dawn (npm package `webgpu`) in this thread: find a usable adapter and make it tfjs's navigator.gpu.

export interface AdapterProbe {
  readonly ok: boolean;
  readonly software: boolean;
  readonly description: string;
}

/** A probe's outcome; `install` (present when an adapter was found) makes it this thread's navigator.gpu. */
export interface FoundAdapter extends AdapterProbe {
  readonly install?: () => void;
}

type DawnModule = { create: (opts: string[]) => GPU; globals: Record<string, unknown> };

function describe(info: GPUAdapterInfo): string {
  return `${info.vendor || 'unknown vendor'} / ${info.architecture || info.device || 'unknown device'} (${info.description || 'no description'})`;
}

/** Makes `gpu` tfjs's navigator.gpu, asking for adapters with the options that worked here. */
function installAsNavigatorGpu(gpu: GPU, request: GPURequestAdapterOptions): void {
  const g = globalThis as Record<string, unknown>;
  // tfjs-backend-webgpu requests its own adapter (OpenGL ES through Dawn only offers a 'compatibility' one)
  const wrapped = Object.create(gpu) as GPU;
  Object.defineProperty(wrapped, 'requestAdapter', { value: (o?: GPURequestAdapterOptions) => gpu.requestAdapter({ ...o, ...request }) });
  if (!('navigator' in g)) Object.defineProperty(g, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(g.navigator as object, 'gpu', { value: wrapped, configurable: true });
}

/**
 * Loads Dawn in this thread and looks for an adapter: the default backends first, then Mesa's
 * software OpenGL ES when no GPU exists. Must run before @tensorflow/tfjs-backend-webgpu is imported
 * (it looks at navigator.gpu at import time). EGL_PLATFORM must already be in the process environment
 * (set by the parent or the shell): native code in a worker_thread does not see a worker's copy of
 * process.env. Loading Dawn has a cost at exit (see auto-backend.ts): call this only where WebGPU
 * will be used, or in a process of its own.
 */
export async function findWebgpuAdapter(): Promise<FoundAdapter> {
  let mod: DawnModule;
  try {
    mod = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    return { ok: false, software: false, description: `npm package "webgpu" failed to load: ${(e as Error).message}` };
  }
  Object.assign(globalThis, mod.globals);
  const attempts: [string[], GPURequestAdapterOptions][] = [
    [[], {}],
    [['backend=opengles'], { featureLevel: 'compatibility' } as GPURequestAdapterOptions],
  ];
  for (const [opts, request] of attempts) {
    try {
      const gpu = mod.create(opts);
      const adapter = await gpu.requestAdapter(request);
      if (!adapter) continue;
      const info = adapter.info;
      // Dawn's null backend accepts work and returns garbage: never use it.
      if (/null/i.test(`${info.description} ${info.device}`) && !info.vendor) continue;
      const software = adapter.isFallbackAdapter || /swiftshader|llvmpipe|softpipe|lavapipe|software|cpu/i.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`);
      return { ok: true, software, description: describe(info) + (software ? ' [software]' : ''), install: () => installAsNavigatorGpu(gpu, request) };
    } catch {
      continue;
    }
  }
  return { ok: false, software: false, description: 'no WebGPU adapter (Dawn found no usable adapter; set EGL_PLATFORM=surfaceless for Mesa)' };
}
