import { local } from './local.ts';
import { sequential } from './sequential.ts';
import { sflv1 } from './sflv1.ts';
import { sflv2 } from './sflv2.ts';
import { splitfed } from './splitfed.ts';
import type { RoundStrategy } from './strategy.ts';

/** Every training mode. Adding one: a file next to this one and one line here. */
export const STRATEGIES = { splitfed, sequential, local, sflv1, sflv2 } as const satisfies Record<string, RoundStrategy>;

export type TrainingMode = keyof typeof STRATEGIES;
export const TRAINING_MODES = Object.keys(STRATEGIES) as [TrainingMode, ...TrainingMode[]];

export function strategyFor(mode: TrainingMode): RoundStrategy {
  return STRATEGIES[mode];
}
