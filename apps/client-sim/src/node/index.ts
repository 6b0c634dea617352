// `@splitfleet/client-sim/node`: what a Node host outside the fleet needs (the server's experiment
// runner and its middle worker threads): backend set-up and the dataset loader, and nothing else —
// importing it loads neither the fleet nor the browser side (playwright-core, esbuild).
export * from './backend.ts';
export * from './data.ts';
export * from './aux-data.ts';
