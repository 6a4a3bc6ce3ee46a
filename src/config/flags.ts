// The command-line flags of every command, validated here like config files are: commander
// only splits argv into strings, each command hands what it got to parseFlags with its schema
// right away, and a bad flag becomes one UsageError line naming `--the-flag` and what it
// accepts. The rules are shared (one for --device, one for counts, one for paths, ...), so
// a new flag is one line in its command's schema. Schemas are strict: an option commander
// knows but the schema does not is refused, and test/cli-flags.test.ts checks that each
// command's options and its schema list the same flags.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { datasetInfo, IMAGEFOLDER_MAX_SIZE, IMAGEFOLDER_MIN_SIZE, parseDatasetRef } from '../data/index.js';
import { listModels, parseVariant, STEMS } from '../models/index.js';
import { OBJECTIVES } from './sweep.js';

// ---------- the rules ----------

export const MAX_DEVICE_INDEX = 255;
export const DEVICE_FORMS = 'auto, cpu, cuda or cuda:N';
export const DEVICE_LIST_FORMS = 'auto, cpu, cuda, cuda:N, or a list such as cuda:0,cuda:1';

/** What --device resolves to: one device, or (for commands that take several) a list. */
export type DeviceFlag = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/**
 * The one --device rule: auto | cpu | cuda | cuda:N (N in 0..255), and with `list` also a
 * comma-separated list of those (no device twice) that `--jobs` lanes take round-robin.
 * Case and surrounding spaces are forgiven.
 */
export function device(opts: { list?: boolean } = {}) {
  const forms = opts.list ? DEVICE_LIST_FORMS : DEVICE_FORMS;
  const what = `must be ${forms} (N = 0..${MAX_DEVICE_INDEX})`;
  return z.string({ error: what }).transform((raw, ctx) => {
    const items = raw.split(',').map((d) => d.trim().toLowerCase());
    const ok =
      (opts.list || items.length === 1) &&
      new Set(items).size === items.length &&
      items.every((d) => {
        if (d === 'auto' || d === 'cpu' || d === 'cuda') return true;
        const m = /^cuda:(\d{1,3})$/.exec(d);
        return m !== null && Number(m[1]) <= MAX_DEVICE_INDEX;
      });
    if (!ok) {
      ctx.addIssue({ code: 'custom', message: what, input: raw });
      return z.NEVER;
    }
    return items.map((d) => (d.startsWith('cuda:') ? `cuda:${Number(d.slice(5))}` : d)).join(',') as DeviceFlag;
  });
}

/** The one rule for counts: a whole number in [min, max], given as a flag string or a number. */
export function count(min: number, max: number) {
  const what = `must be a whole number in ${min}..${max}`;
  return z.union([z.string(), z.number()], { error: what }).transform((raw, ctx) => {
    const s = typeof raw === 'number' ? String(raw) : raw.trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: what, input: raw });
      return z.NEVER;
    }
    return n;
  });
}

/** A finite decimal number with a stated condition (e.g. seconds > 0). */
export function real(what: string, ok: (v: number) => boolean) {
  const message = `must be ${what}`;
  return z.union([z.string(), z.number()], { error: message }).transform((raw, ctx) => {
    const s = typeof raw === 'number' ? String(raw) : raw.trim();
    const n = Number(s);
    if (s === '' || !/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s) || !Number.isFinite(n) || !ok(n)) {
      ctx.addIssue({ code: 'custom', message, input: raw });
      return z.NEVER;
    }
    return n;
  });
}

/** A count of images, or a fraction in (0,1) of them (--validation). */
export function countOrFraction(max: number) {
  return real(`a whole number in 1..${max} or a fraction in (0,1)`, (v) =>
    v > 0 && (v < 1 || (Number.isInteger(v) && v <= max)),
  );
}

export const MAX_PATH_LENGTH = 4096;

/** The one rule for file and folder paths: non-empty, no NUL byte, at most 4096 characters. */
export function path() {
  const what = `must be a file path (not empty, no NUL byte, at most ${MAX_PATH_LENGTH} characters)`;
  return z
    .string({ error: what })
    .refine((p) => p.length > 0 && p.length <= MAX_PATH_LENGTH && !p.includes('\0'), { error: what });
}

/** A name or URL typed on the command line: printable text of bounded length. */
export function text(what: string, max = 1024) {
  const message = `must be ${what} (printable text, 1..${max} characters)`;
  // eslint-disable-next-line no-control-regex
  return z.string({ error: message }).refine((s) => s.length > 0 && s.length <= max && !/[\x00-\x1f\x7f]/.test(s), {
    error: message,
  });
}

/** One of a closed set of names; the message names the value and lists the allowed ones. */
export function oneOf<const V extends string>(noun: string, values: readonly V[]) {
  const allowed = `allowed values: ${values.join(', ')}`;
  return z.string({ error: `must be a ${noun}; ${allowed}` }).transform((v, ctx): V => {
    if (!(values as readonly string[]).includes(v)) {
      ctx.addIssue({ code: 'custom', message: `unknown ${noun} ${shown(v)}; ${allowed}` });
      return z.NEVER;
    }
    return v as V;
  });
}

/** A value another module knows how to check (a variant, a dataset reference): its
 * UsageError becomes the flag's issue, so the message names the flag. */
export function checkedBy(what: string, check: (v: string) => unknown, max = 100_000) {
  return text(what, max).superRefine((v, ctx) => {
    try {
      check(v);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });
}

const MODEL = () => oneOf('model', listModels());
const MAX_IMAGE_SIDE = 4096;
/** one variant, or (inspect) one per slot separated by ";" */
const VARIANT = () => checkedBy('a variant', (v) => v.split(';').forEach(parseVariant));
const DATASET = () =>
  checkedBy(
    'a dataset name',
    (v) => {
      const { shape } = datasetInfo(parseDatasetRef(v));
      if (shape.some((d) => d > MAX_IMAGE_SIDE)) {
        throw new UsageError(`images of ${shape.join('x')} are larger than any model takes (${MAX_IMAGE_SIDE} pixels a side, 4096 channels)`);
      }
    },
    1024,
  );
const switchFlag = z.boolean({ error: 'is a switch and takes no value' });
/** --stem: the network's first layers (the stem is not a slot) */
const STEM = () => oneOf('stem', STEMS).default('cifar');

/** --objectives accuracy,macs[,params]: parsed into a list, accuracy and a cost required. */
export function objectives() {
  return z.string({ error: `must be a list of ${OBJECTIVES.join(', ')}` }).transform((raw, ctx) => {
    const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = list.filter((o) => !(OBJECTIVES as readonly string[]).includes(o));
    const fail = (message: string) => {
      ctx.addIssue({ code: 'custom', message, input: raw });
      return z.NEVER;
    };
    if (bad.length) return fail(`unknown ${bad.join(', ')}; allowed values: ${OBJECTIVES.join(', ')}`);
    if (new Set(list).size !== list.length) return fail('an objective is repeated');
    if (list.length > 3) return fail('at most three, accuracy and up to two of macs, params, latency');
    if (!list.includes('accuracy') || list.length < 2) {
      return fail('give accuracy and at least one cost, e.g. accuracy,macs or accuracy,macs,params');
    }
    return list as (typeof OBJECTIVES)[number][];
  });
}

// ---------- the schemas, one per command ----------

const storeFlags = {
  /** sqlite:PATH or postgres://...; parsed by the store */
  store: text('a store URL: sqlite:PATH or postgres://user:password@host:5432/db', 4096).optional(),
  db: path().optional(),
};

export const inspectFlagsSchema = z.strictObject({
  model: MODEL(),
  variant: VARIANT().optional(),
  inChannels: count(1, 4096),
  inputSize: count(1, 4096),
  classes: count(1, 100_000),
  stem: STEM(),
  json: switchFlag.optional(),
});

// recipe flags (epochs, lr, ...) are checked by recipeFromFlags (src/config/recipe.ts) with
// the dataset's defaults; here only their form (one string each)
const recipeFlag = text('a value').optional();

export const trainFlagsSchema = z.strictObject({
  model: MODEL(),
  variant: VARIANT().optional(),
  dataset: DATASET(),
  /** imagefolder: the side images are resized and centre-cropped to */
  inputSize: count(IMAGEFOLDER_MIN_SIZE, IMAGEFOLDER_MAX_SIZE).optional(),
  stem: STEM(),
  epochs: recipeFlag,
  batchSize: recipeFlag,
  lr: recipeFlag,
  momentum: recipeFlag,
  nesterov: switchFlag.optional(),
  weightDecay: recipeFlag,
  decayBnBias: switchFlag.optional(),
  schedule: recipeFlag,
  milestones: recipeFlag,
  gamma: recipeFlag,
  warmup: recipeFlag,
  cropPadding: recipeFlag,
  flip: switchFlag.optional(),
  resizedCrop: recipeFlag,
  seed: recipeFlag,
  threads: recipeFlag,
  limitTrain: count(1, 2 ** 31 - 1).optional(),
  limitTest: count(1, 2 ** 31 - 1).optional(),
  validation: countOrFraction(2 ** 31 - 1).optional(),
  dataDir: path().optional(),
  device: device().default('auto'),
  save: path().optional(),
  json: switchFlag.optional(),
});

export const evaluateFlagsSchema = z.strictObject({
  load: path(),
  dataset: DATASET().optional(),
  dataDir: path().optional(),
  limitTest: count(1, 2 ** 31 - 1).optional(),
  batchSize: count(1, 65536).optional(),
  threads: count(0, 4096).default(0),
  device: device().default('auto'),
  json: switchFlag.optional(),
});

/** sweep and worker: --device (one, or a list the --jobs lanes take round-robin), --jobs
 * (trials trained at once in this process) and --threads (per trial) */
const jobFlags = {
  device: device({ list: true }).default('auto'),
  jobs: count(1, 64).optional(),
  threads: count(1, 256).optional(),
  trialTimeout: real('a number of seconds in (0, 86400]', (v) => v > 0 && v <= 86400).optional(),
};

export const sweepFlagsSchema = z.strictObject({
  config: path(),
  ...storeFlags,
  enqueueOnly: switchFlag.optional(),
  resume: switchFlag.optional(),
  maxCandidates: count(1, 10_000_000).optional(),
  ...jobFlags,
  dataDir: path().optional(),
  drain: switchFlag.optional(),
  json: switchFlag.optional(),
  replay: path().optional(),
});

const seconds = () => real('a number of seconds in (0, 86400]', (v) => v > 0 && v <= 86400);

export const workerFlagsSchema = z.strictObject({
  ...storeFlags,
  sweep: text('a sweep name', 200).optional(),
  ...jobFlags,
  heartbeat: seconds().optional(),
  staleAfter: seconds().optional(),
  dataDir: path().optional(),
  drain: switchFlag.optional(),
  json: switchFlag.optional(),
});

const readFlags = {
  sweep: text('a sweep name', 200).optional(),
  ...storeFlags,
};

export const reportFlagsSchema = z.strictObject({
  ...readFlags,
  objectives: objectives().optional(),
  json: switchFlag.optional(),
  format: oneOf('format', ['terminal', 'json', 'markdown']).optional(),
  out: path().optional(),
  notes: path().optional(),
  importance: switchFlag.optional(),
});

export const paretoExportFlagsSchema = z.strictObject({
  ...readFlags,
  format: oneOf('format', ['csv', 'json']).default('csv'),
  objectives: objectives().optional(),
  out: path().optional(),
  weights: path().optional(),
});

export const paretoPlotFlagsSchema = z.strictObject({
  ...readFlags,
  out: path(),
  x: oneOf('cost', ['macs', 'latency']).default('macs'),
});

export const exportFlagsSchema = z.strictObject({
  trial: count(1, Number.MAX_SAFE_INTEGER).optional(),
  load: path().optional(),
  format: oneOf('format', ['onnx']).default('onnx'),
  out: path(),
  /** --no-fold-bn sets it false */
  foldBn: switchFlag.default(true),
  ...storeFlags,
  json: switchFlag.optional(),
});

/** A comma-separated list of whole numbers in [min, max], repeats dropped (--batch 1,64). */
export function countList(min: number, max: number) {
  const what = `must be whole numbers in ${min}..${max}, comma-separated`;
  return z.string({ error: what }).transform((raw, ctx) => {
    const items = raw.split(',').map((s) => s.trim());
    const ns = items.map(Number);
    if (!items.every((s, i) => /^\d+$/.test(s) && Number.isSafeInteger(ns[i]) && ns[i]! >= min && ns[i]! <= max)) {
      ctx.addIssue({ code: 'custom', message: what, input: raw });
      return z.NEVER;
    }
    return [...new Set(ns)];
  });
}

export const latencyFlagsSchema = z.strictObject({
  model: MODEL(),
  variant: VARIANT().optional(),
  batch: countList(1, 65536),
  threads: count(1, 4096),
  /** the names are checked against the runtimes src/deploy knows */
  runtime: text('runtimes, comma-separated', 200),
  warmup: count(0, 1_000_000),
  reps: count(1, 1_000_000),
  inChannels: count(1, 4096),
  inputSize: count(1, 4096),
  classes: count(1, 100_000),
  json: switchFlag.optional(),
});

export const serveFlagsSchema = z.strictObject({
  ...storeFlags,
  host: text('an address to listen on', 255),
  port: count(0, 65535),
  token: text('a token of 16 to 200 characters of A-Z a-z 0-9 . _ ~ -', 200)
    .refine((t) => /^[A-Za-z0-9._~-]{16,200}$/.test(t), { error: 'must be 16 to 200 characters of A-Z a-z 0-9 . _ ~ -' })
    .optional(),
  open: switchFlag.optional(),
});

export const migrateFlagsSchema = z.strictObject({
  ...storeFlags,
  json: switchFlag.optional(),
});

export const doctorFlagsSchema = z.strictObject({
  json: switchFlag.optional(),
});

/** Every command's schema by its full name, for the test that holds them to commander's options. */
export const FLAG_SCHEMAS: Record<string, z.ZodObject> = {
  inspect: inspectFlagsSchema,
  train: trainFlagsSchema,
  evaluate: evaluateFlagsSchema,
  sweep: sweepFlagsSchema,
  worker: workerFlagsSchema,
  report: reportFlagsSchema,
  'pareto export': paretoExportFlagsSchema,
  'pareto plot': paretoPlotFlagsSchema,
  'store migrate': migrateFlagsSchema,
  doctor: doctorFlagsSchema,
  export: exportFlagsSchema,
  latency: latencyFlagsSchema,
  serve: serveFlagsSchema,
};

// ---------- zod issues -> one UsageError line ----------

/** `limitTrain` -> `--limit-train`; a few options are spelt differently from their key. */
const FLAG_SPELLING: Record<string, string> = { flip: '--flip/--no-flip' };

export function flagName(key: string): string {
  return FLAG_SPELLING[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** A user's value as it appears in a message: quoted, control characters escaped, shortened. */
export function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  const cut = s.length > 80 ? `${s.slice(0, 77)}...` : s;
  return JSON.stringify(cut);
}

function describe(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? String(issue.path[0]) : '';
  if (issue.code === 'unrecognized_keys') {
    return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(flagName).join(', ')}`;
  }
  const input = (issue as { input?: unknown }).input;
  const got = input === undefined ? '' : ` (got ${shown(input)})`;
  if (input === undefined && issue.code === 'invalid_type') return `${flagName(key)} is required (${issue.message})`;
  return `${flagName(key)}: ${issue.message}${got}`;
}

/**
 * Validate what commander parsed for one command against its schema. Returns the typed,
 * converted flags; throws a UsageError naming each bad flag (one line, issues joined by "; ").
 */
export function parseFlags<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw, { reportInput: true });
  if (r.success) return r.data;
  throw new UsageError(r.error.issues.map(describe).join('; '));
}
