import { describe, expect, it } from 'vitest';
import { parseConfig } from '../experiment/config.ts';
import { withMallocArenaLimit } from './malloc-arenas.ts';

describe('the malloc arena limit of population runs', () => {
  it('re-executes nothing for a standing fleet, or when MALLOC_ARENA_MAX is already set', () => {
    expect(withMallocArenaLimit(parseConfig({}))).toBeNull();
    const before = process.env.MALLOC_ARENA_MAX;
    process.env.MALLOC_ARENA_MAX = '2';
    try {
      expect(withMallocArenaLimit(parseConfig({ fleet: { population: 1000 } }))).toBeNull();
    } finally {
      if (before === undefined) delete process.env.MALLOC_ARENA_MAX;
      else process.env.MALLOC_ARENA_MAX = before;
    }
  });
});
