import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { BUNDLED_FASHION_MNIST, CHROMIUM_ARGS, CHROMIUM_PATH, serveBrowserAsset, startFleet } from '@splitfleet/client-sim';
import { readCheckpoint } from '../apps/server/src/experiment/checkpoint.ts';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import type { SplitServer } from '../apps/server/src/server/split-server.ts';
import { testConfig } from './helpers.ts';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');

/** Fails the test on any uncaught page error or console error (workers' errors surface there too). */
function watchErrors(page: Page): string[] {
  const errs: string[] = [];
  page.on('pageerror', (e) => errs.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errs.push(`console: ${m.text()}`));
  return errs;
}

describe('browser fleet (headless Chromium, Web Workers)', () => {
  it('a browser Web Worker client and a Node worker client train one splitfed round together', async () => {
    const cfg = testConfig({ fleet: { clients: 2, workers: 1, runtime: 'mixed', backend: 'wasm' }, training: { rounds: 1, maxStepsPerRound: 3 } });
    const out = join(mkdtempSync(join(tmpdir(), 'sf-mixed-')), 'run');
    const logs: string[] = [];
    const { results } = await runExperiment(cfg, { outDir: out, log: (l) => logs.push(l) });
    const runtimes = results.clients.map((c) => c.runtime).sort();
    expect(runtimes).toEqual(['browser', 'node']);
    const b = results.clients.find((c) => c.runtime === 'browser')!;
    expect(b.userAgent).toMatch(/Chrome\//);
    expect(b.backend).toBe('wasm');
    expect(results.rounds[0]!.participants).toEqual([0, 1]);
    expect(results.rounds[0]!.dropped).toEqual([]);
    expect(results.final!.testAccuracy).toBeGreaterThan(0.1);
    // the averaged weights are finite
    const { tensors } = readCheckpoint<unknown>(join(out, 'final.ckpt'));
    for (const [name, t] of tensors) expect(Array.from(t.data as ArrayLike<number>).every(Number.isFinite), name).toBe(true);
    expect(logs.filter((l) => /uncaught|console error|crashed/.test(l))).toEqual([]);
  });

  it('in the browser, training steps on WebGPU (a real SwiftShader adapter) match the same steps on wasm', async () => {
    const http = createServer((req, res) => void serveBrowserAsset(req, res, { dataDir: BUNDLED_FASHION_MNIST }).then((ok) => ok || res.writeHead(404).end()));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errs = watchErrors(page);
      await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/client/fleet.html`);
      await page.waitForFunction(() => 'splitfleet' in window);
      const r = await page.evaluate(() => (window as unknown as { splitfleet: import('../apps/client-sim/src/browser/page.ts').PageApi }).splitfleet.compareBackends('webgpu', 'wasm', 3));
      expect(r.info[0]!.backend).toBe('webgpu');
      expect(r.info[0]!.adapter).toMatch(/google|swiftshader/i); // the adapter is real, not absent or null
      expect(r.info[1]!.backend).toBe('wasm');
      expect(r.finite).toBe(true);
      r.losses[0]!.forEach((l, i) => expect(Math.abs(l - r.losses[1]![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(l))));
      expect(r.maxWeightDiff).toBeLessThan(1e-3);
      expect(errs).toEqual([]);
    } finally {
      await browser.close();
      await new Promise<void>((r) => http.close(() => r()));
    }
  });

  it('the join page joins a running server as a real client, completes a round, and leaves cleanly', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // slot 0 is the operator's (tokens.json), slot 1 is open to the join page
    const cfg = testConfig({ fleet: { clients: 2, workers: 1, backend: 'wasm', openSlots: 1 }, training: { rounds: 3, maxStepsPerRound: 3 } });
    const out = join(mkdtempSync(join(tmpdir(), 'sf-join-')), 'run');
    let server: SplitServer | null = null;
    const run = runExperiment(cfg, { outDir: out, fleet: 'external', onServer: (s) => (server = s) });
    while (!server) await new Promise((r) => setTimeout(r, 50));
    const url = (server as SplitServer).url;
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    let fleet: Awaited<ReturnType<typeof startFleet>> | null = null;
    try {
      const page = await browser.newPage({ viewport: { width: 700, height: 700 } });
      const errs = watchErrors(page);
      await page.goto(`${url}/join`);
      await expect.poll(() => page.locator('#status').getAttribute('data-slots')).toBe('free');
      expect(await page.locator('#status').textContent()).toBe('1 of 1 open slot free. Not joined.');
      expect(await page.locator('#join').isDisabled()).toBe(true); // nothing happens without consent
      await page.locator('#consent').check();
      await page.locator('#join').click();
      await expect.poll(() => page.locator('#status').getAttribute('data-client-id'), { timeout: 120_000 }).toBe('1');
      // a second visitor is told that no slot is open, and cannot press Join
      const late = await browser.newPage();
      await late.goto(`${url}/join`);
      await expect.poll(() => late.locator('#status').getAttribute('data-slots')).toBe('none');
      expect(await late.locator('#status').textContent()).toBe('No slot is open to join: all 1 open slot of this run are taken.');
      await late.locator('#consent').check();
      expect(await late.locator('#join').isDisabled()).toBe(true);
      await late.close();
      // the operator's Node client takes the reserved slot; the run starts when both are in
      const tokens = JSON.parse(readFileSync(join(out, 'tokens.json'), 'utf8')) as string[];
      expect(tokens).toHaveLength(1);
      fleet = await startFleet({ serverUrl: url, clients: 1, workers: 1, backend: 'wasm', tokens: [tokens[0]!] });
      await expect.poll(() => page.locator('#rounds').textContent().then(Number), { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(1);
      await page.screenshot({ path: join(ARTIFACTS, 'join.png') });
      await page.locator('#leave').click();
      await expect.poll(() => page.locator('#status').getAttribute('data-left')).toBe('true');
      const { results } = await run;
      expect(results.status).toBe('completed');
      const browserClient = results.clients.find((c) => c.id === 1)!;
      expect(browserClient.runtime).toBe('browser');
      expect(results.rounds[0]!.participants).toContain(1);
      // after leaving, the run went on with the Node client only
      expect(results.rounds[results.rounds.length - 1]!.participants).toEqual([0]);
      expect(errs).toEqual([]);
    } finally {
      await browser.close();
      await fleet?.terminate();
    }
  });
});
