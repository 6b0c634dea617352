import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, parseConfigText } from './config.ts';
import { configId, expandSweep, trainingConfig, type SweepSpec } from '../sweep/sweep.ts';
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

  it('defence-study-nonadaptive.yaml attacks training runs of defence-study.yaml (linked, not retrained), each at a strongest strength', () => {
    const read = (f: string) => expandSweep(parseConfigText(readFileSync(join(EXAMPLES, f), 'utf8'), f) as unknown as SweepSpec);
    const trained = new Set(read('defence-study.yaml').map((p) => configId(trainingConfig(p.config))));
    const nonAdaptive = read('defence-study-nonadaptive.yaml');
    expect(nonAdaptive.every((p) => !p.config.attack.adaptive && trained.has(configId(trainingConfig(p.config))))).toBe(true);
    expect(nonAdaptive.map((p) => p.config.defence[0]!.kind)).toEqual(expect.arrayContaining(['smashed-noise', 'quantise', 'topk', 'label-rr']));
  });

  it('modes-sweep.yaml covers every training mode', () => {
    const spec = parseConfigText(readFileSync(join(EXAMPLES, 'modes-sweep.yaml'), 'utf8'), 'modes') as unknown as SweepSpec;
    expect(expandSweep(spec).map((p) => p.config.training.mode)).toEqual(['splitfed', 'sequential', 'local', 'sflv1', 'sflv2']);
  });
});
