// The training recipe: a zod schema of what a user may write (in a sweep
// config's `recipe` or as `dsxplore train` flags), the defaults that fill the rest, and the
// resolution into the plain TrainRecipe the engine trusts. Defaults that depend on the
// dataset (crop padding, flip) come from the dataset registry, so a digit dataset never
// gets flipped unless asked to.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { fieldNaming, formatIssues } from '../issues.js';
import { countField, realField } from './rules.js';
import type { LrSchedule, TrainRecipe } from '../engine/types.js';
import { datasetInfo, type DatasetInfo, type DatasetRef } from '../data/index.js';

export const SCHEDULE_KINDS = ['constant', 'cosine', 'step'] as const;

/** Defaults that do not depend on the dataset. */
export const RECIPE_DEFAULTS = {
  epochs: 1,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  nesterov: false,
  weightDecay: 5e-4,
  decayBnAndBias: false,
  schedule: 'cosine' as const,
  warmupEpochs: 0,
  seed: 0,
  threads: 0,
  stepGamma: 0.1,
};

// config fields take numbers, not their spelling (the train flags are converted by recipeFromFlags)
const count = (what: string, min: number, max: number) => countField(min, max, what);
const real = realField;
const bool = z.boolean({ error: 'must be true or false' });

const stepSchema = z.strictObject({
  kind: z.literal('step'),
  /** epochs (fractions allowed) at which the learning rate is multiplied by gamma */
  milestones: z.array(real('a number >= 0', (v) => v >= 0), { error: 'must be a list of epochs' }).optional(),
  gamma: real('a number in (0, 1]', (v) => v > 0 && v <= 1).optional(),
});

const scheduleSchema = z.union(
  [
    z.enum(SCHEDULE_KINDS),
    z.strictObject({ kind: z.literal('constant') }),
    z.strictObject({ kind: z.literal('cosine') }),
    stepSchema,
  ],
  {
    error: `must be one of ${SCHEDULE_KINDS.map((k) => `"${k}"`).join(', ')} or {"kind": "step", "milestones": [epochs...], "gamma": 0.1}`,
  },
);

/** What a user may write; every field optional, unknown fields rejected. */
export const recipeInputSchema = z.strictObject({
  epochs: count('an integer >= 1', 1, 100000).optional(),
  batchSize: count('an integer in 1..65536', 1, 65536).optional(),
  lr: real('a number > 0', (v) => v > 0).optional(),
  momentum: real('a number in [0, 1)', (v) => v >= 0 && v < 1).optional(),
  nesterov: bool.optional(),
  weightDecay: real('a number >= 0', (v) => v >= 0).optional(),
  decayBnAndBias: bool.optional(),
  schedule: scheduleSchema.optional(),
  warmupEpochs: real('a number of epochs >= 0', (v) => v >= 0).optional(),
  seed: count('an integer in 0..2147483647', 0, 2 ** 31 - 1).optional(),
  threads: count('an integer >= 0 (0 = all cores)', 0, 4096).optional(),
  augment: z
    .strictObject({
      cropPadding: count('an integer in 0..128 (pixels, 0 = no random crop)', 0, 128).optional(),
      flip: bool.optional(),
      /** random-resized crop instead of the padded crop: the smallest fraction of the image
       * area a crop may cover (torchvision's RandomResizedCrop scale, e.g. 0.08 or 0.35) */
      resizedCropScale: real('a number in (0, 1] (smallest crop area fraction)', (v) => v > 0 && v <= 1).optional(),
    })
    .optional(),
});

export type RecipeInput = z.input<typeof recipeInputSchema>;

function resolveSchedule(s: RecipeInput['schedule'], epochs: number): LrSchedule {
  const kind = s === undefined ? RECIPE_DEFAULTS.schedule : typeof s === 'string' ? s : s.kind;
  if (kind !== 'step') return { kind };
  const obj = typeof s === 'object' && s.kind === 'step' ? s : undefined;
  // the customary halfway and three-quarter points when no milestones are given
  const milestones = obj?.milestones ?? [Math.round(epochs * 0.5), Math.round(epochs * 0.75)].filter((m) => m > 0);
  const gamma = obj?.gamma ?? RECIPE_DEFAULTS.stepGamma;
  return { kind: 'step', milestones: [...milestones], gamma };
}

/**
 * Validate a recipe input (from a config file or merged CLI flags) and fill the defaults.
 * `where` prefixes field names in errors (e.g. "recipe" or "sweep.recipe").
 */
export function resolveRecipe(
  input: unknown,
  dataset: string | DatasetRef | DatasetInfo,
  where = 'recipe',
  rename?: (path: string) => string,
): TrainRecipe {
  const parsed = recipeInputSchema.safeParse(input ?? {}, { reportInput: true });
  if (!parsed.success) {
    const names = fieldNaming(recipeInputSchema, where, 'recipe');
    const at = (path: readonly PropertyKey[]) => (rename ? rename(names.at(path)) : names.at(path));
    throw new UsageError(formatIssues(parsed.error, { ...names, at }));
  }
  const r = parsed.data;
  const info = typeof dataset === 'object' && 'shape' in dataset ? dataset : datasetInfo(dataset);
  const epochs = r.epochs ?? RECIPE_DEFAULTS.epochs;
  const recipe: TrainRecipe = {
    epochs,
    batchSize: r.batchSize ?? RECIPE_DEFAULTS.batchSize,
    lr: r.lr ?? RECIPE_DEFAULTS.lr,
    momentum: r.momentum ?? RECIPE_DEFAULTS.momentum,
    nesterov: r.nesterov ?? RECIPE_DEFAULTS.nesterov,
    weightDecay: r.weightDecay ?? RECIPE_DEFAULTS.weightDecay,
    decayBnAndBias: r.decayBnAndBias ?? RECIPE_DEFAULTS.decayBnAndBias,
    schedule: resolveSchedule(r.schedule, epochs),
    warmupEpochs: r.warmupEpochs ?? RECIPE_DEFAULTS.warmupEpochs,
    seed: r.seed ?? RECIPE_DEFAULTS.seed,
    threads: r.threads ?? RECIPE_DEFAULTS.threads,
    augment: {
      // a resized crop replaces the padded one unless padding is asked for too
      cropPadding: r.augment?.cropPadding ?? (r.augment?.resizedCropScale !== undefined ? 0 : info.cropPadding),
      flip: r.augment?.flip ?? info.flipByDefault,
      ...(r.augment?.resizedCropScale !== undefined ? { resizedCropScale: r.augment.resizedCropScale } : {}),
    },
  };
  const name = (field: string) => {
    const p = `${where}.${field}`;
    return rename ? rename(p) : p;
  };
  if (recipe.warmupEpochs > recipe.epochs) {
    throw new UsageError(`${name('warmupEpochs')}: must not exceed epochs (${recipe.epochs}), got ${recipe.warmupEpochs}`);
  }
  if (recipe.schedule.kind === 'step') {
    const ms = recipe.schedule.milestones;
    for (let i = 1; i < ms.length; i++) {
      if (ms[i]! <= ms[i - 1]!) {
        throw new UsageError(`${name('schedule.milestones')}: must be increasing, got [${ms.join(', ')}]`);
      }
    }
  }
  if (recipe.augment.cropPadding > 0 && recipe.augment.cropPadding >= info.shape[1]) {
    throw new UsageError(
      `${name('augment.cropPadding')}: must be smaller than the image size ${info.shape[1]}, got ${recipe.augment.cropPadding}`,
    );
  }
  return recipe;
}

/** Recipe-related CLI flags as commander hands them over (strings, or booleans for switches). */
export interface RecipeFlags {
  epochs?: string | number;
  batchSize?: string | number;
  lr?: string | number;
  momentum?: string | number;
  nesterov?: boolean;
  weightDecay?: string | number;
  decayBnAndBias?: boolean;
  schedule?: string;
  milestones?: string;
  gamma?: string | number;
  warmup?: string | number;
  seed?: string | number;
  threads?: string | number;
  cropPadding?: string | number;
  flip?: boolean;
  resizedCrop?: string | number;
}

/** Map recipe field paths back to the flag a CLI user typed, so errors name the flag. */
const FLAG_OF: Record<string, string> = {
  'recipe.epochs': '--epochs',
  'recipe.batchSize': '--batch-size',
  'recipe.lr': '--lr',
  'recipe.momentum': '--momentum',
  'recipe.nesterov': '--nesterov',
  'recipe.weightDecay': '--weight-decay',
  'recipe.decayBnAndBias': '--decay-bn-bias',
  'recipe.schedule': '--schedule',
  'recipe.schedule.milestones': '--milestones',
  'recipe.schedule.gamma': '--gamma',
  'recipe.warmupEpochs': '--warmup',
  'recipe.seed': '--seed',
  'recipe.threads': '--threads',
  'recipe.augment.cropPadding': '--crop-padding',
  'recipe.augment.flip': '--flip/--no-flip',
  'recipe.augment.resizedCropScale': '--resized-crop',
};

function num(v: string | number | undefined): number | string | undefined {
  if (v === undefined || typeof v === 'number') return v;
  const t = v.trim();
  const n = Number(t);
  // keep the raw string when it is not a number, so validation reports it as such
  return t !== '' && Number.isFinite(n) ? n : v;
}

/**
 * Merge CLI flags over a base recipe input (e.g. from --recipe FILE) and resolve it.
 * Flags win over the base; errors name the flag (e.g. "--lr: must be a number > 0").
 */
export function recipeFromFlags(
  flags: RecipeFlags,
  dataset: string | DatasetRef | DatasetInfo,
  base: RecipeInput = {},
): TrainRecipe {
  const input: Record<string, unknown> = { ...base };
  const set = (key: string, v: unknown) => {
    if (v !== undefined) input[key] = v;
  };
  set('epochs', num(flags.epochs));
  set('batchSize', num(flags.batchSize));
  set('lr', num(flags.lr));
  set('momentum', num(flags.momentum));
  set('nesterov', flags.nesterov);
  set('weightDecay', num(flags.weightDecay));
  set('decayBnAndBias', flags.decayBnAndBias);
  set('warmupEpochs', num(flags.warmup));
  set('seed', num(flags.seed));
  set('threads', num(flags.threads));
  if (flags.schedule !== undefined || flags.milestones !== undefined || flags.gamma !== undefined) {
    const kind = flags.schedule ?? (typeof base.schedule === 'string' ? base.schedule : base.schedule?.kind) ?? 'step';
    if (kind === 'step') {
      const prev = typeof base.schedule === 'object' && base.schedule.kind === 'step' ? base.schedule : {};
      const step: Record<string, unknown> = { ...prev, kind: 'step' };
      if (flags.milestones !== undefined) {
        const ms = flags.milestones.split(',').map((m) => num(m));
        if (!ms.every((m) => typeof m === 'number')) {
          throw new UsageError(`--milestones: must be epochs >= 0 separated by commas, e.g. 30,45 (got ${JSON.stringify(flags.milestones)})`);
        }
        step.milestones = ms;
      }
      if (flags.gamma !== undefined) {
        step.gamma = num(flags.gamma);
        if (typeof step.gamma !== 'number') throw new UsageError(`--gamma: must be a number in (0, 1] (got ${JSON.stringify(flags.gamma)})`);
      }
      input.schedule = step;
    } else {
      if (flags.milestones !== undefined || flags.gamma !== undefined) {
        throw new UsageError(`--milestones and --gamma need --schedule step (got --schedule ${kind})`);
      }
      input.schedule = kind;
    }
  }
  if (flags.cropPadding !== undefined || flags.flip !== undefined || flags.resizedCrop !== undefined) {
    const augment: Record<string, unknown> = { ...(base.augment ?? {}) };
    if (flags.cropPadding !== undefined) augment.cropPadding = num(flags.cropPadding);
    if (flags.flip !== undefined) augment.flip = flags.flip;
    if (flags.resizedCrop !== undefined) augment.resizedCropScale = num(flags.resizedCrop);
    input.augment = augment;
  }
  return resolveRecipe(input, dataset, 'recipe', (p) => {
    const flag = FLAG_OF[p.replace(/\[\d+\]$/, '')]; // recipe.schedule.milestones[0] -> --milestones
    return flag ? flag : p;
  });
}
