// What the parts of a worker loop (claim.ts, trial.ts, runner.ts) share.
import type { SweepConfig } from '../config/sweep.js';
import type { LoadedDatasets } from '../data/index.js';
import type { TrainRequest, TrainResult } from '../engine/types.js';
import type { SweepEvent } from '../report/sweep-events.js';
import type { SweepPlan } from '../space/index.js';
import type { SweepStore } from '../store/store.js';
import type { StopControl } from './stop.js';
import type { ReplayTable } from './replay.js';

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
