// Conv-slot variants (README.md, Variants): parsing the "dw-scc:cg=2,co=0.5" notation
// (src/models/notation.ts formats it back) and resolving a user's choice against one slot's
// channel counts.
// A choice may leave the SCC channel stride `s` open (given as an overlap ratio `co`);
// resolving fixes `s` per slot, because the window width D = Cin/cg differs per slot.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { formatIssues, pathString } from '../issues.js';
import type { Variant, VariantChoice, VariantKind } from './spec.js';
import { formatVariant } from './notation.js';

/** Every variant kind, in the order help and errors list them (a tuple, for z.enum). */
export const VARIANT_KINDS = ['std', 'dw-pw', 'dw-gpw', 'dw-gpw-shuffle', 'gc-shuffle', 'dw-scc'] as const satisfies readonly VariantKind[];
// and no kind left out
type MissingKind = Exclude<VariantKind, (typeof VARIANT_KINDS)[number]>;
const noMissingKind: [MissingKind] extends [never] ? true : never = true;
void noMissingKind;

/** The accepted notations, for error messages and --help. */
export const VARIANT_FORMS = [
  'std',
  'dw-pw',
  'dw-gpw:cg=N',
  'dw-gpw-shuffle:cg=N',
  'gc-shuffle:g=N',
  'dw-scc:cg=N,co=R',
  'dw-scc:cg=N,s=K',
] as const;

/** What a resolver needs to know about a slot; Slot and SlotInfo both satisfy it. */
export interface SlotShape {
  index: number;
  name: string;
  inChannels: number;
  outChannels: number;
}

const posInt = z.number({ error: 'must be an integer >= 1' }).int({ error: 'must be an integer >= 1' }).min(1, { error: 'must be an integer >= 1' });
const overlap = z.number({ error: 'must be in [0, 1)' }).min(0, { error: 'must be in [0, 1)' }).lt(1, { error: 'must be in [0, 1)' });

/** The object form of a variant choice, for configs that give variants as JSON objects. */
export const variantChoiceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('std') }).strict(),
  z.object({ kind: z.literal('dw-pw') }).strict(),
  z.object({ kind: z.literal('dw-gpw'), cg: posInt }).strict(),
  z.object({ kind: z.literal('dw-gpw-shuffle'), cg: posInt }).strict(),
  z.object({ kind: z.literal('gc-shuffle'), g: posInt }).strict(),
  z
    .object({ kind: z.literal('dw-scc'), cg: posInt, s: posInt.optional(), co: overlap.optional() })
    .strict()
    .refine((v) => v.s !== undefined || v.co !== undefined, {
      message: 'dw-scc needs the channel stride s or the overlap ratio co',
    }),
]);

const PARAMS: Record<VariantKind, { required: string[]; optional: string[] }> = {
  std: { required: [], optional: [] },
  'dw-pw': { required: [], optional: [] },
  'dw-gpw': { required: ['cg'], optional: [] },
  'dw-gpw-shuffle': { required: ['cg'], optional: [] },
  'gc-shuffle': { required: ['g'], optional: [] },
  'dw-scc': { required: ['cg'], optional: ['s', 'co'] },
};

/** The kinds that take a channel-group count (`cg`, or `g` for gc-shuffle): a design space
 * gives them its `cg` choices. */
export const GROUPED_KINDS: readonly VariantKind[] = VARIANT_KINDS.filter((k) =>
  PARAMS[k].required.some((p) => p === 'cg' || p === 'g'),
);

/** A reference design: a variant a sweep trains in every slot to compare its candidates with. */
export type BaselineVariant = Exclude<Variant, { kind: 'dw-scc' }>;

/** The reference designs of a space with these channel-group choices: std, dw-pw, and
 * dw-gpw, dw-gpw-shuffle and gc-shuffle at each choice above 1 (at 1 they equal dw-pw and
 * std). dw-gpw-shuffle is what dw-scc computes at co = 0, so it is the reference that
 * isolates what overlap itself buys. */
export function baselineVariants(cgs: readonly number[] = []): BaselineVariant[] {
  const big = cgs.filter((g) => g > 1);
  return [
    { kind: 'std' },
    { kind: 'dw-pw' },
    ...big.map((cg): BaselineVariant => ({ kind: 'dw-gpw', cg })),
    ...big.map((cg): BaselineVariant => ({ kind: 'dw-gpw-shuffle', cg })),
    ...big.map((g): BaselineVariant => ({ kind: 'gc-shuffle', g })),
  ];
}

function badVariant(text: string, why: string): UsageError {
  return new UsageError(`invalid variant "${text}": ${why}; valid forms: ${VARIANT_FORMS.join(', ')}`);
}

/** Parse "std", "dw-pw", "dw-gpw:cg=4", "dw-gpw-shuffle:cg=4", "gc-shuffle:g=2", "dw-scc:cg=2,co=0.5", "dw-scc:cg=2,s=8". */
export function parseVariant(text: string): VariantChoice {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const kind = (colon < 0 ? trimmed : trimmed.slice(0, colon)).trim();
  if (!(VARIANT_KINDS as readonly string[]).includes(kind)) {
    throw badVariant(text, `unknown kind "${kind}"`);
  }
  const spec = PARAMS[kind as VariantKind];
  const values: Record<string, number> = {};
  const rest = colon < 0 ? '' : trimmed.slice(colon + 1).trim();
  if (rest !== '') {
    for (const part of rest.split(',')) {
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).trim();
      const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
      if (![...spec.required, ...spec.optional].includes(key)) {
        const allowed = [...spec.required, ...spec.optional];
        throw badVariant(text, allowed.length ? `${kind} takes ${allowed.join(', ')}, not "${key}"` : `${kind} takes no parameters`);
      }
      if (key in values) throw badVariant(text, `"${key}" given twice`);
      const num = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(num)) throw badVariant(text, `${key} must be a number, got "${raw}"`);
      values[key] = num;
    }
  }
  const parsed = variantChoiceSchema.safeParse({ kind, ...values }, { reportInput: true });
  if (!parsed.success) throw badVariant(text, formatIssues(parsed.error, { at: (path) => pathString(path) }, { first: true }));
  return parsed.data as VariantChoice;
}

/** s = clamp(D - round(co*D), 1, D). Halves round up; the 1e-9 keeps 0.35*10 (which is
 * 3.4999999999999996 in binary) rounding like the decimal 3.5 the user wrote. */
export function strideFromOverlap(co: number, d: number): number {
  const s = d - Math.round(co * d + 1e-9);
  return Math.min(d, Math.max(1, s));
}

/** Why `choice` cannot fill `slot`, or null when it can. Cheap: used on the fast cost path. */
export function slotProblem(slot: SlotShape, choice: VariantChoice): string | null {
  const cin = slot.inChannels;
  const cout = slot.outChannels;
  switch (choice.kind) {
    case 'std':
    case 'dw-pw':
      return null;
    case 'dw-gpw':
    case 'dw-gpw-shuffle':
      if (!(Number.isInteger(choice.cg) && choice.cg >= 1)) return `cg=${choice.cg} must be an integer >= 1`;
      if (cin % choice.cg !== 0) return `cg=${choice.cg} does not divide the input channels ${cin}`;
      if (cout % choice.cg !== 0) return `cg=${choice.cg} does not divide the output channels ${cout}`;
      return null;
    case 'gc-shuffle':
      if (!(Number.isInteger(choice.g) && choice.g >= 1)) return `g=${choice.g} must be an integer >= 1`;
      if (cin % choice.g !== 0) return `g=${choice.g} does not divide the input channels ${cin}`;
      if (cout % choice.g !== 0) return `g=${choice.g} does not divide the output channels ${cout}`;
      return null;
    case 'dw-scc': {
      const cg = choice.cg;
      if (!(Number.isInteger(cg) && cg >= 1)) return `cg=${cg} must be an integer >= 1`;
      if (cin % cg !== 0) return `cg=${cg} does not divide the input channels ${cin}`;
      const d = cin / cg;
      if (choice.co !== undefined && !(choice.co >= 0 && choice.co < 1)) return `co=${choice.co} is outside [0, 1)`;
      if (choice.s !== undefined) {
        if (!(Number.isInteger(choice.s) && choice.s >= 1 && choice.s <= d)) {
          return `s=${choice.s} is outside [1, D] with D = ${cin}/${cg} = ${d}`;
        }
        if (choice.co !== undefined && strideFromOverlap(choice.co, d) !== choice.s) {
          return `s=${choice.s} disagrees with co=${choice.co}, which gives s=${strideFromOverlap(choice.co, d)} at D = ${d}`;
        }
      } else if (choice.co === undefined) {
        return 'dw-scc needs the channel stride s or the overlap ratio co';
      }
      return null;
    }
    default:
      return `unknown variant kind "${(choice as { kind: string }).kind}"`;
  }
}

export function slotError(model: string, slot: SlotShape, choice: VariantChoice, why: string): UsageError {
  return new UsageError(
    `${model} slot ${slot.index} (${slot.name}, ${slot.inChannels}->${slot.outChannels} channels): ` +
      `${formatVariant(choice)} cannot fill it: ${why}`,
  );
}

/** The variant as stored in a spec: dw-scc gets its s for this slot (co kept when given). */
export function resolveVariant(model: string, slot: SlotShape, choice: VariantChoice): Variant {
  const why = slotProblem(slot, choice);
  if (why !== null) throw slotError(model, slot, choice, why);
  switch (choice.kind) {
    case 'std':
      return { kind: 'std' };
    case 'dw-pw':
      return { kind: 'dw-pw' };
    case 'dw-gpw':
    case 'dw-gpw-shuffle':
      return { kind: choice.kind, cg: choice.cg };
    case 'gc-shuffle':
      return { kind: 'gc-shuffle', g: choice.g };
    case 'dw-scc': {
      const d = slot.inChannels / choice.cg;
      const s = choice.s ?? strideFromOverlap(choice.co!, d);
      return choice.co !== undefined ? { kind: 'dw-scc', cg: choice.cg, s, co: choice.co } : { kind: 'dw-scc', cg: choice.cg, s };
    }
  }
}
