// The one public entry of splitcore. Pure: no node:*, sockets, workers or DOM.
export * from './rng/rng.ts';
export * from './model/spec.ts';
export * from './model/zoo.ts';
export * from './model/split.ts';
export * from './model/part-model.ts';
export * from './train/optimizer.ts';
export * from './train/split-step.ts';
export * from './codec/tensor-codec.ts';
export * from './data/idx.ts';
export * from './partition/partition.ts';
export * from './backends/register.ts';
export * from './protocol/protocol.ts';
export * from './codec/tf-frames.ts';
export * from './train/schedule.ts';
export * from './hooks/server-hooks.ts';
export * from './population/noniid.ts';
export * from './population/profiles.ts';
