import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, parseConfigText } from './config.ts';
import { expandSweep, type SweepSpec } from '../sweep/sweep.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', '..', 'examples');

describe('examples/', () => {
  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))('%s is a valid run or sweep config', (file) => {
    const raw = parseConfigText(readFileSync(join(EXAMPLES, file), 'utf8'), file) as Record<string, unknown>;
    if ('grid' in raw) expect(expandSweep(raw as unknown as SweepSpec).length).toBeGreaterThan(0);
    else expect(parseConfig(raw).seed).toEqual(expect.any(Number));
  });

  it('modes-sweep.yaml covers every training mode', () => {
    const spec = parseConfigText(readFileSync(join(EXAMPLES, 'modes-sweep.yaml'), 'utf8'), 'modes') as unknown as SweepSpec;
    expect(expandSweep(spec).map((p) => p.config.training.mode)).toEqual(['splitfed', 'sequential', 'local', 'sflv1', 'sflv2']);
  });
});
