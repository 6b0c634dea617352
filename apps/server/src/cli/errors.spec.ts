import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { PartitionError } from '@splitfleet/splitcore';
import { ConfigError } from '../experiment/config.ts';
import { reportError } from './errors.ts';

const STACK_LINE = /^\s+at /m;

describe('how the CLI reports an error that ends it', () => {
  it('a config error exits 2 with one line per problem and no stack', () => {
    const r = reportError(new ConfigError('fleet.clients: 0 is not allowed; must be ≥ 1\nseed: 1.5 is not allowed; must be an integer'), false);
    expect(r).toEqual({ exitCode: 2, lines: ['splitfleet: fleet.clients: 0 is not allowed; must be ≥ 1', 'splitfleet: seed: 1.5 is not allowed; must be an integer'] });
  });

  it('a partition the data cannot give is a user error: exit 2, one line, no stack', () => {
    const r = reportError(new PartitionError('partition.minSize', 'partition.minSize: 30 is not reachable for 50 clients at partition.alpha=0.1; must be ≤ 8 here'), false);
    expect(r.exitCode).toBe(2);
    expect(r.lines).toEqual(['splitfleet: partition.minSize: 30 is not reachable for 50 clients at partition.alpha=0.1; must be ≤ 8 here']);
  });

  it('a usage error commander has printed exits 2; help exits 0', () => {
    expect(reportError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--bogus'"), false)).toEqual({ exitCode: 2, lines: [] });
    expect(reportError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), false)).toEqual({ exitCode: 0, lines: [] });
  });

  it('an internal error exits 1 with its message; the stack only with --verbose', () => {
    const quiet = reportError(new Error('wasm backend lost'), false);
    expect(quiet.exitCode).toBe(1);
    expect(quiet.lines).toEqual(['splitfleet: wasm backend lost (--verbose prints the stack trace)']);
    const verbose = reportError(new Error('wasm backend lost'), true);
    expect(verbose.lines.join('\n')).toMatch(STACK_LINE);
    expect(reportError(new ConfigError('x: 1 is not allowed'), true).lines.join('\n')).toMatch(STACK_LINE);
  });
});
