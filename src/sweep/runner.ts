// The sweep runner: creates or resumes a sweep in the store, queues its candidates, and
// trains queued trials one at a time with the engine, recording each result as it ends.
// Everything it knows lives in the database, so a process killed at any instant loses at
// most the trial it was training, and `--resume` finishes the sweep: trials left running
// go back to the queue, finished ones are never touched, and the next round or rung is
// scheduled exactly once.
//
// Across machines (issue 8) the same loop is a worker: `runSweep({enqueueOnly})` creates
// the sweep and queues its first round, and any number of `runWorker` processes, anywhere,
// claim queued trials one at a time from the shared store (PostgreSQL), heartbeat while
// training, re-queue trials of workers that went silent, and schedule the next generation
// or rung exactly once (SweepStore.scheduleRound) when enough results exist.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors.js';
import { version as dsxVersion } from '../version.js';
import { parseSweepConfig, type SweepConfig } from '../config/sweep.js';
import { countFeasible, planSweep, type SweepPlan } from '../space/index.js';
import type { DeviceRequest, TrainProgress, TrainRequest, TrainResult } from '../engine/types.js';
import type { LoadedDatasets } from '../data/index.js';
import { head } from '../data/transform.js';
import type { StateCounts, SweepStore } from '../store/store.js';
import { TrialStateError } from '../store/store.js';
import type { SweepRow, TrialRow } from '../store/types.js';
import { configHash, recipeHash, trialRecipe } from './identity.js';
import { advance, expectedMoreTrials, ROUND_KIND, trialsFor } from './schedule.js';

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

export interface SweepSummary {
  sweep: string;
  counts: StateCounts;
  /** trials trained by this run (not reused, not from an earlier run) */
  trained: number;
  reused: number;
  failed: number;
  best: SweepProgress['best'];
  seconds: number;
  database: string;
}

export interface RunnerOptions {
  store: SweepStore;
  config: SweepConfig;
  device?: DeviceRequest;
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
  /** replaces the engine's train() */
  train?: (req: TrainRequest) => Promise<TrainResult>;
  /** replaces loading the dataset the config names */
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
}

/** A worker: trains the queued trials of a sweep that already exists in the store. */
export interface WorkerOptions
  extends Pick<
    RunnerOptions,
    'store' | 'device' | 'onEvent' | 'heartbeatMs' | 'staleAfterMs' | 'workerId' | 'train' | 'loadData' | 'plan' | 'preflight'
  > {
  /** the sweep to work on (default: the most recent sweep that is not finished) */
  sweep?: string;
  /** folder with the dataset files on this machine (overrides the config's dataset.dataDir) */
  dataDir?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bestOf(trials: readonly TrialRow[]): SweepProgress['best'] {
  let best: SweepProgress['best'] = null;
  for (const t of trials) {
    if (t.state !== 'done' || t.accuracy === null) continue;
    if (!best || t.accuracy > best.accuracy) best = { label: t.label, accuracy: t.accuracy, macs: t.macs };
  }
  return best;
}

async function defaultLoad(config: SweepConfig): Promise<LoadedDatasets> {
  const { openDataset, withFieldNamesAsync } = await import('../data/index.js');
  const fields = { dataDir: 'dataset.dataDir', limitTrain: 'dataset.limitTrain', limitTest: 'dataset.limitTest', validation: 'dataset.validation', inputSize: 'dataset.inputSize', name: 'dataset.name' };
  return withFieldNamesAsync(fields, () => openDataset(config.dataset.name, {
    inputSize: config.dataset.inputSize,
    imageFolder: { onWarning: (m) => process.stderr.write(`dsxplore: warning: ${m}\n`) },
    dataDir: config.dataset.dataDir,
    limitTrain: config.dataset.limitTrain,
    limitTest: config.dataset.limitTest,
    validation: config.dataset.validation,
    seed: 0,
  }));
}

async function defaultTrain(req: TrainRequest): Promise<TrainResult> {
  // imported lazily so that planning and --help work without the native addon
  const engine = await import('../engine/index.js');
  return engine.train(req);
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
  const initial = plan.search.initial();
  if (initial.length === 0 && plan.baselines.length === 0) {
    throw new UsageError('the constraints leave no candidate to train; loosen "constraints" or widen "space"');
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
  return work({ ...opts, config, plan, hash, workerId, heartbeatMs, staleAfterMs, started, emit });
}

/** Pick the sweep a worker serves: the named one, or the most recent unfinished one. */
async function pickSweep(store: SweepStore, name?: string): Promise<SweepRow> {
  if (name !== undefined) {
    const s = await store.getSweep(name);
    if (!s) {
      const known = (await store.listSweeps()).map((x) => x.name);
      throw new UsageError(
        `no sweep named '${name}' in ${store.location}` +
          (known.length ? `; sweeps there: ${known.join(', ')}` : '; it has no sweeps yet') +
          `. Queue one with: dsxplore sweep --config FILE --store URL --enqueue-only`,
      );
    }
    return s;
  }
  const open = (await store.listSweeps()).filter((s) => s.status === 'running');
  if (open.length === 0) {
    throw new UsageError(
      `no unfinished sweep in ${store.location}; queue one with: dsxplore sweep --config FILE --store URL --enqueue-only ` +
        `(or name one with --sweep NAME)`,
    );
  }
  return open.reduce((a, b) => (b.id > a.id ? b : a));
}

/** Work on a sweep queued by someone else until it has nothing queued or running left. */
export async function runWorker(opts: WorkerOptions): Promise<SweepSummary> {
  const { store } = opts;
  const started = Date.now();
  const emit = opts.onEvent ?? (() => {});
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const heartbeatMs = opts.heartbeatMs ?? 5000;
  const staleAfterMs = opts.staleAfterMs ?? Math.max(60_000, 6 * heartbeatMs);
  const row = await pickSweep(store, opts.sweep);
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
  return work({ ...opts, config, plan, hash, workerId, heartbeatMs, staleAfterMs, started, emit });
}

interface WorkContext
  extends Pick<RunnerOptions, 'store' | 'device' | 'train' | 'loadData' | 'preflight'> {
  config: SweepConfig;
  plan: SweepPlan;
  hash: string;
  workerId: string;
  heartbeatMs: number;
  staleAfterMs: number;
  started: number;
  emit: (e: SweepEvent) => void;
}

/** The worker loop: claim, train, record, schedule the next step; until nothing is left. */
async function work(opts: WorkContext): Promise<SweepSummary> {
  const { store, config, plan, hash, workerId, heartbeatMs, staleAfterMs, started, emit } = opts;
  const name = config.name;
  let data: LoadedDatasets | undefined;
  let preflight = opts.preflight ?? !opts.train;
  const train = opts.train ?? defaultTrain;
  let trained = 0;
  let reused = 0;
  let failed = 0;
  let trainSeconds = 0;
  // work done, in MACs x epochs: candidates differ tenfold in cost, so time per trial is a
  // poor yardstick for the ETA
  let trainedWork = 0;
  const work = (t: TrialRow) => t.macs * t.epochs;

  const progress = async (): Promise<SweepProgress> => {
    const trials = await store.trials(name);
    const counts = await store.counts(name);
    const finished = counts.done + counts.failed + counts.pruned + counts.diverged;
    const total = trials.length + expectedMoreTrials(config, plan.search, trials);
    const open = trials.filter((t) => t.state === 'queued' || t.state === 'running');
    const openWork = open.reduce((s, t) => s + work(t), 0);
    const meanWork = trials.reduce((s, t) => s + work(t), 0) / Math.max(1, trials.length);
    const leftWork = openWork + (total - trials.length) * meanWork;
    return {
      finished,
      total,
      counts,
      best: bestOf(trials),
      etaSeconds: trainedWork > 0 ? (trainSeconds / trainedWork) * leftWork : null,
    };
  };

  for (;;) {
    const claimed = await store.claimNext(name, workerId);
    if (!claimed) {
      const step = await advance(store, config, plan.search, name);
      if (step.kind === 'finished') break;
      if (step.kind === 'scheduled') {
        emit({ type: 'scheduled', what: step.what as 'round' | 'rung', index: step.index, trials: step.trials });
        continue;
      }
      // other workers hold the remaining trials: wait for them, reclaiming dead ones
      const counts = await store.counts(name);
      if (counts.queued === 0 && counts.running > 0) {
        await sleep(Math.min(1000, heartbeatMs));
        const back = await store.requeueRunning(name, { staleAfterMs });
        if (back > 0) {
          emit({ type: 'warning', message: `re-queued ${back} trial(s) whose worker stopped heartbeating for over ${staleAfterMs / 1000}s` });
        }
      } else await sleep(20);
      continue;
    }
    const { trial, spec } = claimed;

    const copy = await store.reuseFinished(trial.id, workerId);
    if (copy) {
      reused++;
      emit({ type: 'trial-end', trial: copy, reused: true, progress: await progress() });
      continue;
    }

    if (!data) {
      try {
        data = await (opts.loadData ? opts.loadData() : defaultLoad(config));
      } catch (err) {
        // no trial can run without data: give this one back untouched and stop
        await store.releaseTrial(trial.id, workerId);
        throw err;
      }
    }
    const dataset = data;
    if (preflight) {
      preflight = false;
      try {
        await train({
          spec,
          // the trial's own recipe (an epoch is one step here), so nothing differs but the data
          recipe: { ...trialRecipe(config, trial.epochs, trial.seed), batchSize: 2 },
          train: head(dataset.train, 2),
          test: head(dataset.validation ?? dataset.test, 2),
          device: opts.device ?? 'auto',
          evalLastOnly: true,
        });
      } catch (err) {
        await store.releaseTrial(trial.id, workerId);
        const msg = (err as Error)?.message ?? String(err);
        throw new Error(
          `training does not start (device ${opts.device ?? 'auto'}): ${msg}\n` +
            `Nothing was recorded for this trial. Fix the problem, then continue with --resume.`,
        );
      }
    }
    emit({ type: 'trial-start', trial, progress: await progress() });
    const recipe = trialRecipe(config, trial.epochs, trial.seed);
    const provenance: Record<string, unknown> = {
      dsxplore: dsxVersion,
      sweep: name,
      configHash: hash,
      specHash: trial.candidateHash,
      seed: trial.seed,
      recipe,
      recipeHash: recipeHash(config, recipe),
      dataset: config.dataset,
      deviceRequested: opts.device ?? 'auto',
      worker: workerId,
      host: hostname(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    let lost = false;
    const beat = setInterval(() => {
      store.heartbeat(trial.id, workerId).then(
        (held) => {
          if (!held) lost = true;
        },
        () => {},
      );
    }, heartbeatMs);
    beat.unref();
    const t0 = Date.now();
    try {
      const evalSet = dataset.validation ?? dataset.test;
      const result = await train({
        spec,
        recipe,
        train: dataset.train,
        test: evalSet,
        device: opts.device ?? 'auto',
        onProgress: (p) => emit({ type: 'trial-progress', trial, p }),
      });
      clearInterval(beat);
      const row = await store.finishTrial(trial.id, workerId, {
        state: result.status === 'diverged' ? 'diverged' : 'done',
        accuracy: result.testAccuracy,
        testLoss: result.testLoss,
        trainLoss: result.trainLoss,
        trainAccuracy: result.trainAccuracy,
        seconds: result.seconds,
        imagesPerSecond: result.imagesPerSecond,
        device: result.device,
        message: result.message,
        epochs: result.epochs,
        provenance: {
          ...provenance,
          device: result.device,
          threads: result.threads,
          evaluatedOn: dataset.validation ? 'validation' : 'test',
          trainImages: dataset.train.count,
          evalImages: evalSet.count,
          wallSeconds: (Date.now() - t0) / 1000,
        },
      });
      trained++;
      trainSeconds += (Date.now() - t0) / 1000;
      trainedWork += work(trial);
      emit({ type: 'trial-end', trial: row, reused: false, progress: await progress() });
    } catch (err) {
      clearInterval(beat);
      if (err instanceof TrialStateError || lost) {
        // another process took the trial over (we missed heartbeats); its result stands
        emit({ type: 'warning', message: `trial ${trial.id} (${trial.label}) was taken over by another worker: ${(err as Error).message}` });
        continue;
      }
      const message = (err as Error)?.message ?? String(err);
      const row = await store.failTrial(trial.id, workerId, message, {
        ...provenance,
        wallSeconds: (Date.now() - t0) / 1000,
      });
      failed++;
      trainSeconds += (Date.now() - t0) / 1000;
      trainedWork += work(trial);
      trained++;
      emit({ type: 'trial-end', trial: row, reused: false, progress: await progress() });
    }
  }

  await store.setSweepStatus(name, 'finished');
  const trials = await store.trials(name);
  return {
    sweep: name,
    counts: await store.counts(name),
    trained: trained - failed,
    reused,
    failed,
    best: bestOf(trials),
    seconds: (Date.now() - started) / 1000,
    database: store.location,
  };
}
