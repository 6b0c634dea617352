import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AdapterProbe } from './webgpu-adapter.ts';

/** What `auto` resolved to, decided once and handed to every worker of a fleet. */
export interface AutoChoice {
  readonly backend: 'webgpu' | 'wasm';
  /** Why auto did not pick webgpu, when it did not. */
  readonly note: string | null;
}

const PROBE = fileURLToPath(new URL('./webgpu-probe-process.ts', import.meta.url));
const PROBE_TIMEOUT_MS = 60_000;

/** auto takes webgpu only on a hardware adapter: a software one is slower than wasm. */
export function choiceFor(probe: AdapterProbe): AutoChoice {
  if (probe.ok && !probe.software) return { backend: 'webgpu', note: null };
  return { backend: 'wasm', note: probe.ok ? `auto: skipped software WebGPU adapter ${probe.description}; wasm is faster on CPU` : `auto: ${probe.description}` };
}

function probeInChildProcess(): Promise<AdapterProbe> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROBE], { timeout: PROBE_TIMEOUT_MS, env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' } }, (err, stdout) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) return resolve(JSON.parse(line) as AdapterProbe);
      resolve({ ok: false, software: false, description: `the WebGPU probe process failed: ${err?.message.split('\n')[0] ?? 'no answer'}` });
    });
  });
}

let decided: Promise<AutoChoice> | null = null;

/**
 * Decides `auto` once per thread, probing for an adapter in a short-lived child process.
 * Why not here: Dawn's OpenGL ES backend dlopens glvnd's libEGL and dlcloses it when its instance
 * goes, but a thread that called EGL keeps thread-specific state whose destructor lives in libEGL;
 * when that thread exits (a fleet worker at the end of a run) the destructor jumps into unmapped code
 * and the whole process dies with SIGSEGV (exit 139). A probe in its own process leaves no Dawn in
 * the fleet when auto falls back to wasm; a fleet decides once and passes the choice to its workers.
 */
export function chooseAutoBackend(): Promise<AutoChoice> {
  decided ??= probeInChildProcess().then(choiceFor);
  return decided;
}
