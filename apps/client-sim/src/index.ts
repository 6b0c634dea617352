export * from './client.ts';
export * from './fleet.ts';
export { loadAgentToken } from './fleet-agent.ts';
export * from './node/index.ts';
export * from './browser/launch.ts';
export * from './browser/assets.ts';
export type { ClientOutcome, WorkerBackend } from './worker-api.ts';
