import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Which splitfleet made a result: the package version and, in a git checkout, the commit and whether
 * tracked files differed from it. A cited number is only re-runnable at a known commit; a `dirty`
 * result came from uncommitted code. Read once per process (git is not asked every round).
 */
export interface ToolProvenance {
  readonly version: string;
  /** HEAD's commit, null outside a git checkout (e.g. an npm tarball) or without git. */
  readonly commit: string | null;
  /** Tracked files differ from `commit` (untracked files are not counted); null without a commit. */
  readonly dirty: boolean | null;
}

const root = join(import.meta.dirname, '..', '..', '..', '..');
let cached: ToolProvenance | null = null;

export function toolProvenance(): ToolProvenance {
  cached ??= readProvenance();
  return cached;
}

function readProvenance(): ToolProvenance {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const commit = git('rev-parse', 'HEAD');
  if (!commit) return { version, commit: null, dirty: null };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return { version, commit, dirty: status === null ? null : status.length > 0 };
}
