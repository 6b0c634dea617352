// Boundary lint of the workspace, run by `npm test` before vitest: reads the import, export-from and
// dynamic-import specifiers of every .ts file under libs/ and apps/ and fails on the dependencies
// the layering forbids (RULES below). Usage: node scripts/check-boundaries.ts [repo root]; prints one
// line per violation (file:line, the import, the rule) and exits 1.
// Specifiers come from TypeScript's own pre-processor (typescript is already a devDependency): it
// knows comments, strings, template literals and regex literals, so the JavaScript inside a page
// template is not taken for an import, and nothing new has to be installed.
import { globSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface ImportRef {
  readonly specifier: string;
  readonly line: number;
}

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly specifier: string;
  readonly rule: RuleId;
}

/** The workspace packages by name, with the folder each owns. */
const PACKAGES: Readonly<Record<string, string>> = {
  '@splitfleet/splitcore': 'libs/splitcore',
  '@splitfleet/attack': 'libs/attack',
  '@splitfleet/client-sim': 'apps/client-sim',
  '@splitfleet/server': 'apps/server',
};

/** What one import is, as the rules see it. `target` is the repo-relative path of a relative import. */
interface ImportSite {
  readonly file: string;
  readonly root: string;
  readonly specifier: string;
  readonly target: string | null;
}

const isWorkspace = (s: string): boolean => s.startsWith('@splitfleet/');
const isLib = (i: ImportSite): boolean => i.root.startsWith('libs/');
const isAppSpecifier = (s: string): boolean => /^@splitfleet\/(server|client-sim)(\/|$)/.test(s);
const HOST_MODULES = new Set(builtinModules);
const isHostModule = (s: string): boolean => s.startsWith('node:') || HOST_MODULES.has(s.split('/')[0]!) || /^socket\.io/.test(s);

export const RULES = {
  'attack-imports-only-splitcore': {
    text: 'libs/attack may import only @splitfleet/splitcore from the workspace',
    breaks: (i: ImportSite) => i.root === 'libs/attack' && isWorkspace(i.specifier) && i.specifier !== '@splitfleet/splitcore',
  },
  'splitcore-imports-no-workspace-package': {
    text: 'libs/splitcore is the bottom layer: it imports no other workspace package',
    breaks: (i: ImportSite) => i.root === 'libs/splitcore' && isWorkspace(i.specifier),
  },
  'lib-imports-app': {
    text: 'a lib must not import an app',
    breaks: (i: ImportSite) => isLib(i) && (isAppSpecifier(i.specifier) || (i.target?.startsWith('apps/') ?? false)),
  },
  'lib-imports-host-module': {
    text: 'a lib must not import node:*, Node built-ins (fs, worker_threads, …) or socket.io*: host I/O belongs to the apps',
    breaks: (i: ImportSite) => isLib(i) && isHostModule(i.specifier),
  },
  'lib-imports-tfjs-union': {
    text: 'a lib imports @tensorflow/tfjs-core, not the whole @tensorflow/tfjs (hosts register backends and gradients)',
    breaks: (i: ImportSite) => isLib(i) && /^@tensorflow\/tfjs(\/|$)/.test(i.specifier),
  },
  'server-imports-client-sim-internals': {
    text: 'apps/server imports client-sim only as @splitfleet/client-sim or @splitfleet/client-sim/node',
    breaks: (i: ImportSite) => i.root === 'apps/server' && i.specifier.startsWith('@splitfleet/client-sim/') && i.specifier !== '@splitfleet/client-sim/node',
  },
  'relative-import-leaves-package': {
    text: 'a relative import must stay inside its package; import another package by its name',
    breaks: (i: ImportSite) => i.target !== null && !i.target.startsWith(`${i.root}/`),
  },
} satisfies Record<string, { text: string; breaks: (i: ImportSite) => boolean }>;

export type RuleId = keyof typeof RULES;

/** Every import, export-from and dynamic import of a source text, with its 1-based line. */
export function importsOf(source: string): ImportRef[] {
  const lineOf = (pos: number): number => source.slice(0, pos).split('\n').length;
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => ({ specifier: f.fileName, line: lineOf(f.pos) }));
}

/** The package folder (libs/x or apps/x) a repo-relative path belongs to, or null. */
function packageRoot(file: string): string | null {
  const m = /^((?:libs|apps)\/[^/]+)\//.exec(file);
  return m ? m[1]! : null;
}

/** The boundary violations of one file, given its repo-relative path (forward slashes) and text. */
export function checkFile(file: string, source: string): Violation[] {
  const root = packageRoot(file);
  if (root === null) return [];
  const out: Violation[] = [];
  for (const { specifier, line } of importsOf(source)) {
    const target = specifier.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), specifier)) : null;
    const site: ImportSite = { file, root, specifier, target };
    for (const [rule, r] of Object.entries(RULES)) {
      if (r.breaks(site)) out.push({ file, line, specifier, rule: rule as RuleId });
    }
  }
  return out;
}

/** Repo-relative paths of every .ts file under libs/ and apps/. */
export function sourceFiles(repo: string): string[] {
  return globSync('{libs,apps}/**/*.ts', { cwd: repo, exclude: (p) => p.includes('node_modules') })
    .map((p) => p.split('\\').join('/'))
    .sort();
}

export function checkTree(repo: string): Violation[] {
  return sourceFiles(repo).flatMap((f) => checkFile(f, readFileSync(resolve(repo, f), 'utf8')));
}

/** The file a workspace specifier (`@splitfleet/x` or `@splitfleet/x/sub`) names, per its package.json exports. */
function resolveWorkspace(repo: string, specifier: string): string {
  const name = specifier.split('/').slice(0, 2).join('/');
  const root = PACKAGES[name];
  if (!root) throw new Error(`${specifier}: not a workspace package`);
  const exports = JSON.parse(readFileSync(resolve(repo, root, 'package.json'), 'utf8')).exports as Record<string, string>;
  const sub = `.${specifier.slice(name.length)}`;
  const file = exports[sub];
  if (!file) throw new Error(`${specifier}: ${root}/package.json exports no "${sub}"`);
  return posix.join(root, file);
}

/** The package a bare specifier belongs to: `@scope/name`, `name`, or `node:x`. */
const packageOf = (s: string): string => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/');

/**
 * The external packages a module loads, transitively, following relative and workspace imports
 * (type-only imports count too: the check errs on the strict side).
 */
export function externalPackagesReachable(repo: string, entry: string): Set<string> {
  const seen = new Set<string>();
  const external = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const { specifier } of importsOf(readFileSync(resolve(repo, file), 'utf8'))) {
      if (specifier.startsWith('.')) queue.push(posix.normalize(posix.join(posix.dirname(file), specifier)));
      else if (isWorkspace(specifier)) queue.push(resolveWorkspace(repo, specifier));
      else external.add(packageOf(specifier));
    }
  }
  return external;
}

function main(repo: string): number {
  const files = sourceFiles(repo);
  const violations = files.flatMap((f) => checkFile(f, readFileSync(resolve(repo, f), 'utf8')));
  for (const v of violations) console.error(`${v.file}:${v.line}  '${v.specifier}'  ${v.rule}: ${RULES[v.rule].text}`);
  if (violations.length) {
    console.error(`check-boundaries: ${violations.length} violation(s) in ${files.length} files under libs/ and apps/`);
    return 1;
  }
  console.log(`check-boundaries: ${files.length} files under libs/ and apps/ keep the boundaries`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url))));
}
