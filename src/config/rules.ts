// The validation rules flags and config files share, each written once: counts, reals,
// paths, printable text, closed sets, values another module checks, --device, lists of
// counts, objectives. A flag's value arrives as a string; a config field's as JSON, so the
// number rules take both forms for flags and numbers only (`{ strings: false }`) for
// configs. Each rule words its own message ("must be a whole number in 1..64"); where the
// value is named (`--jobs`, `recipe.epochs`) is left to the formatter (src/issues.ts).
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { preview } from '../issues.js';
import { datasetInfo, parseDatasetRef } from '../data/index.js';
import { listModels, parseVariant, STEMS } from '../models/index.js';
import { OBJECTIVES } from '../pareto/objectives.js';

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

const COUNT_SYNTAX = /^\d+$/;
const REAL_SYNTAX = /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const isCount = (min: number, max: number) => (n: number) => Number.isSafeInteger(n) && n >= min && n <= max;

/** A flag's number: its text (or the number itself), spelt plainly, finite and `ok`. */
function fromText(message: string, syntax: RegExp, ok: (n: number) => boolean) {
  return z.union([z.string(), z.number()], { error: message }).transform((raw, ctx) => {
    const s = typeof raw === 'number' ? String(raw) : raw.trim();
    const n = typeof raw === 'number' ? raw : Number(s);
    if ((typeof raw === 'string' && !syntax.test(s)) || !Number.isFinite(n) || !ok(n)) {
      ctx.addIssue({ code: 'custom', message, input: raw });
      return z.NEVER;
    }
    return n;
  });
}

/** A config field's number: a JSON number (not its spelling), finite and `ok`. A
 * refinement, not a transform: its issue does not abort, so a union (a recipe's schedule)
 * still tells which of its members came closest. */
function field(message: string, ok: (n: number) => boolean) {
  return z.number({ error: message }).refine((n) => Number.isFinite(n) && ok(n), { error: message });
}

/** The one rule for counts: a whole number in [min, max] (a flag's text). */
export function count(min: number, max: number, what = `a whole number in ${min}..${max}`) {
  return fromText(`must be ${what}`, COUNT_SYNTAX, isCount(min, max));
}

/** The same count as a config field. */
export function countField(min: number, max: number, what = `a whole number in ${min}..${max}`) {
  return field(`must be ${what}`, isCount(min, max));
}

/** A finite decimal number with a stated condition (e.g. seconds > 0), as a flag's text. */
export function real(what: string, ok: (v: number) => boolean) {
  return fromText(`must be ${what}`, REAL_SYNTAX, ok);
}

/** The same number as a config field. */
export function realField(what: string, ok: (v: number) => boolean) {
  return field(`must be ${what}`, ok);
}

/** A count of images, or a fraction in (0,1) of them (--validation). */
export function countOrFraction(max: number) {
  return real(`a whole number in 1..${max} or a fraction in (0,1)`, (v) => v > 0 && (v < 1 || (Number.isInteger(v) && v <= max)));
}

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

/** A comma-separated list of names from a closed set, repeats dropped (--runtime native,onnxruntime). */
export function namesOf<const V extends string>(plural: string, values: readonly V[]) {
  return text(`${plural}, comma-separated`, 200).transform((raw, ctx): V[] => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((i) => !(values as readonly string[]).includes(i));
    if (items.length === 0 || bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: items.length ? `unknown ${bad.join(', ')}; allowed values: ${values.join(', ')}` : 'needs at least one value',
      });
      return z.NEVER;
    }
    return [...new Set(items)] as V[];
  });
}

/** A number of seconds in (0, 86400]. */
export const seconds = () => real('a number of seconds in (0, 86400]', (v) => v > 0 && v <= 86400);

export const MAX_PATH_LENGTH = 4096;

/** The one rule for file and folder paths: non-empty, no NUL byte, at most 4096 characters. */
export function path() {
  const what = `must be a file path (not empty, no NUL byte, at most ${MAX_PATH_LENGTH} characters)`;
  return z.string({ error: what }).refine((p) => p.length > 0 && p.length <= MAX_PATH_LENGTH && !p.includes('\0'), { error: what });
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
      ctx.addIssue({ code: 'custom', message: `unknown ${noun} ${preview(v)}; ${allowed}` });
      return z.NEVER;
    }
    return v as V;
  });
}

/** A value another module knows how to check (a variant, a dataset reference): its
 * UsageError becomes the issue, so the message names the flag or field. `text` bounds the
 * string first (flags); without it any string is handed to the check. */
export function checkedBy(check: (v: string) => unknown, text?: z.ZodType<string, string>) {
  return (text ?? z.string()).superRefine((v, ctx) => {
    try {
      check(v);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });
}

export const SWITCH = z.boolean({ error: 'is a switch and takes no value' });

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

// ---------- the vocabulary of models and datasets ----------

const MAX_IMAGE_SIDE = 4096;

/** A model of the zoo. */
export const model = () => oneOf('model', listModels());
/** The network's first layers (the stem is not a slot). */
export const stem = () => oneOf('stem', STEMS);
/** One variant, or (inspect) one per slot separated by ";". */
export const variant = () => checkedBy((v) => v.split(';').forEach(parseVariant), text('a variant', 100_000));
/** A dataset reference whose images a model can take. */
export const dataset = () =>
  checkedBy((v) => {
    const { shape } = datasetInfo(parseDatasetRef(v));
    if (shape.some((d) => d > MAX_IMAGE_SIDE)) {
      throw new UsageError(`images of ${shape.join('x')} are larger than any model takes (${MAX_IMAGE_SIDE} pixels a side, 4096 channels)`);
    }
  }, text('a dataset name', 1024));
