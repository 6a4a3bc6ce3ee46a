// Zod's validation issues as the one line a user reads: for a flag (exit 2), a config file
// (exit 2), a checkpoint header, a query parameter of the dashboard's API (a 400). Every
// source says the same things the same way; they differ only in how they name a place,
// which each passes as a Naming: a flag `--epochs`, a config field `space.co[1]`, a query
// parameter `query.x`. A leaf module (types only from zod), so every layer may use it.
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

export interface Naming {
  /** The name of the value at `path` (never empty: the top level has a name too). */
  at(path: Path): string;
  /** Keys the schema does not know at `path`; default: `NAME: unknown field "k"; allowed fields: ...`. */
  unknown?(keys: readonly string[], path: Path): string;
  /** The keys allowed at `path`, for the default unknown-key message. */
  allowed?(path: Path): readonly string[] | undefined;
}

/** A user's value in a message: strings quoted, escaped and shortened; containers only
 * named, so a nested or huge value cannot blow up (or flood) the line. */
export function preview(input: unknown): string {
  if (Array.isArray(input)) return 'a list';
  if (input === null) return 'null';
  if (typeof input === 'object') return 'an object';
  if (typeof input === 'string') return JSON.stringify(input.length > 80 ? `${input.slice(0, 77)}...` : input);
  return String(input);
}

/** `space.co[1]`: dots between keys, brackets around list indices. */
export function pathString(path: Path, prefix = ''): string {
  let s = prefix;
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s ? `.${String(p)}` : String(p);
  }
  return s;
}

const inputOf = (issue: Issue): unknown => (issue as { input?: unknown }).input;

/** ` (got "x")` for a plain value the user gave, nothing for a container or a missing one. */
function got(issue: Issue): string {
  const input = inputOf(issue);
  if (input === undefined || (typeof input === 'object' && input !== null)) return '';
  return ` (got ${preview(input)})`;
}

function notAllowed(issue: Issue): string {
  const input = inputOf(issue);
  return input === undefined ? '' : `got ${preview(input)}; `;
}

function unknownKeys(issue: z.core.$ZodIssueUnrecognizedKeys, naming: Naming): string {
  if (naming.unknown) return naming.unknown(issue.keys, issue.path);
  const allowed = naming.allowed?.(issue.path);
  return (
    `${naming.at(issue.path)}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` +
    (allowed ? `; allowed fields: ${allowed.join(', ')}` : '')
  );
}

/** One issue as `NAME: what is wrong (got VALUE)`. */
export function describeIssue(issue: Issue, naming: Naming): string {
  if (issue.code === 'unrecognized_keys') return unknownKeys(issue, naming);
  // a message from another module's own validation (a dataset, a variant) already names its field
  if (issue.code === 'custom' && issue.path.length === 0) return issue.message;
  const where = naming.at(issue.path);
  const missing = issue.code === 'invalid_type' && inputOf(issue) === undefined;
  // a rule that words its own message ("must be a whole number in 1..64") keeps its words;
  // zod's own messages ("Invalid option", "Too small") are reworded below
  if (!missing && !/^(Invalid|Too (small|big))\b/.test(issue.message)) return `${where}: ${issue.message}${got(issue)}`;
  switch (issue.code) {
    case 'invalid_value':
      return `${where}: ${notAllowed(issue)}allowed values: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? issue.minimum : (issue as z.core.$ZodIssueTooBig).maximum;
      if (issue.origin === 'array') return `${where}: needs ${small ? 'at least' : 'at most'} ${String(bound)} item(s)`;
      if (issue.origin === 'string' && small) return `${where}: must not be empty`;
      const op = small ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      return `${where}: must be ${op} ${String(bound)}${got(issue)}`;
    }
    case 'invalid_union': {
      const opts = (issue as { options?: unknown[] }).options;
      if (opts) return `${where}: ${notAllowed(issue)}allowed values: ${opts.map((v) => JSON.stringify(v)).join(', ')}`;
      return `${where}: ${issue.message}${got(issue)}`;
    }
    case 'invalid_type':
      if (inputOf(issue) === undefined) {
        const what = issue.message.replace(/^Invalid input: /, '');
        return `${where}: required field is missing (${/^expected \S+, received undefined$/.test(what) ? `expected ${issue.expected}` : what})`;
      }
      return `${where}: ${issue.message.replace(/^Invalid input: /, '')}${got(issue)}`;
    default:
      return `${where}: ${issue.message}${got(issue)}`;
  }
}

/** Every issue of a failed parse, separated by "; " (or the first one only). */
export function formatIssues(error: z.ZodError, naming: Naming, opts: { first?: boolean } = {}): string {
  const issues = opts.first ? error.issues.slice(0, 1) : error.issues;
  return issues.map((i) => describeIssue(i, naming)).join('; ');
}

// The keys an object schema accepts at `path`, for "unknown field" messages. Walks through
// the wrappers zod 4 puts around objects (default, optional, pipe) and into unions; gives up
// quietly.
export function keysAt(schema: z.ZodType, path: Path): string[] | undefined {
  const unwrap = (s: any): any => {
    for (let i = 0; i < 10 && s?.def; i++) {
      if (s.def.innerType) s = s.def.innerType;
      else if (s.def.type === 'pipe') s = s.def.in;
      else break;
    }
    return s;
  };
  const keysOf = (s: any): string[] | undefined => {
    if (s?.shape) return Object.keys(s.shape);
    if (s?.def?.type === 'union') {
      // only when one member allows every key the others do: a discriminated union's
      // members each allow their own (a grid search has no `n`), which this cannot tell apart
      const sets = (s.def.options as any[]).map((o) => keysOf(unwrap(o))).filter((k): k is string[] => k !== undefined);
      return sets.find((big) => sets.every((k) => k.every((x) => big.includes(x))));
    }
    return undefined;
  };
  let s: any = unwrap(schema);
  for (const p of path) {
    if (s?.def?.type === 'array' && typeof p === 'number') s = s.def.element;
    else if (s?.shape && typeof p === 'string') s = s.shape[p];
    else if (s?.def?.type === 'union' && typeof p === 'string') {
      s = (s.def.options as any[]).map(unwrap).find((o) => o?.shape?.[p])?.shape[p];
    } else return undefined;
    s = unwrap(s);
  }
  return keysOf(s);
}

/** Config files: fields named by their path (`space.co[1]`, `recipe.augment.flip`), unknown
 * ones answered with the fields the schema allows there. */
export function fieldNaming(schema: z.ZodType, prefix = '', top = '(top level)'): Naming {
  return {
    at: (path) => pathString(path, prefix) || top,
    allowed: (path) => keysAt(schema, path),
  };
}
