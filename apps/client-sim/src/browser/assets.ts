// Node side of the browser fleet: bundles the page and Web Worker scripts from the same sources as
// the Node clients (esbuild, once per process, in memory) and serves them, tfjs's wasm binaries and
// the dataset files under /client/, plus the join page at /join.
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { JOIN_HTML, FLEET_HTML } from './pages.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const WASM_DIR = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm'));
const DATA_FILES = new Set(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']);

let bundles: Promise<Map<string, Uint8Array>> | null = null;

/** The browser bundles (page.js, worker.js), built on first use. */
export function browserBundles(): Promise<Map<string, Uint8Array>> {
  bundles ??= build({
    entryPoints: { page: join(HERE, 'page.ts'), worker: join(HERE, 'worker.ts') },
    bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', write: false, outdir: '/client',
    minify: false, sourcemap: false, logLevel: 'silent', define: { 'process.env.NODE_ENV': '"production"' },
  }).then((r) => new Map(r.outputFiles.map((f) => [f.path.replace(/^.*\//, ''), f.contents])));
  return bundles;
}

export interface AssetOptions {
  /** Directory of the run's Fashion-MNIST files (served to browser clients). */
  readonly dataDir: string;
}

function send(res: ServerResponse, code: number, type: string, body: string | Uint8Array): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Handles /client/* and /join; returns false for other paths. */
export async function serveBrowserAsset(req: IncomingMessage, res: ServerResponse, o: AssetOptions): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method !== 'GET') return false;
  if (path === '/favicon.ico') return res.writeHead(204).end(), true;
  if (path === '/join') return send(res, 200, 'text/html; charset=utf-8', JOIN_HTML), true;
  if (path === '/client/fleet.html') return send(res, 200, 'text/html; charset=utf-8', FLEET_HTML), true;
  if (path === '/client/page.js' || path === '/client/worker.js') {
    try {
      const b = await browserBundles();
      send(res, 200, 'text/javascript; charset=utf-8', b.get(path.slice('/client/'.length))!);
    } catch (e) {
      send(res, 500, 'text/plain', `bundling the browser client failed: ${(e as Error).message}`);
    }
    return true;
  }
  const wasm = /^\/client\/wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(path);
  if (wasm) return send(res, 200, 'application/wasm', readFileSync(join(WASM_DIR, wasm[1]!))), true;
  const data = /^\/client\/data\/([a-z0-9-]+)$/.exec(path);
  if (data) {
    if (!DATA_FILES.has(data[1]!)) return send(res, 404, 'text/plain', `no data file ${data[1]}`), true;
    for (const name of [`${data[1]}.gz`, data[1]!]) {
      const p = join(o.dataDir, name);
      if (existsSync(p)) return send(res, 200, 'application/octet-stream', readFileSync(p)), true;
    }
    return send(res, 404, 'text/plain', `${data[1]} not found in the server's data directory`), true;
  }
  return false;
}
