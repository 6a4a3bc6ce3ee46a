// Plain rows the store hands to the rest of the program (report, pareto, runner).
import type { Variant } from '../models/spec.js';
import type { EpochMetrics } from '../engine/types.js';
import type { StateCounts, TrialState } from './states.js';

export type { StateCounts, TrialState } from './states.js';

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

export interface StoredWeights {
  /** the trial that trained them (differs from the one asked for when that reused it) */
  trialId: number;
  checkpoint: Uint8Array;
}

/** A value now (SQLite answers synchronously) or later (PostgreSQL over the network):
 * callers always `await` it. */
export type MaybePromise<T> = T | Promise<T>;

/** The store as the report/pareto side reads it. The runner uses a wider interface.
 * Callers await every method: SQLite answers at once, PostgreSQL asynchronously. */
export interface StoreReader {
  listSweeps(): MaybePromise<SweepRow[]>;
  getSweep(name: string): MaybePromise<SweepRow | undefined>;
  trials(sweep: string): MaybePromise<TrialRow[]>;
  /** The sweep's trials in id order as a listing (see ListedTrialRow), read many times
   * faster than `trials`: no per-row query, no spec or variants read, no JSON parsed. */
  trialListing(sweep: string): MaybePromise<ListedTrialRow[]>;
  /** The per-slot variants of the given candidates (those the store has), by hash. */
  candidateVariants(hashes: readonly string[]): MaybePromise<Map<string, Variant[]>>;
  /** one whole trial, of whichever sweep */
  trial(id: number): MaybePromise<TrialRow | undefined>;
  /** per-epoch metrics of a trial, in epoch order */
  epochMetrics(trialId: number): MaybePromise<EpochMetrics[]>;
  /** how many trials of the sweep are in each state */
  counts(sweep: string): MaybePromise<StateCounts>;
  /** The checkpoint bytes a finished trial's weights were stored as (a reused trial's are
   * its source's), with the trial that holds them; undefined when none are stored. */
  trialWeights(trialId: number): MaybePromise<StoredWeights | undefined>;
  /** Ids of the sweep's trials whose weights are in the store (their own or their source's). */
  trialsWithWeights(sweep: string): MaybePromise<Set<number>>;
  close(): MaybePromise<void>;
}
