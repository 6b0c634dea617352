#!/usr/bin/env node
// One setup step for both README paths (npm start and npm test): checks the Debian packages that
// splitfleet needs and installs the missing ones with apt-get when running as root; otherwise it
// stops with the exact command to run. Plain .mjs so it runs on any Node.
import { execFileSync, spawnSync } from 'node:child_process';

const NEEDS = {
  // software WebGPU through Dawn on Mesa's OpenGL ES (backend tests, --backend webgpu)
  // + headless Chromium (dashboard and browser-fleet tests, driven by playwright-core), Redis (the
  // BullMQ sweep queue) and iproute2 (network namespaces of the multi-host test)
  test: ['libegl1', 'libegl-mesa0', 'libgles2', 'libgl1-mesa-dri', 'chromium', 'redis-server', 'iproute2'],
  start: [],
  // the full Fashion-MNIST (60,000 / 10,000) for data.dir /usr/share/datasets/fashion-mnist: the
  // ResNet job and the SPADV authors' preset (examples/resnet-fmnist.yaml, spadv-authors.yaml)
  data: ['dataset-fashion-mnist'],
};
const args = process.argv.slice(2);
const forIdx = args.indexOf('--for');
const target = forIdx >= 0 ? args[forIdx + 1] : 'test';
const wanted = [...new Set([...(NEEDS[target] ?? NEEDS.test), ...(target === 'all' ? [...NEEDS.test, ...NEEDS.data] : [])])];

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`splitfleet: this is Node ${process.version}; npm scripts must run on the pinned Node 24 (node_modules/.bin/node). Run "npm ci" first, then use npm start / npm test.`);
  process.exit(1);
}
if (spawnSync('dpkg-query', ['--version']).status !== 0) {
  if (wanted.length) console.warn(`splitfleet setup: not a Debian system; make sure these are installed: ${wanted.join(' ')}`);
  process.exit(0);
}
const missing = wanted.filter((p) => !installed(p));
if (missing.length === 0) process.exit(0);
const cmd = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(`splitfleet setup: missing Debian packages: ${missing.join(' ')}\nrun:  sudo sh -c '${cmd}'`);
  process.exit(1);
}
console.log(`splitfleet setup: installing ${missing.join(' ')}`);
execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${cmd}`], { stdio: 'inherit' });
