// SPADV (Fan et al., ECAI 2023) and baselines. Depends on @splitfleet/splitcore only; sees the
// training run only through the server's observation taps (ServerTaps).
export * from './config.ts';
export * from './observations.ts';
export * from './aux-data.ts';
export * from './kmeans.ts';
export * from './hungarian.ts';
export * from './losses.ts';
export * from './shadow.ts';
export * from './craft.ts';
export * from './whitebox.ts';
export * from './suite-result.ts';
export * from './evaluate.ts';
export * from './spadv/observed-labels.ts';
export * from './spadv/report.ts';
export * from './spadv/summarize.ts';
export * from './spadv/run.ts';
