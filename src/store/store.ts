// The store as the sweep runner sees it: creating sweeps, queueing trials, claiming them,
// heartbeats, results, reuse of identical finished trials and once-only scheduling of
// rounds. Asynchronous on purpose: SQLite answers at once, but a networked database
// (PostgreSQL, issue 8) implements the same contract without touching the runner.
import type { Candidate } from '../space/types.js';
import type { ModelSpec } from '../models/spec.js';
import type { EpochMetrics } from '../engine/types.js';
import type { MaybePromise, StateCounts, StoreReader, SweepRow, TrialRow, TrialState } from './types.js';
export type { StateCounts } from './types.js';

/** States a trial never leaves. */
export const FINISHED_STATES = ['done', 'failed', 'pruned', 'diverged'] as const;
export type FinishedState = (typeof FINISHED_STATES)[number];

export function isFinished(state: TrialState): state is FinishedState {
  return (FINISHED_STATES as readonly string[]).includes(state);
}

/** The legal moves of the trial state machine; everything else is refused. */
export const TRANSITIONS: Readonly<Record<TrialState, readonly TrialState[]>> = {
  // queued -> done is reuse of an identical finished trial; queued -> pruned is cancelling
  queued: ['running', 'done', 'pruned'],
  // running -> queued is recovery of a trial whose worker died
  running: ['queued', 'done', 'failed', 'pruned', 'diverged'],
  done: [],
  failed: [],
  pruned: [],
  diverged: [],
};

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
  provenance: Record<string, unknown>;
}

/** Thrown when a caller breaks the trial state machine or touches a finished trial. */
export class TrialStateError extends Error {
  override name = 'TrialStateError';
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
  scheduleRound(sweep: string, kind: string, index: number, trials: TrialInput[]): Promise<boolean>;
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

  /** A recorded candidate, rebuilt from the database (baseline: as first queued in `sweep`). */
  candidate(hash: string, sweep?: string): MaybePromise<Candidate | undefined>;
  trial(id: number): MaybePromise<TrialRow | undefined>;
  /** The schema version of the open database. */
  schemaVersion(): MaybePromise<number>;
}

/** The row of a trial about to move to `to` (by `workerId`, when a holder is named), or
 * undefined when there is none. Throws TrialStateError unless the move is legal; shared by
 * every store so the state machine has one definition. */
export function checkTransition<R extends { state: TrialState; worker_id: string | null }>(
  r: R | undefined,
  trialId: number,
  to: TrialState,
  workerId?: string,
): R {
  if (!r) throw new TrialStateError(`trial ${trialId} does not exist`);
  if (isFinished(r.state)) {
    throw new TrialStateError(`trial ${trialId} is finished (${r.state}) and immutable; it cannot become ${to}`);
  }
  if (!TRANSITIONS[r.state].includes(to)) {
    throw new TrialStateError(`trial ${trialId} cannot go from ${r.state} to ${to}`);
  }
  if (workerId !== undefined && r.state !== 'running') {
    throw new TrialStateError(`trial ${trialId} is ${r.state}, not running under worker ${workerId}`);
  }
  if (workerId !== undefined && r.worker_id !== workerId) {
    throw new TrialStateError(
      `trial ${trialId} is held by worker ${r.worker_id ?? '(none)'}, not ${workerId}; it was probably ` +
        `re-queued after a missed heartbeat`,
    );
  }
  return r;
}
