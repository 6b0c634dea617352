#!/usr/bin/env node
// Runs the TypeScript CLI directly: Node >= 24 strips types natively (see README, "Node version").
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`splitfleet needs Node >= 24 (this is ${process.version}); run it through npm (npx splitfleet / npm run splitfleet), which uses the pinned Node 24 in node_modules/.bin.`);
  process.exit(1);
}
await import('../src/cli/cli.ts');
