// The sweep config: what a researcher writes to describe a design space, a budget and a
// training recipe. JSON or YAML; validated here and nowhere else, so the
// space, the runner and the store receive plain, trusted data. Every error names the
// field path and, where there is a closed set, the allowed values.
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { z } from 'zod';
import { createRequire } from 'node:module';
import { UsageError } from '../errors.js';
import { fieldNaming, formatIssues } from '../issues.js';
import { checkedBy, countField } from './rules.js';
import { datasetNames, parseDatasetRef } from '../data/index.js';
import {
  baselineVariants,
  formatVariant,
  GROUPED_KINDS,
  listModels,
  parseVariant,
  STEMS,
  stemsOf,
  VARIANT_KINDS,
  type VariantKind,
} from '../models/index.js';
import { recipeInputSchema, resolveRecipe } from './recipe.js';
import { OBJECTIVES } from '../pareto/objectives.js';

export const TIE_MODES = ['all', 'stage', 'slot'] as const;
export { OBJECTIVES };
export const SEARCH_KINDS = ['grid', 'random', 'evolutionary', 'model'] as const;
export const KEEP_WEIGHTS = ['all', 'front', 'none'] as const;

export type ObjectiveName = (typeof OBJECTIVES)[number];
export type TieMode = (typeof TIE_MODES)[number];

// counts are bounded: a count beyond 2^31-1 is a typo, never a plan
const posInt = countField(1, 2 ** 31 - 1);
const seedInt = countField(0, 2 ** 31 - 1);

function unique<T>(xs: T[]): boolean {
  return new Set(xs).size === xs.length;
}

const datasetSchema = z.strictObject({
  /** mnist, fashion-mnist, cifar10, cifar100[:labels=coarse], synthetic[:size=16,...], imagefolder:DIR */
  name: checkedBy((v) => parseDatasetRef(v)).describe(datasetNames.join(', ')),
  /** directory holding the dataset files (fashion-mnist, cifar10, cifar100) */
  dataDir: z.string().min(1).optional(),
  /** imagefolder: the side images are resized and centre-cropped to (default 224) */
  inputSize: countField(32, 1024).optional(),
  /** train on the first N training images only (quick sweeps) */
  limitTrain: posInt.optional(),
  /** evaluate on the first N test images only */
  limitTest: posInt.optional(),
  /** held out of the training set and used instead of the test set to rank candidates:
   * a fraction in (0,1) or a count of images */
  validation: z
    .number()
    .positive()
    .max(2 ** 31 - 1)
    .refine((v) => v < 1 || Number.isInteger(v), {
      message: 'must be a fraction in (0,1) or a whole number of images',
    })
    .optional(),
});

/** An option's identity for the repeat check: its canonical notation, or the text itself
 * when it does not parse (reported at its own index). */
function choiceKey(text: string): string {
  try {
    return formatVariant(parseVariant(text));
  } catch {
    return text;
  }
}

const spaceSchema = z
  .strictObject({
    /** variant kinds the search may put in a slot (default dw-scc), crossed with cg and co or s */
    variants: z
      .array(z.enum(VARIANT_KINDS))
      .min(1)
      .refine(unique, { message: 'must not repeat a kind' })
      .optional(),
    /** instead of variants x cg x co: the options themselves, in variant notation
     * ("dw-pw", "dw-gpw:cg=4", "dw-scc:cg=2,co=0.5"), for a space that is not a full cross */
    choices: z
      .array(checkedBy((v) => parseVariant(v)))
      .min(1)
      .refine((xs) => unique(xs.map(choiceKey)), { message: 'must not repeat an option' })
      .optional(),
    /** channel-group choices, for the kinds that take one (GROUPED_KINDS: cg, or g for gc-shuffle) */
    cg: z.array(posInt).min(1).refine(unique, { message: 'must not repeat a value' }).optional(),
    /** SCC overlap-ratio choices, each in [0,1); exclusive with `s` */
    co: z
      .array(z.number().min(0).lt(1))
      .min(1)
      .refine(unique, { message: 'must not repeat a value' })
      .optional(),
    /** SCC channel-stride choices; exclusive with `co` */
    s: z.array(posInt).min(1).refine(unique, { message: 'must not repeat a value' }).optional(),
    /** how slots share hyperparameters: one choice for the whole network, one per stage
     * (run of slots with the same output resolution), or one per slot */
    tie: z.enum(TIE_MODES).default('all'),
  })
  .superRefine((sp, ctx) => {
    if (sp.choices) {
      const crossed = (['variants', 'cg', 'co', 's'] as const).filter((k) => sp[k] !== undefined);
      if (crossed.length) {
        ctx.addIssue({
          code: 'custom',
          path: [crossed[0]],
          message: `give either choices (the options themselves) or variants/cg/co/s (crossed), not both; remove ${crossed.join(', ')}`,
        });
      }
      return;
    }
    if (sp.co && sp.s) {
      ctx.addIssue({
        code: 'custom',
        path: ['co'],
        message: 'give either co (overlap ratios) or s (channel strides), not both',
      });
    }
    const variants = sp.variants ?? ['dw-scc'];
    if (variants.includes('dw-scc') && !sp.co && !sp.s) {
      ctx.addIssue({
        code: 'custom',
        path: ['co'],
        message: 'dw-scc needs overlap ratios `co` (e.g. [0.25, 0.5]) or channel strides `s`',
      });
    }
    const grouped = variants.filter((k) => GROUPED_KINDS.includes(k));
    if (grouped.length > 0 && !sp.cg) {
      ctx.addIssue({
        code: 'custom',
        path: ['cg'],
        message: `${grouped.join(', ')} need channel-group choices \`cg\` (e.g. [1, 2, 4])`,
      });
    }
  })
  // the default kind is filled in after the checks (which must see whether variants was
  // given), and only for crossed spaces, so that configs written before `choices` keep
  // their validated form and hash
  .transform((sp) => (sp.choices ? sp : { ...sp, variants: sp.variants ?? (['dw-scc'] as VariantKind[]) }));

const constraintsSchema = z
  .strictObject({
    maxMacs: z.number().positive().optional(),
    minMacs: z.number().min(0).optional(),
    maxParams: z.number().positive().optional(),
  })
  .refine((c) => c.minMacs === undefined || c.maxMacs === undefined || c.minMacs <= c.maxMacs, {
    message: 'minMacs must not exceed maxMacs',
    path: ['minMacs'],
  });

const searchSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('grid') }),
  z.strictObject({
    kind: z.literal('random'),
    /** how many distinct candidates to draw */
    n: posInt,
    seed: seedInt.default(0),
  }),
  z.strictObject({
    kind: z.literal('evolutionary'),
    population: countField(4, 1_000_000),
    generations: posInt,
    /** per-unit mutation probability; default 1 / (number of tied units) */
    mutation: z.number().min(0).max(1).optional(),
    /** probability that two parents are crossed over (uniform, per unit) */
    crossover: z.number().min(0).max(1).default(0.9),
    seed: seedInt.default(0),
  }),
  z.strictObject({
    kind: z.literal('model'),
    /** how many distinct candidates in all, like random */
    n: posInt,
    seed: seedInt.default(0),
    /** random designs of the first round, before the model proposes (default: the batch,
     * or 2 x units + 2 when more) */
    initial: posInt.optional(),
    /** designs per later round (default 4; 4 x eta under successive halving): at least
     * --jobs x workers keeps every lane busy */
    batch: posInt.optional(),
    /** members of the bootstrap ensemble that models accuracy (default 16) */
    ensemble: z.number().int().min(1).max(256).optional(),
    /** designs scored per round (default 4000; all feasible ones when fewer) */
    pool: z.number().int().min(1).max(1_000_000).optional(),
  }),
]);

const multiFidelitySchema = z.strictObject({
  /** training epochs at each rung, increasing, e.g. [1, 3] */
  rungs: z
    .array(posInt)
    .min(2)
    .refine((r) => r.every((v, i) => i === 0 || v > r[i - 1]), {
      message: 'must be strictly increasing epoch counts, e.g. [1, 3]',
    }),
  /** keep the best 1/eta of each rung (by Pareto rank) for the next one */
  eta: z.number().gt(1).default(3),
  /** train only the first N of `seeds` at every rung but the last (default: all of them):
   * the rungs that only rank candidates need not pay for every seed */
  lowerRungSeeds: posInt.optional(),
});

export const sweepConfigSchema = z.strictObject({
  /** names the sweep in the store; letters, digits, '-', '_', '.' */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      message: "must start with a letter or digit and use only letters, digits, '.', '_' and '-'",
    }),
  model: z.string().refine((m) => listModels().includes(m), {
    error: () => `unknown model; allowed values: ${listModels().join(', ')}`,
  }),
  dataset: datasetSchema,
  /** the network's first layers: cifar (3x3 stride-1 conv) or imagenet (torchvision's 7x7/2 conv
   * and 3x3/2 max-pool for ResNets, 3x3/2 conv for MobileNetV1); absent means cifar, and
   * stays absent so that the identity of existing sweeps does not change */
  stem: z.enum(STEMS).optional(),
  /** the training recipe (src/config/recipe.ts); with multiFidelity, its epochs are replaced by the rungs */
  recipe: recipeInputSchema.default({}),
  space: spaceSchema,
  constraints: constraintsSchema.default({}),
  search: searchSchema,
  multiFidelity: multiFidelitySchema.optional(),
  seeds: z.array(seedInt).min(1).refine(unique, { message: 'must not repeat a seed' }).default([0]),
  objectives: z
    .array(z.enum(OBJECTIVES))
    .min(2)
    .max(3, { message: 'at most three objectives: accuracy and up to two of macs, params, latency' })
    .refine(unique, { message: 'must not repeat an objective' })
    .refine((o) => o.includes('accuracy'), { message: 'must include accuracy' })
    .default(['accuracy', 'macs']),
  /** true: every baseline of the space; a list: only these (e.g. to leave out baselines
   * too expensive for the budget); false: none */
  baselines: z
    .union([z.boolean(), z.array(z.string().min(1)).min(1).refine(unique, { message: 'must not repeat a baseline' })])
    .default(true),
  /** which trained weights stay in the store: every finished trial's ("all", the default),
   * only the Pareto front's once the sweep ends ("front"), or none. Optional rather than
   * defaulted, so that configs without it keep their hash on --resume. */
  keepWeights: z.enum(KEEP_WEIGHTS).optional(),
}).superRefine((c, ctx) => {
  if (Array.isArray(c.baselines)) {
    const known = baselineVariants(spaceGroups(c.space)).map(formatVariant);
    const bad = c.baselines.filter((b) => !known.includes(b));
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['baselines'],
        message: `unknown baseline${bad.length > 1 ? 's' : ''} ${bad.map((b) => JSON.stringify(b)).join(', ')}; this space's baselines: ${known.join(', ')}`,
      });
    }
  }
  const lower = c.multiFidelity?.lowerRungSeeds;
  if (lower !== undefined && lower > c.seeds.length) {
    ctx.addIssue({
      code: 'custom',
      path: ['multiFidelity', 'lowerRungSeeds'],
      message: `must be at most the number of seeds (${c.seeds.length})`,
    });
  }
  const rungs = c.multiFidelity?.rungs;
  if (rungs && c.recipe.epochs !== undefined && c.recipe.epochs !== rungs[rungs.length - 1]) {
    ctx.addIssue({
      code: 'custom',
      path: ['recipe', 'epochs'],
      message: `with multiFidelity the epochs come from multiFidelity.rungs (last rung ${rungs[rungs.length - 1]}); remove recipe.epochs or set it to ${rungs[rungs.length - 1]}`,
    });
  }
  // rules that span recipe fields and the dataset (warm-up within the epochs, crop
  // padding smaller than the image), checked now rather than at the first trial
  const epochs = rungs ? rungs[rungs.length - 1] : c.recipe.epochs;
  let ref;
  try {
    ref = parseDatasetRef(c.dataset.name, { inputSize: c.dataset.inputSize });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (c.dataset.inputSize !== undefined) ctx.addIssue({ code: 'custom', path: ['dataset', 'inputSize'], message: err.message });
    return; // otherwise reported at dataset.name already
  }
  try {
    stemsCheck(c.model, c.stem ?? 'cifar');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    ctx.addIssue({ code: 'custom', path: ['stem'], message: err.message });
  }
  try {
    resolveRecipe({ ...c.recipe, epochs }, ref, 'recipe');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    ctx.addIssue({ code: 'custom', path: [], message: err.message });
  }
});

function stemsCheck(model: string, stem: (typeof STEMS)[number]): void {
  if (!listModels().includes(model)) return; // reported at model
  if (!stemsOf(model).includes(stem)) {
    throw new UsageError(`${model} has no ${stem} stem; allowed values for ${model}: ${stemsOf(model).join(', ')}`);
  }
}

/** A validated sweep config, defaults filled in. */
export type SweepConfig = z.output<typeof sweepConfigSchema>;
export type SpaceConfig = SweepConfig['space'];

/** The channel-group counts a space uses (its cg list, or those its choices name): the
 * baselines are built at these. */
export function spaceGroups(sp: SpaceConfig): number[] {
  if (!sp.choices) return sp.cg ?? [];
  const out: number[] = [];
  for (const text of sp.choices) {
    const v = parseVariant(text);
    const g = 'cg' in v ? v.cg : 'g' in v ? v.g : undefined;
    if (g !== undefined && !out.includes(g)) out.push(g);
  }
  return out.sort((a, b) => a - b);
}
export type Constraints = SweepConfig['constraints'];
export type SearchConfig = SweepConfig['search'];
export type MultiFidelity = NonNullable<SweepConfig['multiFidelity']>;

/** Validate an already-parsed object; throws UsageError naming each bad field. */
export function parseSweepConfig(raw: unknown, source = 'sweep config'): SweepConfig {
  const r = sweepConfigSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new UsageError(`invalid ${source}: ${formatIssues(r.error, fieldNaming(sweepConfigSchema))}`);
  return r.data;
}

// YAML aliases may point at each other; more than this many is an alias bomb (a few lines
// that expand into gigabytes), refused before it is expanded.
const MAX_YAML_ALIASES = 100;
/** A config is a few kilobytes; anything this big is a mistake (and would be slow to parse). */
export const MAX_CONFIG_BYTES = 1 << 20;

const MAX_NESTING = 256;

// yaml is loaded on the first YAML config, not at every start of the CLI (~130 ms)
let yamlParse: typeof import('yaml').parse | undefined;
function parseYaml(text: string, options: import('yaml').ParseOptions & import('yaml').DocumentOptions & import('yaml').SchemaOptions & import('yaml').ToJSOptions): unknown {
  yamlParse ??= (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse;
  return yamlParse(text, options);
}

/** The deepest nesting of [ and { outside quoted strings (JSON, and YAML's flow style). */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return max;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/** Parse JSON or YAML text (YAML is a superset of JSON; the extension only picks the
 * error wording). */
export function parseSweepConfigText(text: string, source = 'sweep config'): SweepConfig {
  const json = source.toLowerCase().endsWith('.json');
  // a config is a few levels deep; thousands of nested brackets would only make the parser
  // recurse for seconds before giving up
  if (flowDepth(text) > MAX_NESTING) {
    throw new UsageError(`${source}: not valid ${json ? 'JSON' : 'YAML'}: nested too deeply (more than ${MAX_NESTING} levels)`);
  }
  let raw: unknown;
  try {
    raw = json ? JSON.parse(text) : parseYaml(text, { maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    const why =
      err instanceof RangeError || /maximum call stack/i.test((err as Error).message)
        ? 'nested too deeply'
        : /alias/i.test((err as Error).message)
          ? `more than ${MAX_YAML_ALIASES} alias expansions (an alias bomb?)`
          : firstLine((err as Error).message);
    throw new UsageError(`${source}: not valid ${json ? 'JSON' : 'YAML'}: ${why}`);
  }
  return parseSweepConfig(raw, source);
}

/** Read and validate a sweep config file (.json, .yaml or .yml, UTF-8). */
export function loadSweepConfig(path: string): SweepConfig {
  const ext = extname(path).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    throw new UsageError(`${path}: a sweep config must be a .json, .yaml or .yml file`);
  }
  let bytes: Uint8Array;
  try {
    if (statSync(path).size > MAX_CONFIG_BYTES) {
      throw new UsageError(`${path}: a sweep config is at most ${MAX_CONFIG_BYTES} bytes; this is not one`);
    }
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read sweep config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${path}: not UTF-8 text (byte ${firstBadUtf8(bytes)} is not valid UTF-8); save the config as UTF-8`);
  }
  return parseSweepConfigText(text, path);
}

/** Offset of the first byte that breaks UTF-8, for the message. */
function firstBadUtf8(b: Uint8Array): number {
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    try {
      if (n === 0 || i + n > b.length) return i;
      dec.decode(b.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return b.length;
}
