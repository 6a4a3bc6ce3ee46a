// The fast cost path for design-space search: a model's cost splits into a fixed part (stem,
// architecture BN/ReLU, shortcuts, classifier) and one closed-form term per slot that depends
// only on the slot's variant. Compiled once per (model, input shape), a candidate then costs
// one small loop over its slots, with no spec built.
import { UsageError } from '../errors.js';
import { buildModel, slotsOf, type ModelOptions, type SlotInfo, type SlotSkeleton } from '../models/index.js';
import { slotError, slotProblem, type VariantChoice } from '../models/index.js';
import { countCost, type CostTotals } from './count.js';

/** Params and MACs of the layers a variant puts in one slot (README.md, Variants). */
export function slotCost(slot: SlotInfo, v: VariantChoice): { params: number; macs: number } {
  const cin = slot.inChannels;
  const cout = slot.outChannels;
  const px = slot.outSize * slot.outSize;
  let w: number; // weights of the layers whose MACs are weights * output pixels
  let bn = 0; // the depthwise conv's own BN
  switch (v.kind) {
    case 'std':
      w = 9 * cin * cout;
      break;
    case 'dw-pw':
      w = 9 * cin + cin * cout;
      bn = 2 * cin;
      break;
    case 'dw-gpw':
    case 'dw-gpw-shuffle': // the shuffle only moves data: no params, no MACs
      w = 9 * cin + (cin / v.cg) * cout;
      bn = 2 * cin;
      break;
    case 'gc-shuffle':
      w = (9 * cin * cout) / v.g;
      break;
    case 'dw-scc':
      w = 9 * cin + (cin / v.cg) * cout;
      bn = 2 * cin;
      break;
  }
  return { params: w + bn, macs: w * px };
}

export interface CompiledCost {
  skeleton: SlotSkeleton;
  /** everything outside the slots */
  fixed: { params: number; macs: number };
  /** cost of one candidate: one variant for all slots, or one per slot; throws a UsageError
   * naming the slot when a variant cannot fill it */
  cost(variants: VariantChoice | readonly VariantChoice[]): CostTotals;
  /** like cost, but returns null instead of throwing on an invalid assignment */
  tryCost(variants: VariantChoice | readonly VariantChoice[]): CostTotals | null;
}

const compiled = new Map<string, CompiledCost>();

export function compileCost(model: string, opts?: Partial<ModelOptions>): CompiledCost {
  const skeleton = slotsOf(model, opts);
  const o = skeleton.options;
  const key = `${model}|${o.inChannels}|${o.inputSize}|${o.classes}`;
  const hit = compiled.get(key);
  if (hit) return hit;

  // the fixed part is counted from a real spec, by the per-layer rules, so the two paths
  // share nothing but the spec's layer list
  const full = countCost(buildModel(model, { ...o, variants: { kind: 'std' } }));
  const fixed = { params: 0, macs: 0 };
  for (const l of full.layers) {
    if (l.slot === undefined) {
      fixed.params += l.params;
      fixed.macs += l.macs;
    }
  }
  const slots = skeleton.slots;
  const n = slots.length;

  function run(variants: VariantChoice | readonly VariantChoice[], strict: boolean): CostTotals | null {
    const many = Array.isArray(variants);
    if (many && variants.length !== n) {
      if (!strict) return null;
      throw slotCountError(model, n, variants.length);
    }
    let params = fixed.params;
    let macs = fixed.macs;
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!;
      const v = many ? (variants as readonly VariantChoice[])[i]! : (variants as VariantChoice);
      if (v.kind !== 'std' && v.kind !== 'dw-pw') {
        const why = slotProblem(slot, v);
        if (why !== null) {
          if (!strict) return null;
          throw slotError(model, slot, v, why);
        }
      }
      const c = slotCost(slot, v);
      params += c.params;
      macs += c.macs;
    }
    return { params, macs, flops: 2 * macs };
  }

  const result: CompiledCost = {
    skeleton,
    fixed,
    cost: (variants) => run(variants, true)!,
    tryCost: (variants) => run(variants, false),
  };
  compiled.set(key, result);
  return result;
}

function slotCountError(model: string, n: number, got: number): UsageError {
  return new UsageError(`${model} has ${n} slots, but ${got} variants were given`);
}

/** Cost of a candidate from the slot skeleton, without building its spec. */
export function costFromSlots(
  model: string,
  opts: Partial<ModelOptions> | undefined,
  variants: VariantChoice | readonly VariantChoice[],
): CostTotals {
  return compileCost(model, opts).cost(variants);
}
