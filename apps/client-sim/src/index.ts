export * from './client.ts';
export * from './fleet.ts';
export * from './node/backend.ts';
export * from './node/data.ts';
