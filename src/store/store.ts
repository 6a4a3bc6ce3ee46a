// The store as the sweep runner sees it: creating sweeps, queueing trials, claiming them,
// heartbeats, results, reuse of identical finished trials and once-only scheduling of
// rounds. Asynchronous: SQLite answers at once, PostgreSQL over the network; one
// implementation (sql-store.ts) serves both.
import type { Candidate } from '../domain/candidate.js';
import type { EpochMetrics } from '../domain/metrics.js';
import type { SweepRow, TrialRow } from '../domain/rows.js';
import type { StateCounts } from '../domain/trial-states.js';
import type { ModelSpec } from '../models/spec.js';
import type { MaybePromise, StoreReader } from './types.js';

export { TrialStateError, checkTransition } from './states.js';

export interface NewSweep {
  name: string;
  /** the validated config, stored as JSON */
  config: unknown;
  /** hash of the config, to notice a changed config on --resume */
  configHash: string;
}

/** One trial to queue: a candidate at one fidelity and seed. */
export interface TrialInput {
  candidate: Candidate;
  /** successive-halving rung (0 without multi-fidelity) */
  rung: number;
  /** evolutionary generation / search round (0 for grid and random) */
  round: number;
  epochs: number;
  seed: number;
  /** hash of everything besides spec, epochs and seed that decides the result
   * (recipe, dataset, evaluation); equal hashes mean an identical training */
  recipeHash: string;
}

export interface ClaimedTrial {
  trial: TrialRow;
  spec: ModelSpec;
  recipeHash: string;
}

/** What training produced, for a trial that ran to its end. */
export interface TrialOutcome {
  state: 'done' | 'diverged';
  accuracy: number | null;
  testLoss: number | null;
  trainLoss: number | null;
  trainAccuracy: number | null;
  seconds: number;
  imagesPerSecond: number | null;
  device: string;
  /** for diverged: the engine's message */
  message?: string;
  /** per-epoch metrics, written in the same transaction as the result */
  epochs?: EpochMetrics[];
  /** the trained weights as checkpoint bytes (src/engine/checkpoint.ts), written in the
   * same transaction as the result */
  weights?: Uint8Array;
  provenance: Record<string, unknown>;
}

export interface LatencyKey {
  specHash: string;
  machine: string;
  runtime: string;
  batch: number;
  threads: number;
}

export interface LatencyRow extends LatencyKey {
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  reps: number;
}

/** What a pruner decided for one candidate at the end of a rung (see src/space/pruner.ts). */
export interface PrunerDecisionRow {
  round: number;
  rung: number;
  candidateHash: string;
  pruner: string;
  promoted: boolean;
  /** place in the pruner's order (0 = best); null for baselines, which always climb */
  rank: number | null;
  accuracy: number | null;
}

export interface SweepStore extends StoreReader {
  /** where the data lives, for messages (a file path for SQLite) */
  readonly location: string;
  /** true when workers on other machines may be using the store at the same time
   * (PostgreSQL): a resume then re-queues only trials with a stale heartbeat */
  readonly shared?: boolean;

  /** Create a sweep; throws a UsageError when the name is taken. */
  createSweep(input: NewSweep): Promise<SweepRow>;
  setSweepStatus(name: string, status: SweepRow['status']): Promise<void>;
  sweepConfigHash(name: string): Promise<string | undefined>;

  /** Queue trials (and record their candidates). A trial that already exists for the same
   * sweep, candidate, rung and seed is left alone. Returns how many were added. */
  enqueue(sweep: string, trials: TrialInput[]): Promise<number>;
  /** Queue the trials of round `index` of `kind` ('generation', 'rung', ...) exactly once:
   * the first caller records the round and queues its trials atomically and gets true;
   * later callers get false and change nothing. */
  scheduleRound(
    sweep: string,
    kind: string,
    index: number,
    trials: TrialInput[],
    /** what the pruner decided to get here, recorded in the same transaction */
    decisions?: PrunerDecisionRow[],
  ): Promise<boolean>;
  /** The pruner decisions recorded for a sweep, by round, rung and rank. */
  prunerDecisions(sweep: string): Promise<PrunerDecisionRow[]>;
  hasRound(sweep: string, kind: string, index: number): Promise<boolean>;

  /** Take the oldest queued trial of the sweep for `workerId` (queued -> running), or
   * undefined when none is queued. */
  claimNext(sweep: string, workerId: string): Promise<ClaimedTrial | undefined>;
  /** Note that `workerId` is still working on the trial; false when it no longer holds it. */
  heartbeat(trialId: number, workerId: string): Promise<boolean>;
  recordEpoch(trialId: number, workerId: string, metrics: EpochMetrics): Promise<void>;
  /** running -> queued: give back a trial this worker cannot train now (e.g. interrupted). */
  releaseTrial(trialId: number, workerId: string): Promise<void>;
  /** running -> done | diverged, with the result. */
  finishTrial(trialId: number, workerId: string, outcome: TrialOutcome): Promise<TrialRow>;
  /** running -> failed, with the error message. */
  failTrial(trialId: number, workerId: string, error: string, provenance?: Record<string, unknown>): Promise<TrialRow>;
  /** queued | running -> pruned. */
  pruneTrial(trialId: number, reason: string): Promise<TrialRow>;
  /** If an identical trial (same candidate, recipe hash, epochs and seed; any sweep) has
   * finished as done or diverged, copy its result and epoch metrics into this trial, which
   * `workerId` must hold, mark it with the state of the source, note the source trial and
   * return it; else undefined and nothing changes. */
  reuseFinished(trialId: number, workerId: string): Promise<TrialRow | undefined>;
  /** Put running trials of the sweep back in the queue: all of them, or only those whose
   * heartbeat is older than `staleAfterMs`. Their partial epoch metrics are dropped.
   * Returns how many were re-queued. */
  requeueRunning(sweep: string, opts?: { staleAfterMs?: number }): Promise<number>;

  counts(sweep: string): Promise<StateCounts>;
  epochMetrics(trialId: number): Promise<EpochMetrics[]>;
  /** A recorded candidate, rebuilt from the database (baseline: as first queued in `sweep`). */
  candidate(hash: string, sweep?: string): MaybePromise<Candidate | undefined>;
  trial(id: number): MaybePromise<TrialRow | undefined>;
  /** Drop the stored weights of these trials (keepWeights: "front"), except where a trial
   * not in the list reuses them; returns how many were dropped. */
  dropWeights(trialIds: number[]): Promise<number>;
  /** A cached latency measurement of a spec on a machine under a key, or undefined. */
  latency(key: LatencyKey): Promise<LatencyRow | undefined>;
  /** Cache a measurement; the first one recorded for a key stays (returns false when one
   * was already there). */
  recordLatency(row: LatencyRow): Promise<boolean>;
  /** The schema version of the open database. */
  schemaVersion(): MaybePromise<number>;
  /** Where to say that the connection to the database was lost or is back (PostgreSQL). */
  onWarning?: (message: string) => void;
}
