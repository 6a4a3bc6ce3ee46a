// The store as the report and dashboard side reads it (the runner uses the wider SweepStore
// of store.ts), and the values it answers with besides the rows of src/domain/rows.ts.
import type { Variant } from '../models/spec.js';
import type { EpochMetrics } from '../domain/metrics.js';
import type { ListedTrialRow, SweepRow, TrialRow } from '../domain/rows.js';
import type { StateCounts } from '../domain/trial-states.js';

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
