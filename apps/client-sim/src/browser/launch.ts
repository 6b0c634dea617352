// Launches headless Chromium (Debian's chromium, driven by playwright-core: no browser download)
// and runs N clients as dedicated Web Workers on pages served by the split server.
import type { Browser, Page } from 'playwright-core';
import type { ClientOutcome, WorkerBackend } from '../worker-api.ts';
import type { PageApi, StartOptions } from './page.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** WebGPU in headless Chromium: SwiftShader's software adapter without a GPU, the real one with. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--headless=new'];

export interface BrowserFleetOptions {
  readonly serverUrl: string;
  readonly clients: number;
  readonly backend: 'auto' | 'wasm' | 'cpu' | 'webgpu';
  readonly tokens?: readonly string[] | null;
  /** Slot numbers start here (a mixed fleet's Node clients take the first ones). */
  readonly firstSlot?: number;
  readonly fleetId: string;
  /** Clients per page: a large fleet is spread over several pages (renderer processes). */
  readonly perPage?: number;
  readonly log?: (line: string) => void;
}

export interface BrowserFleetHandle {
  readonly clientIds: number[][];
  readonly backends: WorkerBackend[];
  /** Resolves when every client ended; a crashed page is reported with its client ids. */
  readonly finished: Promise<{ outcomes: ClientOutcome[]; crashed: { page: number; clientIds: number[]; error: string }[] }>;
  terminate(): Promise<void>;
}

type Win = { splitfleet: PageApi };

export async function startBrowserFleet(o: BrowserFleetOptions): Promise<BrowserFleetHandle> {
  const log = o.log ?? (() => {});
  if (o.tokens && o.tokens.length < o.clients) throw new Error(`${o.clients} browser clients but only ${o.tokens.length} tokens`);
  let browser: Browser;
  try {
    // loaded here, not at import: playwright costs every server and Node fleet ≈ 55 MB resident, and only browser fleets use it
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  } catch (e) {
    throw new Error(`cannot start Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH): ${(e as Error).message.split('\n')[0]}`);
  }
  const per = Math.max(1, o.perPage ?? 8);
  const pages: { page: Page; ids: number[]; backends: WorkerBackend[]; failure: Promise<string> }[] = [];
  try {
    for (let first = 0; first < o.clients; first += per) {
      const n = Math.min(per, o.clients - first);
      const page = await browser.newPage();
      const pi = pages.length;
      let ids: number[] = [];
      const failure = new Promise<string>((resolve) => {
        page.on('pageerror', (e) => {
          log(`page ${pi} (clients ${ids.join(', ')}): uncaught error: ${e.message}`);
          resolve(`uncaught error: ${e.message}`);
        });
        page.on('crash', () => resolve('page crashed'));
      });
      page.on('console', (m) => m.type() === 'error' && log(`page ${pi} (clients ${ids.join(', ')}): console error: ${m.text()}`));
      await page.goto(`${o.serverUrl}/client/fleet.html`);
      await page.waitForFunction(() => 'splitfleet' in window);
      const slots = Array.from({ length: n }, (_, k) => (o.firstSlot ?? 0) + first + k);
      const args: StartOptions = { slots, tokens: o.tokens ? o.tokens.slice(first, first + n) : null, backend: o.backend, fleetId: o.fleetId };
      const started = await page.evaluate((a) => (window as unknown as Win).splitfleet.start(a), args);
      ids = started.clientIds;
      started.backends.forEach((b, k) => k === 0 && log(`page ${pi}: ${n} clients on ${b.backend}${b.adapter ? ` (${b.adapter})` : ''}${b.note ? ` — ${b.note}` : ''}`));
      pages.push({ page, ids, backends: started.backends, failure });
    }
  } catch (e) {
    await browser.close();
    throw e;
  }
  const finished = Promise.all(
    pages.map((p, i) =>
      Promise.race([
        p.page.evaluate(() => (window as unknown as Win).splitfleet.untilEnded()).then((r) => ({ ok: true as const, r })),
        p.failure.then((error) => ({ ok: false as const, error })),
      ]).catch((e: Error) => ({ ok: false as const, error: e.message })).then((x) => ({ ...x, i })),
    ),
  ).then((rs) => {
    const outcomes: ClientOutcome[] = [];
    const crashed: { page: number; clientIds: number[]; error: string }[] = [];
    for (const x of rs) {
      if (x.ok) {
        outcomes.push(...x.r.outcomes);
        x.r.logs.forEach(log);
        for (const err of x.r.errors) {
          log(`page ${x.i}: ${err}`);
          crashed.push({ page: x.i, clientIds: pages[x.i]!.ids, error: err });
        }
      } else crashed.push({ page: x.i, clientIds: pages[x.i]!.ids, error: x.error });
    }
    return { outcomes, crashed };
  });
  return {
    clientIds: pages.map((p) => p.ids),
    backends: pages.flatMap((p) => p.backends),
    finished,
    terminate: () => browser.close(),
  };
}
