// Public face of the model zoo: builders, slot skeletons, variants, the spec hash.
export type * from './spec.js';
export { type SlotInfo } from './builder.js';
export {
  buildModel,
  slotsOf,
  listModels,
  describeModel,
  stemsOf,
  imagenetStemModels,
  STEMS,
  baselineVariant,
  modelOptions,
  DEFAULT_MODEL_OPTIONS,
  type ModelOptions,
  type BuildOptions,
  type SlotSkeleton,
} from './registry.js';
export {
  parseVariant,
  resolveVariant,
  slotProblem,
  slotError,
  strideFromOverlap,
  variantChoiceSchema,
  VARIANT_FORMS,
  VARIANT_KINDS,
  GROUPED_KINDS,
  baselineVariants,
  type BaselineVariant,
  type SlotShape,
} from './variant.js';
export { formatVariant, slotText, slotsText } from './notation.js';
export { specHash, canonicalJson } from './hash.js';
