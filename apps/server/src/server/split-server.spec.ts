import { describe, expect, it } from 'vitest';
import { parseConfig } from '../experiment/config.ts';
import { middleThreadsOf } from './split-server.ts';

describe('middleThreadsOf', () => {
  it('gives a standing fleet two middle threads and a population run one, unless told', () => {
    expect(middleThreadsOf(parseConfig({}))).toBe(2);
    expect(middleThreadsOf(parseConfig({ fleet: { population: 1000, sample: 10 } }))).toBe(1);
    expect(middleThreadsOf(parseConfig({ fleet: { population: 1000, sample: 10 }, server: { middleThreads: 3 } }))).toBe(3);
    expect(middleThreadsOf(parseConfig({ server: { middleThreads: 1 } }))).toBe(1);
  });
});
