// A design space: the model's conv slots grouped into tied "units" (one unit for the whole
// network, one per stage, or one per slot), and for each unit the variant choices that fit
// every slot in it. A point of the space (a "genome") picks one option per unit. The size
// is the product of the option counts; each option carries its summed slot cost, so the
// cost of a point is base + one addition per unit (the fast path constraints use).
import { UsageError } from '../errors.js';
import type { Constraints, SpaceConfig, TieMode } from '../config/sweep.js';
import type { SlotInfo } from '../models/builder.js';
import type { ModelSpec, Variant, VariantChoice } from '../models/spec.js';
import { formatVariant } from '../models/notation.js';
import { parseVariant, resolveVariant, slotProblem } from '../models/variant.js';
import { slotCost } from '../cost/fast.js';

export interface Cost {
  macs: number;
  params: number;
}

/** What the space needs from the model zoo and cost model; src/space/model.ts provides the
 * real one, tests may pass a stand-in. */
export interface ModelAccess {
  model: string;
  slots: readonly SlotInfo[];
  /** the full spec with one variant per slot, in slot order */
  build(variants: readonly Variant[]): ModelSpec;
  hash(spec: ModelSpec): string;
  /** exact analytic cost of a built spec */
  cost(spec: ModelSpec): Cost;
  /** cost of everything outside the slots (stem, BN after slots, shortcuts, classifier) */
  fixed: Cost;
}

export interface UnitOption {
  choice: VariantChoice;
  /** e.g. "dw-scc:cg=2,co=0.5" */
  label: string;
  /** resolved variant of each slot of the unit, in the unit's slot order */
  variants: Variant[];
  macs: number;
  params: number;
}

export interface Unit {
  /** "all", "stage2" or the slot's name */
  name: string;
  slots: number[];
  options: UnitOption[];
}

export interface Space {
  model: string;
  tie: TieMode;
  slots: readonly SlotInfo[];
  units: Unit[];
  /** cost of everything outside the slots (stem, BN after slots, shortcuts, classifier) */
  base: Cost;
  constraints: Constraints;
  /** number of points (distinct designs), exact */
  size: bigint;
}

/** One option index per unit. */
export type Genome = number[];

/** The variant choices a space config allows, before matching them to slots. */
export function spaceChoices(sp: SpaceConfig): VariantChoice[] {
  if (sp.choices) return sp.choices.map((text) => parseVariant(text));
  const out: VariantChoice[] = [];
  const cgs = sp.cg ?? [];
  for (const kind of sp.variants ?? []) {
    switch (kind) {
      case 'std':
      case 'dw-pw':
        out.push({ kind });
        break;
      case 'dw-gpw':
      case 'dw-gpw-shuffle':
        for (const cg of cgs) out.push({ kind, cg });
        break;
      case 'gc-shuffle':
        for (const g of cgs) out.push({ kind, g });
        break;
      case 'dw-scc':
        for (const cg of cgs) {
          if (sp.co) for (const co of sp.co) out.push({ kind, cg, co });
          else for (const s of sp.s ?? []) out.push({ kind, cg, s });
        }
        break;
      default:
        kind satisfies never; // a new variant kind needs its options here
    }
  }
  return out;
}

function groupSlots(slots: readonly SlotInfo[], tie: TieMode): { name: string; slots: number[] }[] {
  if (tie === 'all') return [{ name: 'all', slots: slots.map((s) => s.index) }];
  if (tie === 'slot') return slots.map((s) => ({ name: s.name, slots: [s.index] }));
  const byStage = new Map<number, number[]>();
  for (const s of slots) {
    if (!byStage.has(s.stage)) byStage.set(s.stage, []);
    byStage.get(s.stage)!.push(s.index);
  }
  return [...byStage.entries()].sort((a, b) => a[0] - b[0]).map(([st, idx]) => ({ name: `stage${st}`, slots: idx }));
}

// Two choices that resolve to the same layers at every slot of a unit (two overlap ratios
// giving the same channel stride) are one design; the first one listed is kept.
function layersKey(vs: readonly Variant[]): string {
  return vs.map((v) => (v.kind === 'dw-scc' ? `dw-scc/${v.cg}/${v.s}` : formatVariant(v))).join(';');
}

export function buildSpace(access: ModelAccess, sp: SpaceConfig, constraints: Constraints = {}): Space {
  const choices = spaceChoices(sp);
  const slots = access.slots;
  if (slots.length === 0) throw new UsageError(`${access.model} has no conv slots to explore`);
  const units: Unit[] = [];
  for (const g of groupSlots(slots, sp.tie)) {
    const options: UnitOption[] = [];
    const seen = new Set<string>();
    const rejected: string[] = [];
    for (const choice of choices) {
      const bad = g.slots.map((i) => slotProblem(slots[i], choice)).find((p) => p !== null);
      if (bad) {
        rejected.push(`${formatVariant(choice)} (${bad})`);
        continue;
      }
      const variants = g.slots.map((i) => resolveVariant(access.model, slots[i], choice));
      const key = layersKey(variants);
      if (seen.has(key)) continue;
      seen.add(key);
      let macs = 0;
      let params = 0;
      g.slots.forEach((i, k) => {
        const c = slotCost(slots[i], variants[k]);
        macs += c.macs;
        params += c.params;
      });
      options.push({ choice, label: formatVariant(choice), variants, macs, params });
    }
    if (options.length === 0) {
      throw new UsageError(
        `space: no variant choice fits ${g.name === 'all' ? 'every slot' : g.name} of ${access.model}; ` +
          `rejected: ${rejected.slice(0, 6).join('; ')}${rejected.length > 6 ? '; ...' : ''}. ` +
          'Pick cg values that divide the channel counts, or tie slots per stage or per slot.',
      );
    }
    units.push({ name: g.name, slots: g.slots, options });
  }
  const { macs, params } = access.fixed;
  const size = units.reduce((acc, u) => acc * BigInt(u.options.length), 1n);
  return { model: access.model, tie: sp.tie, slots, units, base: { macs, params }, constraints, size };
}

/** The genome at position `index` of the grid order (last unit varies fastest). */
export function decodeIndex(space: Space, index: bigint): Genome {
  if (index < 0n || index >= space.size) throw new RangeError(`index ${index} outside the space of ${space.size}`);
  const g = new Array<number>(space.units.length);
  let rest = index;
  for (let u = space.units.length - 1; u >= 0; u--) {
    const n = BigInt(space.units[u].options.length);
    g[u] = Number(rest % n);
    rest /= n;
  }
  return g;
}

export function encodeGenome(space: Space, g: Genome): bigint {
  let idx = 0n;
  for (let u = 0; u < space.units.length; u++) idx = idx * BigInt(space.units[u].options.length) + BigInt(g[u]);
  return idx;
}

export function genomeKey(g: Genome): string {
  return g.join('.');
}

/** Fast analytic cost of a point: base plus one precomputed sum per unit. */
export function genomeCost(space: Space, g: Genome): Cost {
  let macs = space.base.macs;
  let params = space.base.params;
  for (let u = 0; u < g.length; u++) {
    const o = space.units[u].options[g[u]];
    macs += o.macs;
    params += o.params;
  }
  return { macs, params };
}

export function satisfies(c: Cost, constraints: Constraints): boolean {
  if (constraints.maxMacs !== undefined && c.macs > constraints.maxMacs) return false;
  if (constraints.minMacs !== undefined && c.macs < constraints.minMacs) return false;
  if (constraints.maxParams !== undefined && c.params > constraints.maxParams) return false;
  return true;
}

export function feasible(space: Space, g: Genome): boolean {
  return satisfies(genomeCost(space, g), space.constraints);
}

/** Resolved variant of every slot, in slot order. */
export function genomeVariants(space: Space, g: Genome): Variant[] {
  const out = new Array<Variant>(space.slots.length);
  space.units.forEach((u, k) => {
    const o = u.options[g[k]];
    u.slots.forEach((slot, j) => (out[slot] = o.variants[j]));
  });
  return out;
}

/** "dw-scc:cg=2,co=0.5" when every unit has the same choice; otherwise the units' choices
 * in order, runs of equal neighbours collapsed ("std x3 | dw-pw x6"). */
export function genomeLabel(space: Space, g: Genome): string {
  const labels = g.map((o, u) => space.units[u].options[o].label);
  const runs: { label: string; n: number }[] = [];
  for (const l of labels) {
    const last = runs[runs.length - 1];
    if (last && last.label === l) last.n++;
    else runs.push({ label: l, n: 1 });
  }
  if (runs.length === 1) return runs[0].label;
  return runs.map((r) => (r.n > 1 ? `${r.label} x${r.n}` : r.label)).join(' | ');
}
