import { z } from 'zod';

/**
 * Turns zod's issues about a run config into one line per problem that names the option, its value
 * and what is allowed: `partition.alpha: -1 is not allowed; must be > 0`. zod's own messages leave
 * out the value and, for a discriminated union whose discriminator is missing (`--set
 * partition.alpha=-1` over the default `partition: {kind: iid}`), blame the discriminator alone; here
 * the member the given options belong to is found and checked, so the real problem is named too.
 */

/** A user's mistake in a config: the CLI prints its message as one line and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Issue = z.ZodError['issues'][number];
type Path = readonly PropertyKey[];

/** Fields zod 4 puts on issues beyond its public types (`invalid_union` of a discriminated union). */
interface DiscriminatorIssue {
  readonly discriminator?: string;
  readonly options?: readonly unknown[];
  readonly errors?: readonly (readonly Issue[])[];
}

export function valueAt(obj: unknown, path: Path): unknown {
  let v = obj;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    // a list option given as one item (`defence: {kind: …}`) is parsed as a list of one
    if (k === 0 && !Array.isArray(v)) continue;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A value as a user typed it, short enough for one line. */
export function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const pathText = (path: Path): string => path.map(String).join('.');

/** Default, prefault, nullable and optional wrap the schema that holds the shape. */
function unwrap(s: z.ZodType): z.ZodType {
  let t = s;
  while (t instanceof z.ZodDefault || t instanceof z.ZodPrefault || t instanceof z.ZodNullable || t instanceof z.ZodOptional) t = t.unwrap() as z.ZodType;
  return t;
}

/** The discriminator value a union member accepts (`kind: z.literal('dirichlet')` → 'dirichlet'). */
const memberValue = (member: z.ZodObject, key: string): unknown => (member.shape[key] as z.ZodLiteral).value;

/** The member of a discriminated union that a raw object's discriminator selects, or null. */
function memberFor(union: z.ZodDiscriminatedUnion, obj: unknown): z.ZodObject | null {
  const key = union._zod.def.discriminator;
  return (union.options as z.ZodObject[]).find((m) => memberValue(m, key) === valueAt(obj, [key])) ?? null;
}

/** The unwrapped schema at `path`, through the union members the raw config selects (a union at the end stays); null where unknown. */
function schemaAt(schema: z.ZodType, raw: unknown, path: Path): z.ZodType | null {
  let s = unwrap(schema);
  for (let depth = 0; depth < path.length; depth++) {
    const obj = s instanceof z.ZodDiscriminatedUnion ? memberFor(s, valueAt(raw, path.slice(0, depth))) : s;
    const field = obj instanceof z.ZodObject ? (obj.shape[String(path[depth])] as z.ZodType | undefined) : undefined;
    if (!field) return null;
    s = unwrap(field);
  }
  return s;
}

function bound(i: Issue & { origin?: string; inclusive?: boolean }, limit: number, below: boolean): string {
  if (i.origin === 'array') return `must have ${below ? 'at least' : 'at most'} ${limit} item${limit === 1 ? '' : 's'}`;
  if (i.origin === 'string') return below && limit === 1 ? 'must not be empty' : `must have ${below ? 'at least' : 'at most'} ${limit} characters`;
  return `must be ${below ? (i.inclusive ? '≥' : '>') : i.inclusive ? '≤' : '<'} ${limit}`;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'a list',
};

/** What an issue allows, as "must …". */
function allowed(i: Issue): string {
  switch (i.code) {
    case 'too_small':
      return bound(i, Number(i.minimum), true);
    case 'too_big':
      return bound(i, Number(i.maximum), false);
    case 'invalid_type':
      return `must be ${TYPE_NAMES[i.expected] ?? i.expected}`;
    case 'invalid_value':
      return i.values.length === 1 ? `must be ${String(i.values[0])}` : `must be one of ${i.values.map(String).join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(i.divisor)}`;
    case 'invalid_union': {
      // each alternative's complaint about the value itself: "must be one of a, b, or an object"
      const alternatives = (i.errors ?? []).map((alt) => alt.find((a) => a.path.length === 0)).filter((a): a is Issue => a !== undefined).map(allowed);
      return alternatives.length ? `must be ${alternatives.map((a) => a.replace(/^must be /, '')).join(', or ')}` : i.message;
    }
    default:
      return i.message;
  }
}

function line(path: Path, value: unknown, rule: string): string {
  return value === undefined ? `${pathText(path)}: missing; ${rule}` : `${pathText(path)}: ${show(value)} is not allowed; ${rule}`;
}

function unknownOptions(schema: z.ZodType, raw: unknown, i: Issue & { keys: string[] }): string[] {
  const s = schemaAt(schema, raw, i.path);
  const at = s instanceof z.ZodDiscriminatedUnion ? memberFor(s, valueAt(raw, i.path)) : s;
  const known = at instanceof z.ZodObject ? Object.keys(at.shape).join(', ') : null;
  const where = !i.path.length ? 'the top level' : s === at ? pathText(i.path) : `${pathText(i.path)} of this ${s instanceof z.ZodDiscriminatedUnion ? s._zod.def.discriminator : 'kind'}`;
  return i.keys.map((k) => `${pathText([...i.path, k])}: ${show(valueAt(raw, [...i.path, k]))} is not an option${known ? `; ${where} takes ${known}` : ''}`);
}

/**
 * A discriminated union's discriminator is missing or unknown. When it is missing and the options
 * given belong to exactly one member, say which, and check them against that member.
 */
function badDiscriminator(schema: z.ZodType, raw: unknown, i: Issue & DiscriminatorIssue): string[] {
  const key = i.discriminator!;
  const parent = i.path.slice(0, -1);
  const kinds = (i.options ?? []).map(String);
  const given = valueAt(raw, i.path);
  if (given !== undefined) return [line(i.path, given, `must be one of ${kinds.join(', ')}`)];
  const union = schemaAt(schema, raw, parent);
  const members = union instanceof z.ZodDiscriminatedUnion ? (union.options as z.ZodObject[]) : [];
  const obj = (valueAt(raw, parent) ?? {}) as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => k !== key);
  const fits = keys.length ? members.filter((m) => keys.every((k) => k in m.shape)) : [];
  const fitting = fits.map((m) => String(memberValue(m, key)));
  if (fits.length !== 1) {
    const rule = fits.length ? `must be ${fitting.join(' or ')} (the ${key}s with ${keys.join(', ')})` : `must be one of ${kinds.join(', ')}`;
    return [line(i.path, undefined, rule)];
  }
  const kind = fitting[0]!;
  const head = line(i.path, undefined, `must be ${kind}, the only ${key} with ${keys.join(', ')}`);
  const r = fits[0]!.safeParse({ ...obj, [key]: kind });
  const inMember = r.success ? [] : r.error.issues.map((m) => ({ ...m, path: [...parent, ...m.path] }) as Issue);
  return [head, ...describeIssues(schema, raw, inMember)];
}

/** One line per problem: the option's path, the value given and what is allowed. */
export function describeIssues(schema: z.ZodType, raw: unknown, issues: readonly Issue[]): string[] {
  return issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') return unknownOptions(schema, raw, i);
    if (i.code === 'invalid_union' && (i as DiscriminatorIssue).discriminator) return badDiscriminator(schema, raw, i);
    return [line(i.path, valueAt(raw, i.path), allowed(i))];
  });
}
