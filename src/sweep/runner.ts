// The sweep runner: creates or resumes a sweep in the store, queues its candidates, and
// trains queued trials in --jobs lanes (one trial at a time per lane, each lane's in a child
// process of its own), recording each result as it ends.
// Everything it knows lives in the database, so a process killed at any instant loses at
// most the trials its lanes were training, and `--resume` finishes the sweep: trials left
// running go back to the queue, finished ones are never touched, and the next round or rung
// is scheduled exactly once.
//
// Across machines the same loop is a worker: `runSweep({enqueueOnly})` creates the sweep and
// queues its first round, and any number of `runWorker` processes, anywhere, claim queued
// trials from the shared store (PostgreSQL), each lane one at a time, heartbeat while
// training, re-queue trials of workers that went silent, and schedule the next generation
// or rung exactly once (SweepStore.scheduleRound) when enough results exist. The loop's
// parts live beside this file: claim.ts (the next trial), trial.ts (running one),
// trial-process.ts and trial-child.ts (where it trains), heartbeat.ts, and stop.ts
// (SIGINT/SIGTERM).
import { availableParallelism, hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors.js';
import { parseSweepConfig, type SweepConfig } from '../config/sweep.js';
import { countFeasible, enumerateGrid, infeasibility, genomeLabel, genomeVariants, makeCandidate, planSweep, type SweepPlan } from '../space/index.js';
import type { Candidate } from '../domain/candidate.js';
import type { DeviceRequest, TrainRequest, TrainResult } from '../engine/types.js';
import type { LoadedDatasets } from '../data/index.js';
import type { TrialRow } from '../domain/rows.js';
import type { SweepStore } from '../store/store.js';
import { resolveSweep } from '../store/resolve.js';
import { configHash } from './identity.js';
import { expectedMoreTrials, ROUND_KIND, trialsFor } from './schedule.js';
import { claimNext } from './claim.js';
import { TrialRunner } from './trial.js';
import { LocalTrials, loadSweepData, type TrialExecutor } from './trial-job.js';
import { ChildTrials } from './trial-process.js';
import { keepFrontWeights } from './weights.js';
import { ensureLatency, measureQueued, QuietGate } from './latency.js';
import { StopControl } from './stop.js';
import { checkCoverage, replayTrial, type ReplayTable } from './replay.js';
import type { WorkContext } from './context.js';
import type { SweepEvent, SweepProgress, SweepSummary } from '../report/sweep-events.js';
import { sweepEtaSeconds } from '../report/sweep-eta.js';

export type { SweepEvent, SweepProgress, SweepSummary } from '../report/sweep-events.js';


export interface RunnerOptions {
  store: SweepStore;
  config: SweepConfig;
  /** one device, or a comma-separated list that the --jobs lanes take round-robin */
  device?: string;
  /** trials trained at once by this process (default 1) */
  jobs?: number;
  /** CPU threads per trial */
  threads?: number;
  /** kill and fail a trial whose process sends no progress for this long (default: never) */
  trialTimeoutMs?: number;
  resume?: boolean;
  /** refuse a grid with more candidates than this */
  maxCandidates?: number;
  onEvent?: (e: SweepEvent) => void;
  /** how often a running trial tells the store it is alive */
  heartbeatMs?: number;
  /** a running trial whose heartbeat is older than this belongs to a dead worker */
  staleAfterMs?: number;
  workerId?: string;
  // ---- seams for tests; the CLI never sets them ----
  /** replaces the engine's train(); the trials then train in this process, not in children */
  train?: (req: TrainRequest) => Promise<TrainResult>;
  /** replaces loading the dataset the config names (with `train` only) */
  loadData?: () => LoadedDatasets | Promise<LoadedDatasets>;
  /** precomputed plan (tests with a fake model access) */
  plan?: SweepPlan;
  /** before the first training, take one step on two images to check that training
   * starts at all on this device (default: on with the real engine, off with a `train`
   * stand-in). A problem of the setup then stops the sweep with nothing recorded, instead
   * of writing every trial off as failed (failed trials are final). */
  preflight?: boolean;
  /** create the sweep and queue its first round, then return without training: workers
   * (`dsxplore worker`) do the rest */
  enqueueOnly?: boolean;
  /** asked to stop by a signal (see stop.ts) */
  stop?: StopControl;
  /** train nothing: answer every trial from this table of finished trials (replay.ts) */
  replay?: ReplayTable;
}

/** A worker: trains the queued trials of a sweep that already exists in the store. */
export interface WorkerOptions
  extends Pick<
    RunnerOptions,
    'store' | 'device' | 'jobs' | 'threads' | 'trialTimeoutMs' | 'onEvent' | 'heartbeatMs' | 'staleAfterMs' | 'workerId' | 'train' | 'loadData' | 'plan' | 'preflight' | 'stop'
  > {
  /** the sweep to work on (default: the most recent sweep that is not finished) */
  sweep?: string;
  /** folder with the dataset files on this machine (overrides the config's dataset.dataDir) */
  dataDir?: string;
}

function bestOf(trials: readonly TrialRow[]): SweepProgress['best'] {
  let best: SweepProgress['best'] = null;
  for (const t of trials) {
    if (t.state !== 'done' || t.accuracy === null) continue;
    if (!best || t.accuracy > best.accuracy) best = { label: t.label, accuracy: t.accuracy, macs: t.macs };
  }
  return best;
}

/** Create or resume the sweep the config names and run it to the end. */
export async function runSweep(opts: RunnerOptions): Promise<SweepSummary> {
  const { store, config } = opts;
  const name = config.name;
  const started = Date.now();
  const emit = opts.onEvent ?? (() => {});
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const staleAfterMs = opts.staleAfterMs ?? Math.max(60_000, 6 * heartbeatMs);

  // Plan first: a space the user must fix (grid too large, bad model) is refused before
  // anything is written.
  const plan = opts.plan ?? planSweep(config, { maxCandidates: opts.maxCandidates });
  const feasible = countFeasible(plan.space);
  // a space the constraints empty would train only the baselines: refuse it up front
  const empty = infeasibility(plan.space, feasible);
  if (empty) throw new UsageError(`the space has no feasible candidate: ${empty}`);
  const initial = plan.search.initial();
  if (initial.length === 0 && plan.baselines.length === 0) {
    throw new UsageError('the constraints leave no candidate to train; loosen "constraints" or widen "space"');
  }

  if (opts.replay) {
    if (opts.enqueueOnly) throw new UsageError('--replay trains nothing and needs no workers; leave out --enqueue-only');
    // every candidate a later round may propose, when the space is small enough to list
    const later = plan.search.rounds > 1 && feasible.exact && feasible.count <= 20_000n ? listCandidates(plan) : [];
    checkCoverage(opts.replay, config, [...plan.baselines, ...initial], later);
  }

  const existing = await store.getSweep(name);
  let requeued = 0;
  if (existing && !opts.resume) {
    throw new UsageError(
      `a sweep named '${name}' already exists in ${store.location}; pass --resume to continue it, ` +
        `or change "name" in the config to start a new one`,
    );
  }
  const hash = configHash(config);
  if (existing) {
    const before = await store.sweepConfigHash(name);
    if (before !== hash) {
      throw new UsageError(
        `the config of sweep '${name}' changed since it started; --resume needs the same config ` +
          `(device and --max-candidates may differ). Change "name" to start a new sweep with the new config`,
      );
    }
    // One process resuming a local store: whatever is still 'running' was left by a dead
    // process. A shared store may have live workers elsewhere: only stale trials go back.
    requeued = store.shared ? await store.requeueRunning(name, { staleAfterMs }) : await store.requeueRunning(name);
    if (existing.status === 'finished') await store.setSweepStatus(name, 'running');
  } else {
    await store.createSweep({ name, config, configHash: hash });
  }
  emit({
    type: 'plan',
    sweep: name,
    spaceSize: plan.size,
    feasible: feasible.count,
    feasibleExact: feasible.exact,
    searchKind: plan.search.kind,
    initialCandidates: initial.length,
    baselines: plan.baselines.map((b) => b.label),
    skippedBaselines: plan.skippedBaselines,
    resumed: !!existing,
    requeued,
  });
  const first = trialsFor(config, [...plan.baselines, ...initial], 0, 0);
  if (await store.scheduleRound(name, ROUND_KIND, 0, first)) {
    emit({ type: 'scheduled', what: 'round', index: 0, trials: first.length });
  }
  if (opts.enqueueOnly) {
    return {
      sweep: name,
      counts: await store.counts(name),
      trained: 0,
      reused: 0,
      failed: 0,
      best: null,
      seconds: (Date.now() - started) / 1000,
      database: store.location,
    };
  }
  return work({ ...opts, config, plan, hash, workerId, heartbeatMs, staleAfterMs, started, emit, stop: opts.stop ?? new StopControl() });
}

/** Every feasible candidate of a small space. */
function listCandidates(plan: SweepPlan): Candidate[] {
  const out: Candidate[] = [];
  for (const g of enumerateGrid(plan.space)) {
    out.push(makeCandidate(plan.access, genomeVariants(plan.space, g), genomeLabel(plan.space, g)));
  }
  return out;
}

/** Work on a sweep queued by someone else until it has nothing queued or running left. */
export async function runWorker(opts: WorkerOptions): Promise<SweepSummary> {
  const { store } = opts;
  const started = Date.now();
  const emit = opts.onEvent ?? (() => {});
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const staleAfterMs = opts.staleAfterMs ?? Math.max(60_000, 6 * heartbeatMs);
  const row = await resolveSweep(store, opts.sweep, {
    unfinished: true,
    hint: 'Queue one with: dsxplore sweep --config FILE --store URL --enqueue-only',
  });
  let config: SweepConfig;
  try {
    config = parseSweepConfig(row.config, `the config of sweep '${row.name}'`);
  } catch (err) {
    throw new UsageError(`sweep '${row.name}' has a config this dsxplore cannot read: ${(err as Error).message}`);
  }
  if (opts.dataDir) config = { ...config, dataset: { ...config.dataset, dataDir: opts.dataDir } };
  // the plan is a pure function of the config (seeded samplers), so every worker derives
  // the same search and schedules the same next rounds
  const plan = opts.plan ?? planSweep(config, { maxCandidates: Number.MAX_SAFE_INTEGER });
  const hash = (await store.sweepConfigHash(row.name)) ?? configHash(config);
  return work({ ...opts, config, plan, hash, workerId, heartbeatMs, staleAfterMs, started, emit, stop: opts.stop ?? new StopControl() });
}

/** The device and threads of each of the `jobs` lanes: devices round-robin over the
 * comma-separated list (`cuda` alone: every lane on that GPU, each on its own stream), and
 * on the CPU the cores split between the lanes unless --threads says how many each gets. */
export function jobLanes(ctx: Pick<WorkContext, 'device' | 'jobs' | 'threads'>): { device: DeviceRequest; threads?: number }[] {
  const jobs = Math.max(1, ctx.jobs ?? 1);
  const devices = (ctx.device ?? 'auto').split(',') as DeviceRequest[];
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : 1;
  return Array.from({ length: jobs }, (_, i) => {
    const device = devices[i % devices.length]!;
    const threads = ctx.threads ?? (jobs > 1 && device === 'cpu' ? Math.max(1, Math.floor(cores / jobs)) : undefined);
    return threads === undefined ? { device } : { device, threads };
  });
}

/** Where each lane's trials train: a child process per lane (trial-process.ts), or, with
 * the tests' stand-in train(), this process, the dataset loaded once for all lanes. */
function executors(ctx: WorkContext, lanes: number): TrialExecutor[] {
  const { train } = ctx;
  if (!train) {
    const onWarning = (message: string) => ctx.emit({ type: 'warning', message });
    return Array.from({ length: lanes }, () => new ChildTrials({ timeoutMs: ctx.trialTimeoutMs, onWarning }));
  }
  let loading: Promise<LoadedDatasets> | undefined;
  const load = () => {
    loading ??= Promise.resolve(ctx.loadData ? ctx.loadData() : loadSweepData(ctx.config, (m) => process.stderr.write(`dsxplore: warning: ${m}\n`)));
    // a failed load may be retried by the next lane that needs it
    loading.catch(() => (loading = undefined));
    return loading;
  };
  return Array.from({ length: lanes }, () => new LocalTrials(load, train));
}

/** The worker loop: claim, train, record, schedule the next step; until nothing is left
 * or a signal stops it. */
async function work(ctx: WorkContext): Promise<SweepSummary> {
  const { store, config, plan, started, emit } = ctx;
  const name = config.name;
  let trained = 0;
  let reused = 0;
  let failed = 0;
  let trainSeconds = 0;
  // this process's own pace (seconds per MAC x epoch of what its lanes trained) once it has
  // one: the store's times count other machines' speeds too, and are the fallback until then
  let trainedWork = 0;
  let lanes = 1;

  const progress = async (): Promise<SweepProgress> => {
    const all = await store.trials(name);
    const counts = await store.counts(name);
    const finished = counts.done + counts.failed + counts.pruned + counts.diverged;
    const more = expectedMoreTrials(config, plan.search, all);
    return {
      finished,
      total: all.length + more,
      counts,
      best: bestOf(all),
      etaSeconds: sweepEtaSeconds(all, {
        secondsPerWork: trainedWork > 0 ? trainSeconds / trainedWork : undefined,
        moreTrials: more,
        parallel: lanes,
      }),
    };
  };

  // a replay answers a trial in milliseconds: its progress counts states (reading every
  // trial after each one would dominate) and has no ETA
  const replayProgress = async (): Promise<SweepProgress> => {
    const counts = await store.counts(name);
    const finished = counts.done + counts.failed + counts.pruned + counts.diverged;
    return { finished, total: finished + counts.queued + counts.running, counts, best: null, etaSeconds: null };
  };

  let released = 0;
  // A lane trains one trial at a time; --jobs N runs N lanes in this process, each with its
  // own device (and so its own backend and stream) and thread count, on one shared queue.
  // A lane that fails (a store error, a device where training does not start) stops the
  // others from claiming more; their running trials finish, then the error surfaces.
  let laneError: unknown;
  // a replay copies the table's latencies instead of measuring
  const measuresLatency = config.objectives.includes('latency') && !ctx.replay;
  const gate = new QuietGate();
  if (measuresLatency) await measureQueued(store, name);
  let replayed = 0;
  const lane = async (trials: TrialRunner): Promise<void> => {
    for (;;) {
      if (laneError !== undefined) return;
      const next = await claimNext(ctx);
      if (next.kind !== 'trial') return;
      const c = next.claimed;
      if (ctx.replay) {
        const row = await replayTrial(ctx.replay, store, config, ctx.workerId, c);
        replayed++;
        emit({ type: 'trial-end', trial: row, reused: false, progress: await replayProgress() });
        continue;
      }
      if (measuresLatency) {
        try {
          await gate.quiet(() => ensureLatency(store, c.spec, c.trial.candidateHash));
        } catch (err) {
          await store.releaseTrial(c.trial.id, ctx.workerId);
          throw err;
        }
      }
      const copy = await trials.reuse(c);
      if (copy) {
        reused++;
        emit({ type: 'trial-end', trial: copy, reused: true, progress: await progress() });
        continue;
      }
      emit({ type: 'trial-start', trial: c.trial, progress: await progress() });
      const end = await gate.training(() => trials.run(c));
      if (end.kind === 'released') {
        released++;
        return;
      }
      if (end.kind === 'lost') continue;
      trained++;
      if (end.kind === 'failed') failed++;
      trainSeconds += end.seconds;
      trainedWork += c.trial.macs * c.trial.epochs;
      emit({ type: 'trial-end', trial: end.row, reused: false, progress: await progress() });
    }
  };
  const laneSpecs = jobLanes(ctx);
  lanes = laneSpecs.length;
  const execs = executors(ctx, laneSpecs.length);
  try {
    await Promise.all(
      laneSpecs.map((l, i) =>
        lane(new TrialRunner({ ...ctx, ...l }, execs[i]!)).catch((err: unknown) => {
          laneError ??= err;
        }),
      ),
    );
  } finally {
    for (const e of execs) e.close();
  }
  if (laneError !== undefined) throw laneError;

  const signal = ctx.stop.signal;
  if (!signal) await store.setSweepStatus(name, 'finished');
  if (!signal && config.keepWeights === 'front') await keepFrontWeights(store, config);
  return {
    sweep: name,
    counts: await store.counts(name),
    trained: trained - failed,
    reused,
    failed,
    best: bestOf(await store.trials(name)),
    seconds: (Date.now() - started) / 1000,
    database: store.location,
    ...(signal ? { stopped: { signal, released } } : {}),
    ...(ctx.replay ? { replayed: { from: ctx.replay.path, trials: replayed } } : {}),
  };
}
