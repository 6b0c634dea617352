export * from './client.ts';
export * from './fleet.ts';
export * from './node/backend.ts';
export * from './node/data.ts';
export * from './browser/launch.ts';
export * from './browser/assets.ts';
export type { ClientOutcome, WorkerBackend } from './worker-api.ts';
