import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, parseConfigText } from './config.ts';
import { expandSweep, type SweepSpec } from '../sweep/sweep.ts';
import { DEFENCES } from '@splitfleet/splitcore';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', '..', 'examples');

describe('examples/', () => {
  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))('%s is a valid run or sweep config', (file) => {
    const raw = parseConfigText(readFileSync(join(EXAMPLES, file), 'utf8'), file) as Record<string, unknown>;
    if ('grid' in raw) expect(expandSweep(raw as unknown as SweepSpec).length).toBeGreaterThan(0);
    else expect(parseConfig(raw).seed).toEqual(expect.any(Number));
  });

  it('defence-study.yaml sweeps every defence at 4 strengths, plus none, for 3 seeds', () => {
    const spec = parseConfigText(readFileSync(join(EXAMPLES, 'defence-study.yaml'), 'utf8'), 'defences') as unknown as SweepSpec;
    const points = expandSweep(spec).filter((p) => p.config.seed === 1);
    const kinds = points.flatMap((p) => p.config.defence.map((d) => d.kind));
    for (const k of Object.keys(DEFENCES)) expect(kinds.filter((x) => x === k), k).toHaveLength(4);
    expect(points.filter((p) => p.config.defence.length === 0)).toHaveLength(1);
  });

  it('modes-sweep.yaml covers every training mode', () => {
    const spec = parseConfigText(readFileSync(join(EXAMPLES, 'modes-sweep.yaml'), 'utf8'), 'modes') as unknown as SweepSpec;
    expect(expandSweep(spec).map((p) => p.config.training.mode)).toEqual(['splitfed', 'sequential', 'local', 'sflv1', 'sflv2']);
  });
});
