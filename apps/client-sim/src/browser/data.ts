// Dataset loading in a browser: the server serves the files of its data directory under
// /client/data/; gunzip with the platform's DecompressionStream, parse with splitcore.
import { parseIdx, type ImageSet } from '@splitfleet/splitcore';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  const raw = new Uint8Array(await r.arrayBuffer());
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const cache = new Map<string, Promise<{ train: ImageSet; test: ImageSet }>>();

/** Fashion-MNIST from the server (the browser cannot read the server's disk; `dir` is the server's). */
export function loadDatasetOverHttp(origin: string, name: string): Promise<{ train: ImageSet; test: ImageSet }> {
  if (name !== 'fashion-mnist') return Promise.reject(new Error(`browser clients can load fashion-mnist only, not ${name}`));
  let p = cache.get(name);
  if (!p) {
    const load = async (split: string) =>
      parseIdx(await fetchBytes(`${origin}/client/data/${split}-images-idx3-ubyte`), await fetchBytes(`${origin}/client/data/${split}-labels-idx1-ubyte`));
    p = (async () => ({ train: await load('train'), test: await load('t10k') }))();
    cache.set(name, p);
  }
  return p;
}
