import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAttack, readResults } from './results.ts';
import { ConfigError } from './config.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'sf-results-'));

describe('reading a run directory', () => {
  it('names the file and the problem for a missing, non-JSON or off-schema results.json, as a user error', () => {
    const d = dir();
    expect(() => readResults(d)).toThrow(new ConfigError(`${join(d, 'results.json')} not found: is ${d} a splitfleet run directory?`));
    writeFileSync(join(d, 'results.json'), '{not json');
    expect(() => readResults(d)).toThrow(/results\.json: not valid JSON/);
    writeFileSync(join(d, 'results.json'), '{"schemaVersion": 1}');
    expect(() => readResults(d)).toThrow(/results\.json: not a splitfleet results file \(schema 1\): runId: /);
  });

  it('attack.json is optional, and checked against the attack report schema when present', () => {
    const d = dir();
    expect(readAttack(d)).toBeUndefined();
    writeFileSync(join(d, 'attack.json'), '{"method": "spadv"}');
    expect(() => readAttack(d)).toThrow(ConfigError);
    expect(() => readAttack(d)).toThrow(/attack\.json: not a splitfleet attack report: /);
    writeFileSync(join(d, 'attack.json'), '[');
    expect(() => readAttack(d)).toThrow(/attack\.json: not valid JSON/);
  });
});
