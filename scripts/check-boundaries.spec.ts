import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkFile, checkTree, externalPackagesReachable, importsOf, type RuleId } from './check-boundaries.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./check-boundaries.ts', import.meta.url));

describe('boundary lint rules', () => {
  it.each<[RuleId, string, string]>([
    ['attack-imports-only-splitcore', 'libs/attack/src/x.ts', "import { startFleet } from '@splitfleet/client-sim';"],
    ['attack-imports-only-splitcore', 'libs/attack/src/x.ts', "export { a } from '@splitfleet/server';"],
    ['splitcore-imports-no-workspace-package', 'libs/splitcore/src/x.ts', "import type { A } from '@splitfleet/attack';"],
    ['lib-imports-app', 'libs/splitcore/src/x.ts', "const m = await import('@splitfleet/server');"],
    ['lib-imports-app', 'libs/attack/src/x.ts', "import '../../../apps/server/src/cli/cli.ts';"],
    ['lib-imports-host-module', 'libs/splitcore/src/x.ts', "import { readFileSync } from 'node:fs';"],
    ['lib-imports-host-module', 'libs/splitcore/src/x.ts', "import { Worker } from 'worker_threads';"],
    ['lib-imports-host-module', 'libs/attack/src/x.ts', "import fs from 'fs';"],
    ['lib-imports-host-module', 'libs/splitcore/src/x.ts', "import { io } from 'socket.io-client';"],
    ['lib-imports-tfjs-union', 'libs/splitcore/src/x.ts', "import '@tensorflow/tfjs';"],
    ['lib-imports-tfjs-union', 'libs/attack/src/x.ts', "import * as tf from '@tensorflow/tfjs';"],
    ['server-imports-client-sim-internals', 'apps/server/src/x.ts', "import { launch } from '@splitfleet/client-sim/src/browser/launch.ts';"],
    ['relative-import-leaves-package', 'apps/server/src/x.ts', "import { SplitClient } from '../../client-sim/src/client.ts';"],
    ['relative-import-leaves-package', 'libs/attack/src/x.ts', "import { Rng } from '../../splitcore/src/rng/rng.ts';"],
  ])('%s fires on %s: %s', (rule, file, source) => {
    const violations = checkFile(file, `// a leading comment line\n${source}\n`);
    expect(violations).toContainEqual(expect.objectContaining({ file, line: 2, rule }));
  });

  it.each<[string, string]>([
    ['libs/attack/src/x.ts', "import { Rng } from '@splitfleet/splitcore';\nimport * as tf from '@tensorflow/tfjs-core';"],
    ['libs/splitcore/src/x.ts', "import '@tensorflow/tfjs-backend-wasm';\nimport { z } from 'zod';\nimport { a } from '../rng/rng.ts';"],
    ['apps/server/src/x.ts', "import { startFleet } from '@splitfleet/client-sim';\nimport { initBackend } from '@splitfleet/client-sim/node';\nimport { readFileSync } from 'node:fs';"],
    ['apps/client-sim/src/x.ts', "import '@tensorflow/tfjs';\nimport { Worker } from 'node:worker_threads';"],
  ])('allows the layering’s own imports in %s', (file, source) => {
    expect(checkFile(file, source)).toEqual([]);
  });

  it('does not take code inside comments or template literals for imports', () => {
    const source = "// import fs from 'node:fs';\nconst page = `<script type=\"module\">import('socket.io-client')</script>`;\n";
    expect(importsOf(source)).toEqual([]);
    expect(checkFile('libs/splitcore/src/x.ts', source)).toEqual([]);
  });
});

describe('the real tree', () => {
  it('keeps every boundary under libs/ and apps/', () => {
    expect(checkTree(REPO)).toEqual([]);
  });

  it('loads neither playwright-core nor esbuild through @splitfleet/client-sim/node, which the root barrel does', () => {
    const subpath = externalPackagesReachable(REPO, 'apps/client-sim/src/node/index.ts');
    const barrel = externalPackagesReachable(REPO, 'apps/client-sim/src/index.ts');
    expect(barrel).toContain('playwright-core');
    expect(barrel).toContain('esbuild');
    expect(subpath).not.toContain('playwright-core');
    expect(subpath).not.toContain('esbuild');
    expect(subpath).toContain('@tensorflow/tfjs-core');
  });

  it('the middle worker thread reaches client-sim only through the /node subpath', () => {
    const reached = externalPackagesReachable(REPO, 'apps/server/src/server/lockstep/middle-worker.ts');
    expect(reached).not.toContain('playwright-core');
    expect(reached).not.toContain('esbuild');
  });
});

describe('check-boundaries as a CI step', () => {
  let tree: string | null = null;
  afterEach(() => {
    if (tree) rmSync(tree, { recursive: true, force: true });
    tree = null;
  });

  it('exits 1 and prints file:line, the import and the rule for each violation', () => {
    tree = mkdtempSync(join(tmpdir(), 'boundaries-'));
    const bad = join(tree, 'libs/attack/src/bad.ts');
    mkdirSync(dirname(bad), { recursive: true });
    writeFileSync(bad, "import { Rng } from '@splitfleet/splitcore';\nimport { serve } from '@splitfleet/server';\n");
    const r = spawnSync(process.execPath, [SCRIPT, tree], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("libs/attack/src/bad.ts:2  '@splitfleet/server'  attack-imports-only-splitcore:");
    expect(r.stderr).toContain("libs/attack/src/bad.ts:2  '@splitfleet/server'  lib-imports-app:");
  });
});
