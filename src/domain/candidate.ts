// Candidates: one point of a design space, with its spec and analytic cost (the space makes
// them, the store keeps them, the runner queues trials of them), and what one scored over its
// seeds (the reports compute it; the dashboard and the weights export read it).
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

/** A candidate's result at the fidelity compared: its seeds' accuracies, averaged. */
export interface CandidateResult {
  hash: string;
  label: string;
  baseline: boolean;
  variants: Variant[];
  /** mean over seeds */
  accuracy: number;
  /** sample standard deviation over seeds (0 with one seed) */
  accuracyStd: number;
  seeds: number[];
  /** one accuracy per seed, in the order of `seeds` */
  seedAccuracies: number[];
  epochs: number;
  macs: number;
  flops: number;
  params: number;
  /** measured latency of its spec in ms (our engine, batch 1, one thread), when measured */
  latency?: number | null;
  /** ids of the done trials behind the accuracy (for export --trial ID) */
  trials?: number[];
}

/** A candidate's result without its per-slot variants: what a front and its hypervolume
 * need (the dashboard reads the variants of the few candidates it shows). */
export type CandidateScore = Omit<CandidateResult, 'variants'>;
