// The rows a store hands to the rest of the program (runner, report, dashboard): a sweep and
// its trials, plain data.
import type { Variant } from '../models/spec.js';
import type { TrialState } from './trial-states.js';

export interface SweepRow {
  id: number;
  name: string;
  /** the validated sweep config as given (JSON) */
  config: unknown;
  createdAt: string;
  status: 'running' | 'finished';
}

/** One trained (or to-be-trained) candidate of a sweep at one fidelity, joined with its candidate. */
export interface TrialRow {
  id: number;
  sweep: string;
  candidateHash: string;
  label: string;
  baseline: boolean;
  variants: Variant[];
  macs: number;
  flops: number;
  params: number;
  state: TrialState;
  /** fidelity: training epochs of this trial (successive halving raises it per rung) */
  epochs: number;
  rung: number;
  seed: number;
  /** test (or validation) accuracy in [0,1], when done */
  accuracy: number | null;
  trainLoss: number | null;
  seconds: number | null;
  device: string | null;
  error: string | null;
  // Added by the store (optional so that code building TrialRows by hand, e.g. tests of the
  // report side, need not fill them):
  /** evolutionary generation / search round (0 for grid and random) */
  round?: number;
  /** hash of recipe, dataset and evaluation: equal hashes (with epochs, seed and candidate)
   * mean an identical training */
  recipeHash?: string;
  testLoss?: number | null;
  trainAccuracy?: number | null;
  imagesPerSecond?: number | null;
  workerId?: string | null;
  /** last sign of life of the worker running the trial (ms since the epoch) */
  heartbeatAt?: number | null;
  /** ISO times */
  queuedAt?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  /** the trial whose result was copied into this one instead of training again */
  reusedFrom?: number | null;
  /** how many times the trial was claimed (more than 1 after a crash and resume) */
  attempts?: number;
  /** what produced the result: config hash, spec hash, seed, recipe, device, threads,
   * dsxplore version, host, timings */
  provenance?: Record<string, unknown> | null;
  /** measured inference latency of the candidate's spec (our engine, batch 1, one thread),
   * the first measurement recorded in the store, and the machine it was measured on */
  latencyMs?: number | null;
  latencyMachine?: string | null;
}

/** A trial as a sweep's listing holds it: a TrialRow without its candidate's per-slot
 * variants (`candidateVariants` reads them for the few candidates a view shows) and without
 * provenance, test loss, train accuracy, throughput, worker, heartbeat and recipe hash
 * (`trial(id)` has them). */
export type ListedTrialRow = Omit<TrialRow, 'variants'>;
