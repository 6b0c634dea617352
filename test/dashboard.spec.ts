import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_PATH } from '@splitfleet/client-sim';
import { Dashboard } from '../apps/server/src/output/dashboard.ts';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import type { SplitServer } from '../apps/server/src/server/split-server.ts';
import { testConfig } from './helpers.ts';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');

describe('dashboard access control (a real HTTP server)', () => {
  let http: Server | null = null;
  afterEach(() => new Promise<void>((r) => (http ? http.close(() => r()) : r())));

  async function serve(adminToken: string | null, onStop: () => void): Promise<string> {
    const d = new Dashboard({ runId: 'r1', mode: 'splitfed', rounds: 3, adminToken, onStop, clients: () => [{ id: 0, connected: true, active: false, backend: 'wasm', runtime: 'node', samples: 10, address: '127.0.0.1', userAgent: null }] });
    http = createServer((req, res) => d.handle(req, res));
    await new Promise<void>((r) => http!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  }

  it('is read-only without an admin token, and stops only for the right bearer token', async () => {
    let stops = 0;
    const ro = await serve(null, () => stops++);
    const state = await (await fetch(`${ro}/api/state`)).json();
    expect(state).toMatchObject({ runId: 'r1', rounds: 3, controllable: false, clients: [{ id: 0, connected: true }] });
    const denied = await fetch(`${ro}/api/stop`, { method: 'POST', headers: { authorization: 'Bearer anything' } });
    expect(denied.status).toBe(403);
    expect((await denied.json()).message).toMatch(/read-only: start the server with SPLITFLEET_ADMIN_TOKEN/);
    expect((await fetch(`${ro}/nope`)).status).toBe(404);
    await new Promise<void>((r) => http!.close(() => r()));
    const admin = await serve('s3cret-token', () => stops++);
    expect((await fetch(`${admin}/api/stop`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${admin}/api/stop`, { method: 'POST', headers: { authorization: 'Bearer s3cret-tokeN' } })).status).toBe(401);
    expect((await fetch(`${admin}/api/stop`)).status).toBe(405);
    expect(stops).toBe(0);
    const ok = await fetch(`${admin}/api/stop`, { method: 'POST', headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(202);
    expect(stops).toBe(1);
    expect(JSON.stringify(await (await fetch(`${admin}/api/state`)).json())).not.toContain('s3cret');
  });
});

describe('live dashboard in headless Chromium', () => {
  it('shows the connected clients and curves that grow while a run trains; the admin can stop it early', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const cfg = testConfig({ fleet: { clients: 4, workers: 2 }, training: { rounds: 5, maxStepsPerRound: 4 } });
    process.env.SPLITFLEET_ADMIN_TOKEN = 'admin-test-token';
    let server: SplitServer | null = null;
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const out = join(mkdtempSync(join(tmpdir(), 'sf-dash-')), 'run');
      const run = runExperiment(cfg, { outDir: out, fleet: 'workers', onServer: (s) => (server = s) });
      while (!server) await new Promise((r) => setTimeout(r, 50));
      const url = (server as SplitServer).url;
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`${url}/`);
      await expect.poll(() => page.locator('#clients .client').count(), { timeout: 120_000, interval: 200 }).toBe(4);
      expect(await page.locator('#access').textContent()).toBe('admin control enabled');
      // who joined from where: the four worker clients, one origin row
      expect(await page.locator('#origins tbody tr').count()).toBe(1);
      expect(await page.locator('#origins tbody tr').textContent()).toMatch(/^127\.0\.0\.1node \/ wasm–0, 1, 2, 3$/);
      const points = () => page.locator('polyline[data-name="test accuracy"]').getAttribute('data-points').then(Number);
      await expect.poll(points, { timeout: 120_000, interval: 200 }).toBeGreaterThanOrEqual(1);
      const first = await points();
      await expect.poll(points, { timeout: 120_000, interval: 200 }).toBeGreaterThan(first);
      expect(Number(await page.evaluate(() => document.body.dataset.updates))).toBeGreaterThan(2);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      // stop from the page's origin with the admin token: the run ends after the current round
      const status = await page.evaluate(async () => (await fetch('/api/stop', { method: 'POST', headers: { authorization: 'Bearer admin-test-token' } })).status);
      expect(status).toBe(202);
      const { results } = await run;
      expect(results.status).toBe('completed');
      expect(results.rounds.length).toBeLessThan(5);
      expect(results.stoppedEarly).toMatch(/dashboard/);
      expect(JSON.stringify(results)).not.toContain('admin-test-token');
    } finally {
      delete process.env.SPLITFLEET_ADMIN_TOKEN;
      await browser.close();
    }
  });
});
