// Candidates: one point of a design space, with its spec and analytic cost. The space makes
// them, the store keeps them, the runner queues trials of them.
import type { ModelSpec, Variant } from '../models/spec.js';

export interface Candidate {
  /** sha256 of the canonical JSON of the spec; identifies the candidate across sweeps */
  hash: string;
  /** one resolved variant per slot, in slot order */
  variants: Variant[];
  /** short human label: "dw-scc:cg=2,co=0.5" when all slots alike, else per-stage/per-slot */
  label: string;
  /** a reference design added by the sweep (baselineVariants in src/models/variant.ts) */
  baseline: boolean;
  spec: ModelSpec;
  macs: number;
  flops: number;
  params: number;
}
