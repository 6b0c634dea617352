import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.ts';

/** The lines of the ConfigError that parseConfig raises for `raw`. */
function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n');
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe('config errors: one line per problem naming the option, the value and what is allowed', () => {
  it.each<[string, unknown, string[]]>([
    ['a bad field of the chosen partition kind', { partition: { kind: 'dirichlet', alpha: -1 } }, ['partition.alpha: -1 is not allowed; must be > 0']],
    ['an integer option given a fraction', { partition: { kind: 'dirichlet', minSize: 1.5 } }, ['partition.minSize: 1.5 is not allowed; must be an integer']],
    ['an unknown partition kind', { partition: { kind: 'bogus' } }, ['partition.kind: "bogus" is not allowed; must be one of iid, dirichlet, pathological, shard, quantity, feature-noise, from-file']],
    ['a number above its maximum', { fleet: { clients: 1e9 } }, ['fleet.clients: 1000000000 is not allowed; must be ≤ 100000']],
    ['a value outside an enum', { fleet: { runtime: 'x' } }, ['fleet.runtime: "x" is not allowed; must be one of node, browser, mixed']],
    ['a string where a number belongs', { fleet: { clients: 'abc' } }, ['fleet.clients: "abc" is not allowed; must be a number']],
    ['an empty list', { attack: { craft: [] } }, ['attack.craft: [] is not allowed; must have at least 1 item']],
    ['a value no alternative of a union takes', { attack: { target: 'x' } }, ['attack.target: "x" is not allowed; must be one of untargeted, next, random, or an object']],
    ['a missing required field', { training: { optimizer: { name: 'sgd', lr: 0.1 } } }, ['training.optimizer.momentum: missing; must be a number']],
    ['an unknown option', { fleet: { bogus: 2 } }, ['fleet.bogus: 2 is not an option; fleet takes clients, workers, runtime, backend, openSlots, joinTimeoutSeconds, sample, profiles']],
    ['an unknown top-level option', { bogus: 1 }, ['bogus: 1 is not an option; the top level takes seed, data, model, partition, fleet, training, server, attack']],
    ['more open join slots than clients', { fleet: { clients: 4, openSlots: 5 } }, ['fleet.openSlots: 5 is not allowed; must be ≤ fleet.clients (4)']],
    ['open join slots without token auth', { fleet: { openSlots: 1 }, server: { auth: false } }, [expect.stringMatching(/^fleet\.openSlots: 1 is not allowed with server\.auth false; open slots are handed out as tokens/)]],
    ['a cut the model does not have', { model: { cut: { headEnd: 5, tailStart: 6 } } }, [expect.stringMatching(/^model\.cut: \{"headEnd":5,"tailStart":6\} is not allowed; cut\.headEnd must be an integer in \[1, 4\]/)]],
  ])('%s', (_what, raw, lines) => {
    expect(problems(raw)).toEqual(lines);
  });

  it('an option of a partition kind that is not set names the kind to set and checks the option against it', () => {
    // `--set partition.alpha=-1` over the default partition ({kind: iid}) used to report only
    // "Invalid discriminator value" for partition.kind
    expect(problems({ partition: { alpha: -1 } })).toEqual([
      'partition.kind: missing; must be dirichlet, the only kind with alpha',
      'partition.alpha: -1 is not allowed; must be > 0',
    ]);
    expect(problems({ partition: { alpha: 0.3, minSize: 2 } })).toEqual(['partition.kind: missing; must be dirichlet, the only kind with alpha, minSize']);
    expect(problems({ partition: { minSize: 3 } })).toEqual(['partition.kind: missing; must be dirichlet or quantity (the kinds with minSize)']);
  });

  it('an option the chosen kind does not take is named with what that kind takes', () => {
    expect(problems({ partition: { kind: 'iid', alpha: 0.3 } })).toEqual(['partition.alpha: 0.3 is not an option; partition of this kind takes kind']);
  });

  it('reports every problem, each on its own line', () => {
    expect(problems({ fleet: { clients: 0, runtime: 'x' }, seed: 1.5 })).toEqual([
      'seed: 1.5 is not allowed; must be an integer',
      'fleet.clients: 0 is not allowed; must be ≥ 1',
      'fleet.runtime: "x" is not allowed; must be one of node, browser, mixed',
    ]);
  });
});
