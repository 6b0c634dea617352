import { defineConfig } from 'vitest/config';

// Mesa's EGL (software WebGPU through Dawn) reads the real process environment, so set it here,
// before vitest forks the test processes that inherit it.
process.env.EGL_PLATFORM ??= 'surfaceless';

// Libs register no tfjs gradients on import; their tests get them here, as an app gets them from its
// backend set-up.
const LIB_HOST_SETUP = './test/setup/register-tfjs-gradients.ts';

export default defineConfig({
  resolve: { tsconfigPaths: true },
  test: {
    pool: 'forks',
    passWithNoTests: true,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'splitcore', include: ['libs/splitcore/src/**/*.spec.ts'], setupFiles: [LIB_HOST_SETUP] } },
      { extends: true, test: { name: 'attack', include: ['libs/attack/src/**/*.spec.ts'], setupFiles: [LIB_HOST_SETUP] } },
      { extends: true, test: { name: 'server', include: ['apps/server/src/**/*.spec.ts'] } },
      { extends: true, test: { name: 'client-sim', include: ['apps/client-sim/src/**/*.spec.ts'] } },
      { extends: true, test: { name: 'scripts', include: ['scripts/**/*.spec.ts'] } },
      // cross-process end-to-end tests: one file at a time, they each use both cores
      { extends: true, test: { name: 'e2e', include: ['test/**/*.spec.ts'], setupFiles: ['test/e2e-setup.ts'], fileParallelism: false, testTimeout: 600_000, hookTimeout: 600_000 } },
    ],
  },
});
