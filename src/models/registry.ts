// The model zoo: names, build options, and the two entry points everything else uses:
// buildModel (a full ModelSpec with every slot's variant resolved) and slotsOf (the slot
// skeleton, for design-space enumeration and the fast cost path, cached per shape).
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { formatIssues, pathString } from '../issues.js';
import { SpecBuilder, type SlotInfo } from './builder.js';
import { buildCifarResnet, CIFAR_RESNET_MODELS } from './cifar-resnet.js';
import { buildMobilenet, MOBILENET_MODELS } from './mobilenet.js';
import { buildResnet, RESNET_MODELS } from './resnet.js';
import type { ModelSpec, Shape, Stem } from './spec.js';
import type { VariantChoice } from './spec.js';
import { resolveVariant } from './variant.js';
import { buildVgg, VGG_MODELS } from './vgg.js';

export interface ModelOptions {
  /** image channels (3 for CIFAR, 1 for MNIST) */
  inChannels: number;
  /** square input side in pixels (32 for CIFAR and padded MNIST) */
  inputSize: number;
  classes: number;
  /** the network's first layers (not a slot): cifar (default) or imagenet */
  stem: Stem;
}

export const STEMS: readonly Stem[] = ['cifar', 'imagenet'];

export const DEFAULT_MODEL_OPTIONS: ModelOptions = { inChannels: 3, inputSize: 32, classes: 10, stem: 'cifar' };

interface ModelEntry {
  /** description per stem the model has */
  description: Partial<Record<Stem, string>>;
  build: (b: SpecBuilder) => void;
  baseline: VariantChoice;
}

const STD: VariantChoice = { kind: 'std' };
const MODELS: Record<string, ModelEntry> = {};
for (const m of VGG_MODELS) {
  MODELS[m] = { description: { cifar: `CIFAR VGG-${m.slice(3)}, BN after every conv` }, build: (b) => buildVgg(b, m), baseline: STD };
}
for (const m of RESNET_MODELS) {
  const d = m.slice(6);
  MODELS[m] = {
    description: {
      cifar: `ResNet-${d}, 3x3 stem, projection shortcuts`,
      imagenet: `ResNet-${d} as torchvision, 7x7/2 stem and 3x3/2 max-pool, projection shortcuts`,
    },
    build: (b) => buildResnet(b, m),
    baseline: STD,
  };
}
for (const m of MOBILENET_MODELS) {
  MODELS[m] = {
    description: { cifar: 'MobileNetV1 for CIFAR, stride-1 stem', imagenet: 'MobileNetV1 as Howard et al., 3x3/2 stem' },
    build: (b) => buildMobilenet(b),
    baseline: { kind: 'dw-pw' },
  };
}
for (const m of CIFAR_RESNET_MODELS) {
  const d = m.slice(6);
  MODELS[m] = { description: { cifar: `He et al. CIFAR ResNet-${d}, option A shortcuts` }, build: (b) => buildCifarResnet(b, m), baseline: STD };
}

/** Model names, in zoo order. */
export function listModels(): string[] {
  return Object.keys(MODELS);
}

export function describeModel(name: string, stem: Stem = 'cifar'): string {
  return entry(name).description[stem] ?? entry(name).description.cifar!;
}

/** The stems a model can be built with. */
export function stemsOf(name: string): Stem[] {
  return STEMS.filter((s) => entry(name).description[s] !== undefined);
}

/** Models that have the imagenet stem. */
export function imagenetStemModels(): string[] {
  return listModels().filter((m) => MODELS[m]!.description.imagenet !== undefined);
}

/** The model's reference design: std, except MobileNetV1, which is dw-pw by construction. */
export function baselineVariant(name: string): VariantChoice {
  return entry(name).baseline;
}

function entry(name: string): ModelEntry {
  const e = MODELS[name];
  if (!e) throw new UsageError(`unknown model "${name}"; models: ${listModels().join(', ')}`);
  return e;
}

const wholeNumber = (max: number) => {
  const error = `must be a whole number in 1..${max}`;
  return z.number({ error }).int({ error }).min(1, { error }).max(max, { error });
};

const optionsSchema = z.object({
  inChannels: wholeNumber(4096),
  inputSize: wholeNumber(4096),
  classes: wholeNumber(1_000_000),
  stem: z.enum(STEMS, { error: `must be one of ${STEMS.join(', ')}` }),
});

/** Fill defaults and check ranges; a bad value is a UsageError naming the option. */
export function modelOptions(opts?: Partial<ModelOptions>): ModelOptions {
  const merged = { ...DEFAULT_MODEL_OPTIONS, ...stripUndefined(opts ?? {}) };
  const r = optionsSchema.safeParse(merged, { reportInput: true });
  if (!r.success) throw new UsageError(formatIssues(r.error, { at: (path) => pathString(path) || 'model options' }, { first: true }));
  return r.data;
}

function checkStem(name: string, stem: Stem): void {
  if (!stemsOf(name).includes(stem)) {
    throw new UsageError(`${name} has no ${stem} stem; the imagenet stem exists for: ${imagenetStemModels().join(', ')}`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The slot skeleton of a model at a given input shape: what is left to choose. */
export interface SlotSkeleton {
  model: string;
  options: ModelOptions;
  slots: SlotInfo[];
  /** stage numbers that hold at least one slot, ascending */
  stages: number[];
}

const skeletonCache = new Map<string, SlotSkeleton>();

export function slotsOf(name: string, opts?: Partial<ModelOptions>): SlotSkeleton {
  const e = entry(name);
  const o = modelOptions(opts);
  checkStem(name, o.stem);
  const key = `${name}|${o.inChannels}|${o.inputSize}|${o.classes}|${o.stem}`;
  let sk = skeletonCache.get(key);
  if (!sk) {
    const b = new SpecBuilder(name, [o.inChannels, o.inputSize, o.inputSize], o.classes, () => ({ kind: 'std' }), o.stem);
    e.build(b);
    const slots = b.slotInfos.map((s) => Object.freeze(s));
    const stages = [...new Set(slots.map((s) => s.stage))].sort((a, b2) => a - b2);
    sk = Object.freeze({ model: name, options: Object.freeze(o), slots: Object.freeze(slots) as SlotInfo[], stages });
    skeletonCache.set(key, sk);
  }
  return sk;
}

export interface BuildOptions extends Partial<ModelOptions> {
  /** one variant for every slot, or one per slot in slot order; default: the model's baseline */
  variants?: VariantChoice | readonly VariantChoice[];
}

/** The full model spec, every slot's variant resolved (dw-scc's s fixed per slot). */
export function buildModel(name: string, opts: BuildOptions = {}): ModelSpec {
  const e = entry(name);
  const o = modelOptions(opts);
  checkStem(name, o.stem);
  const variants = opts.variants ?? e.baseline;
  if (Array.isArray(variants)) {
    const count = slotsOf(name, o).slots.length;
    if (variants.length !== count) {
      throw new UsageError(`${name} has ${count} slots, but ${variants.length} variants were given`);
    }
  }
  const pick = (slot: SlotInfo) =>
    resolveVariant(name, slot, Array.isArray(variants) ? variants[slot.index]! : (variants as VariantChoice));
  const input: Shape = [o.inChannels, o.inputSize, o.inputSize];
  const b = new SpecBuilder(name, input, o.classes, pick, o.stem);
  e.build(b);
  return b.finish();
}
