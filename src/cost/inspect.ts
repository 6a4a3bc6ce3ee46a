// `dsxplore inspect`'s figures: one model with one slot variant, layer by layer, with its
// analytic cost and the reduction against the same model built with `std` convs in every slot.
import { baselineVariant, buildModel, formatVariant, parseVariant, specHash } from '../models/index.js';
import type { ModelSpec, Stem, VariantChoice } from '../models/index.js';
import { countCost, layerKind, type LayerCost } from './count.js';

export interface InspectResult {
  model: string;
  stem: Stem;
  variant: string;
  inputShape: ModelSpec['inputShape'];
  classes: number;
  hash: string;
  params: number;
  macs: number;
  flops: number;
  std: { params: number; macs: number; flops: number };
  reduction: { params: number; macs: number };
  slots: { index: number; name: string; inChannels: number; outChannels: number; stride: number; variant: string }[];
  layers: (LayerCost & { kind: string })[];
}

/** What `inspect` shows of one model: built with the variant (the model's baseline without
 * one; "a;b;c" gives each slot its own, in slot order), its cost layer by layer and against
 * the same model with std convs in every slot. */
export function inspectModel(flags: {
  model: string;
  variant?: string;
  inChannels: number;
  inputSize: number;
  classes: number;
  stem: Stem;
}): InspectResult {
  const opts = { inChannels: flags.inChannels, inputSize: flags.inputSize, classes: flags.classes, stem: flags.stem };
  const choice: VariantChoice | VariantChoice[] =
    flags.variant === undefined
      ? baselineVariant(flags.model)
      : flags.variant.includes(';')
        ? flags.variant.split(';').map(parseVariant)
        : parseVariant(flags.variant);
  const spec = buildModel(flags.model, { ...opts, variants: choice });
  const cost = countCost(spec);
  const std = countCost(buildModel(flags.model, { ...opts, variants: { kind: 'std' } }));
  return {
    model: flags.model,
    stem: opts.stem,
    variant: Array.isArray(choice) ? choice.map(formatVariant).join(';') : formatVariant(choice),
    inputShape: spec.inputShape,
    classes: spec.classes,
    hash: specHash(spec),
    params: cost.params,
    macs: cost.macs,
    flops: cost.flops,
    std: { params: std.params, macs: std.macs, flops: std.flops },
    reduction: { params: cost.params / std.params, macs: cost.macs / std.macs },
    slots: spec.slots.map((s) => ({
      index: s.index,
      name: s.name,
      inChannels: s.inChannels,
      outChannels: s.outChannels,
      stride: s.stride,
      variant: s.variant.kind === 'dw-scc' ? `dw-scc:cg=${s.variant.cg},s=${s.variant.s}` : formatVariant(s.variant),
    })),
    layers: cost.layers.map((l, i) => ({ ...l, kind: layerKind(spec.layers[i]!) })),
  };
}
