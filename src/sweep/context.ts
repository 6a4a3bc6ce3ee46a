// What the parts of a worker loop (claim.ts, trial.ts, runner.ts) share.
import type { SweepConfig } from '../config/sweep.js';
import type { LoadedDatasets } from '../data/index.js';
import type { DeviceRequest, TrainProgress, TrainRequest, TrainResult } from '../engine/types.js';
import type { SweepPlan } from '../space/index.js';
import type { StateCounts, SweepStore } from '../store/store.js';
import type { TrialRow } from '../store/types.js';
import type { StopControl } from './stop.js';
import type { ReplayTable } from './replay.js';

export type SweepEvent =
  | {
      type: 'plan';
      sweep: string;
      spaceSize: bigint;
      feasible: bigint;
      feasibleExact: boolean;
      searchKind: string;
      initialCandidates: number;
      baselines: string[];
      skippedBaselines: string[];
      resumed: boolean;
      requeued: number;
    }
  | { type: 'scheduled'; what: 'round' | 'rung'; index: number; trials: number }
  | { type: 'trial-start'; trial: TrialRow; progress: SweepProgress }
  | { type: 'trial-progress'; trial: TrialRow; p: TrainProgress }
  | { type: 'trial-end'; trial: TrialRow; reused: boolean; progress: SweepProgress }
  | { type: 'warning'; message: string };

/** Overall progress of the sweep, as the TTY bar and the JSON lines show it. */
export interface SweepProgress {
  /** finished trials (any terminal state) */
  finished: number;
  /** trials known so far plus those later rounds/rungs are expected to add */
  total: number;
  counts: StateCounts;
  best: { label: string; accuracy: number; macs: number } | null;
  /** seconds left: the work left (MACs x epochs of unfinished and expected trials) at the
   * speed this process has trained so far */
  etaSeconds: number | null;
}

export interface WorkContext {
  store: SweepStore;
  config: SweepConfig;
  plan: SweepPlan;
  /** hash of the sweep's config, for provenance */
  hash: string;
  workerId: string;
  heartbeatMs: number;
  staleAfterMs: number;
  started: number;
  /** one device, or a comma-separated list that --jobs lanes take round-robin (a lane's
   * own context has one) */
  device?: string;
  /** trials trained at once by this process (default 1) */
  jobs?: number;
  /** CPU threads per trial (default: the recipe's; with --jobs on the CPU, cores / jobs) */
  threads?: number;
  /** kill a trial whose process sends no progress for this long, failing it (default: never) */
  trialTimeoutMs?: number;
  emit: (e: SweepEvent) => void;
  stop: StopControl;
  /** replaces the engine's train(), trials then train in this process (tests) */
  train?: (req: TrainRequest) => Promise<TrainResult>;
  /** replaces loading the dataset the config names (tests; with `train` only) */
  loadData?: () => LoadedDatasets | Promise<LoadedDatasets>;
  preflight?: boolean;
  /** answer trials from a table instead of training (replay.ts) */
  replay?: ReplayTable;
}
