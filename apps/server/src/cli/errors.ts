import { CommanderError } from 'commander';
import { PartitionError } from '@splitfleet/splitcore';
import { ConfigError } from '../experiment/config.ts';

/** What the CLI prints for an error that ends it, and its exit code. */
export interface ErrorReport {
  readonly lines: readonly string[];
  readonly exitCode: number;
}

/**
 * User errors (a bad option, a partition the data cannot give, a bad command line) exit 2 with one
 * line per problem and no stack: the message names the option, the value and what is allowed. Any
 * other error is ours: exit 1, its message, and the stack only with --verbose.
 */
export function reportError(e: unknown, verbose: boolean): ErrorReport {
  // commander has printed its own message (or the help) already
  if (e instanceof CommanderError) return { lines: [], exitCode: e.exitCode === 0 ? 0 : 2 };
  const err = e instanceof Error ? e : new Error(String(e));
  const stack = verbose && err.stack ? [err.stack] : [];
  if (err instanceof ConfigError || err instanceof PartitionError) {
    return { lines: [...err.message.split('\n').map((l) => `splitfleet: ${l}`), ...stack], exitCode: 2 };
  }
  return { lines: verbose ? [`splitfleet: ${err.stack ?? err.message}`] : [`splitfleet: ${err.message} (--verbose prints the stack trace)`], exitCode: 1 };
}
