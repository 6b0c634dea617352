import * as tf from '@tensorflow/tfjs-core';

export type OptimizerConfig =
  | { readonly name: 'sgd'; readonly lr: number; readonly momentum: number }
  | { readonly name: 'adam'; readonly lr: number; readonly beta1: number; readonly beta2: number; readonly epsilon: number };

/** One factory for every optimiser in splitfleet (clients, server and the monolithic reference). */
export function makeOptimizer(cfg: OptimizerConfig): tf.Optimizer {
  if (!(cfg.lr > 0)) throw new Error(`optimizer.lr must be > 0, got ${cfg.lr}`);
  switch (cfg.name) {
    case 'sgd':
      return cfg.momentum > 0 ? tf.train.momentum(cfg.lr, cfg.momentum) : tf.train.sgd(cfg.lr);
    case 'adam':
      return tf.train.adam(cfg.lr, cfg.beta1, cfg.beta2, cfg.epsilon);
  }
}

/** Applies gradients listed in the same order as `vars`. Disposes nothing it was given. */
export function applyGradients(opt: tf.Optimizer, vars: readonly tf.Variable[], grads: readonly tf.Tensor[]): void {
  opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! })));
}

/**
 * Disposes an optimiser completely. tfjs 4.22's MomentumOptimizer overrides dispose() without
 * calling SGDOptimizer's, so the learning-rate scalar `c` it inherited leaks one tensor per
 * optimiser; free it here too.
 */
export function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  const c = (opt as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}
