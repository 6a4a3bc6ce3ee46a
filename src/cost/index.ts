// Public face of the analytic cost model: per-layer counting of a spec, and the fast path
// that costs candidates from the slot skeleton.
export { countCost, countTotals, layerCost, layerKind, type CostTotals, type LayerCost, type ModelCost } from './count.js';
export { compileCost, costFromSlots, slotCost, type CompiledCost } from './fast.js';
