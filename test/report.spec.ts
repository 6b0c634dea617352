import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_PATH } from '@splitfleet/client-sim';
import { runExperiment } from '../apps/server/src/experiment/run.ts';
import { writeReport } from '../apps/server/src/output/report.ts';
import { testConfig } from './helpers.ts';

const ARTIFACTS = join(process.cwd(), 'test-artifacts');

describe('report.html in headless Chromium', () => {
  it('leads with the answer, renders its charts without page errors and asks the network for nothing', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const cfg = testConfig({
      seed: 11, partition: { kind: 'dirichlet', alpha: 0.5, minSize: 10 }, fleet: { clients: 3, workers: 2 },
      training: { mode: 'splitfed', rounds: 2, batchSize: 16, maxStepsPerRound: 4 }, data: { testSamples: 100 }, server: { dashboard: false },
      attack: {
        method: 'spadv', objective: 'observe', aux: { size: 64, alpha: 0.5, holdout: 400 }, observe: { batches: 8 }, shadow: { steps: 20 },
        craft: ['pgd'], epsilon: 0.1, steps: 4, evalSamples: 40, baselines: ['whitebox', 'random-shadow', 'noise'],
      } as never,
    });
    const out = join(mkdtempSync(join(tmpdir(), 'sf-report-')), 'run');
    await runExperiment(cfg, { outDir: out, fleet: 'workers' });
    const path = await writeReport(out);
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('request', (r) => !r.url().startsWith('file:') && !r.url().startsWith('data:') && requests.push(r.url()));
      await page.goto(pathToFileURL(path).href);
      const summary = page.locator('.summary div');
      expect(await summary.count()).toBe(6);
      // the first panel items: accuracy, then SPADV's success with its interval over the evaluated images
      expect(await summary.nth(0).textContent()).toMatch(/^final test accuracy\d+\.\d%$/);
      expect(await summary.nth(1).textContent()).toMatch(/SPADV ASR .*\d+\.\d % \[\d+\.\d, \d+\.\d\] \(estimate \[95 % CI\]/);
      expect(await summary.nth(2).textContent()).toMatch(/÷ white-box \(whitebox-pgd/);
      expect(await summary.nth(5).textContent()).toMatch(/^privacy proxy: dCor\(test inputs, smashed data sent\), \d+ images0\.\d{3}$/);
      expect(await page.locator('.charts figure svg').count()).toBeGreaterThan(3);
      // splitfed: every client holds the averaged model, so no per-client accuracy curves
      expect(await page.locator('figcaption', { hasText: 'Test accuracy per client' }).count()).toBe(0);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
