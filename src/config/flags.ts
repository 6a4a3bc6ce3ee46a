// The command-line flags, each declared once: its flag text, help, default and choices for
// commander, and its zod rule (src/config/rules.ts) for validation. A command lists its
// flags in a table ({ key: flag(...) }); addFlags gives commander the options, parseFlags
// validates what commander parsed against the same table, right away, so a bad flag
// becomes one UsageError line naming `--the-flag` and what it accepts. The flags several
// commands share (--store/--db, --device/--jobs/--threads, --sweep, --json) are declared
// here; a command's own flags are declared in its file (src/commands/), one line each.
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { formatIssues, type Naming } from '../issues.js';
import type { DatasetField } from '../data/index.js';
import { count, device, objectives, path, seconds, SWITCH, text } from './rules.js';

export interface FlagOptions {
  /** commander's default, shown in help; the rule checks it like a typed value */
  default?: string;
  /** commander refuses the command without it */
  required?: boolean;
  /** a switch that has a `--no-` form too, with this help */
  negation?: string;
  /** the values commander lists in help and accepts (set by `choice`) */
  choices?: readonly string[];
}

/** A flag that is always there (required, defaulted, or a `--no-` switch) keeps its rule;
 * any other is optional. */
type RuleOf<F extends string, S extends z.ZodType, O> = O extends { required: true } | { default: string }
  ? S
  : F extends `--no-${string}`
    ? S
    : z.ZodOptional<S>;

export class Flag<S = z.ZodType> {
  /** the options key commander stores the value under (`--limit-train` -> limitTrain) */
  readonly key: string;
  /** how messages name the flag: `--epochs`, `--flip/--no-flip` */
  readonly name: string;

  constructor(
    readonly flags: string,
    readonly help: string,
    readonly rule: S,
    readonly opts: FlagOptions = {},
  ) {
    const o = new Option(flags);
    this.key = o.attributeName();
    this.name = opts.negation !== undefined ? `${o.long}/--no-${o.long!.slice(2)}` : o.long!;
  }

  /** The same flag worded for one command (a shared flag whose help differs there). */
  withHelp(help: string): Flag<S> {
    return new Flag(this.flags, help, this.rule, this.opts);
  }

  /** commander's options: one, or two for a switch with a `--no-` form. */
  options(): Option[] {
    const o = new Option(this.flags, this.help);
    if (this.opts.required) o.makeOptionMandatory();
    if (this.opts.default !== undefined) o.default(this.opts.default);
    if (this.opts.choices) o.choices(this.opts.choices);
    if (this.opts.negation === undefined) return [o];
    return [o, new Option(`--no-${o.long!.slice(2)}`, this.opts.negation)];
  }
}

/** Declare a flag: `flag('--jobs <n>', 'help', count(1, 64))`. */
export function flag<const F extends string, S extends z.ZodType, const O extends FlagOptions = {}>(
  flags: F,
  help: string,
  rule: S,
  opts?: O,
): Flag<RuleOf<F, S, O>> {
  const always = opts?.required || opts?.default !== undefined || /^--no-/.test(flags);
  return new Flag<RuleOf<F, S, O>>(flags, help, (always ? rule : rule.optional()) as RuleOf<F, S, O>, opts);
}

/** A switch: `--json`. */
export function toggle<const F extends string, const O extends Pick<FlagOptions, 'negation'> = {}>(flags: F, help: string, opts?: O) {
  return flag(flags, help, SWITCH, opts);
}

/** A flag that takes one of a closed set, which commander lists in help and checks. */
export function choice<const F extends string, const V extends string, const O extends Omit<FlagOptions, 'choices'> = {}>(
  flags: F,
  help: string,
  values: readonly V[],
  opts?: O,
) {
  const rule = z.enum(values as [V, ...V[]], { error: `allowed values: ${values.join(', ')}` });
  return flag(flags, help, rule, { ...opts, choices: values } as O & { choices: readonly V[] });
}

/** A command's flags, by the key commander stores each under. */
export type FlagTable = Record<string, Flag<z.ZodType>>;
type Parsed<T extends FlagTable> = { [K in keyof T]: z.output<T[K]['rule'] & z.ZodType> };

function checkKeys(table: FlagTable): void {
  for (const [key, f] of Object.entries(table)) {
    if (f.key !== key) throw new Error(`flag table: ${f.flags} is stored as ${f.key}, not ${key}`);
  }
}

/** Give a command the options of its flags, in the table's order. */
export function addFlags(cmd: Command, table: FlagTable): Command {
  checkKeys(table);
  for (const f of Object.values(table)) for (const o of f.options()) cmd.addOption(o);
  return cmd;
}

/** A command's flags and what it runs. Commander wants nothing back from an action; what
 * `run` returns is for in-process callers (the tests reach commands through `main`). */
export function addFlagsAndRun(cmd: Command, table: FlagTable, run: (flags: unknown) => Promise<unknown>): Command {
  return addFlags(cmd, table).action(async (flags: unknown) => {
    await run(flags);
  });
}

const schemas = new WeakMap<FlagTable, z.ZodType>();

/** `limitTrain` -> `--limit-train`, for a key no flag declares. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** How messages name flags: by the flag the user typed. */
export function flagNaming(table: FlagTable): Naming {
  const at = (path: readonly PropertyKey[]) => {
    const key = path.length ? String(path[0]) : '';
    return table[key]?.name ?? flagName(key);
  };
  return {
    at,
    unknown: (keys) => `unknown option${keys.length > 1 ? 's' : ''} ${keys.map((k) => at([k])).join(', ')}`,
  };
}

/**
 * Validate what commander parsed for one command against its flag table. Returns the typed,
 * converted flags; throws a UsageError naming each bad flag (one line, issues joined by "; ").
 * Options commander knows but the table does not are refused.
 */
export function parseFlags<T extends FlagTable>(table: T, raw: unknown): Parsed<T> {
  let schema = schemas.get(table);
  if (!schema) {
    schema = z.strictObject(Object.fromEntries(Object.entries(table).map(([k, f]) => [k, f.rule])));
    schemas.set(table, schema);
  }
  const r = schema.safeParse(raw, { reportInput: true });
  if (r.success) return r.data as Parsed<T>;
  throw new UsageError(formatIssues(r.error, flagNaming(table)));
}

// ---------- flags several commands share ----------

const STORE_URL = text('a store URL: sqlite:PATH or postgres://user:password@host:5432/db', 4096);

/** --store and --db (the store a command reads or writes; resolved by storeUrl in src/store). */
export const STORE_FLAGS = {
  store: flag('--store <url>', 'results store: sqlite:PATH or postgres://user@host/db (default: $DSXPLORE_STORE, else --db)', STORE_URL),
  db: flag('--db <path>', 'SQLite results database (default: results/dsxplore.db); same as --store sqlite:PATH', path()),
};

/** --sweep of the commands that read a sweep, and the store it is in. */
export const READ_FLAGS = {
  sweep: flag('--sweep <name>', 'sweep to read (default: the most recent)', text('a sweep name', 200)),
  db: STORE_FLAGS.db,
  store: STORE_FLAGS.store,
};

/** --objectives of the commands that compute a front. */
export const OBJECTIVES_FLAG = flag(
  '--objectives <list>',
  "objectives of the front: accuracy,macs[,params][,latency] (default: the sweep config's)",
  objectives(),
);

/** sweep and worker: trials trained at once, each in a child process, and how long one may
 * go without progress. */
export const JOB_FLAGS = {
  device: flag('--device <d>', 'auto, cpu, cuda or cuda:N, or a list for --jobs (cuda:0,cuda:1)', device({ list: true }), { default: 'auto' }),
  jobs: flag(
    '--jobs <n>',
    'trials trained at once, each in a child process (default 1): with --device cuda they share the GPU, each on its own stream; ' +
      'with a list (cuda:0,cuda:1) they take the devices round-robin; on the CPU the cores are split between them',
    count(1, 64),
  ),
  threads: flag('--threads <n>', "CPU threads per trial (default: the recipe's; with --jobs on the CPU, cores / jobs)", count(1, 256)),
  trialTimeout: flag(
    '--trial-timeout <seconds>',
    'kill a trial that sends no progress for this many seconds and record it as failed (default: no limit)',
    seconds(),
  ),
};

/** sweep and worker: what a first SIGINT/SIGTERM does. */
export const DRAIN_FLAG = toggle(
  '--drain',
  'on SIGINT/SIGTERM, finish the running trial before stopping (default: put it back in the queue at once)',
);

/** sweep and worker: JSON lines instead of the progress display. */
export const PROGRESS_JSON_FLAG = toggle('--json', 'print JSON lines instead of a progress display (the default when piped)');

/** --device of the commands that train or evaluate one model. */
export const DEVICE_FLAG = flag('--device <d>', 'auto, cpu, cuda or cuda:N', device(), { default: 'auto' });

/** --data-dir: where the dataset files are. */
export const DATA_DIR_FLAG = flag('--data-dir <dir>', 'folder with the dataset files', path());

/** --json, worded per command. */
export const jsonFlag = (help: string) => toggle('--json', help);

/** The flag of each dataset field, so the data layer's messages name what the user typed. */
export const DATASET_FIELD_FLAGS: Partial<Record<DatasetField, string>> = {
  name: '--dataset',
  dataDir: '--data-dir',
  limitTrain: '--limit-train',
  limitTest: '--limit-test',
  validation: '--validation',
  inputSize: '--input-size',
};
