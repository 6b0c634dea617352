import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolProvenance } from './provenance.ts';

describe('tool provenance in results', () => {
  it('names the package version and, in a git checkout, the commit HEAD points at', () => {
    const root = join(import.meta.dirname, '..', '..', '..', '..');
    const p = toolProvenance();
    expect(p.version).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
    let head: string | null = null;
    try {
      head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      head = null; // not a checkout: nothing to name
    }
    expect(p.commit).toBe(head);
    if (head) expect(typeof p.dirty).toBe('boolean');
    else expect(p.dirty).toBeNull();
    expect(toolProvenance()).toBe(p); // read once per process
  });
});
