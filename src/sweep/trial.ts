// Running one claimed trial: reuse an identical finished one if there is one; otherwise
// load the data (once per worker), check once that training starts at all on this device,
// train with a heartbeat, and record the result. A training error fails the trial; an
// error of the store (full disk, lost server) is not the trial's fault and stops the
// worker with the trial left for a resume. A stop that does not drain gives the trial
// back to the queue at once.
import { cpus, hostname } from 'node:os';
import { version as dsxVersion } from '../version.js';
import type { LoadedDatasets } from '../data/index.js';
import { head } from '../data/transform.js';
import type { DeviceRequest, TrainRequest, TrainResult } from '../engine/types.js';
import type { TrialRow } from '../domain/rows.js';
import { isFinished } from '../domain/trial-states.js';
import { TrialStateError, type ClaimedTrial } from '../store/store.js';
import type { WorkContext } from './context.js';
import { startHeartbeat } from './heartbeat.js';
import { recipeHash, trialRecipe } from './identity.js';
import { encodeCheckpoint, trainedCheckpoint } from '../engine/checkpoint.js';

export type TrialEnd =
  | { kind: 'trained'; row: TrialRow; seconds: number }
  | { kind: 'failed'; row: TrialRow; seconds: number }
  /** another worker took the trial over (this one missed heartbeats); its result stands */
  | { kind: 'lost' }
  /** given back to the queue on a stop */
  | { kind: 'released' };

export async function defaultLoad(ctx: Pick<WorkContext, 'config'>): Promise<LoadedDatasets> {
  const { openDataset, withFieldNamesAsync } = await import('../data/index.js');
  const d = ctx.config.dataset;
  // the data layer names its own fields; a sweep's user knows them as config keys
  const fields = { dataDir: 'dataset.dataDir', limitTrain: 'dataset.limitTrain', limitTest: 'dataset.limitTest', validation: 'dataset.validation', inputSize: 'dataset.inputSize', name: 'dataset.name' };
  return withFieldNamesAsync(fields, () =>
    openDataset(d.name, {
      inputSize: d.inputSize,
      imageFolder: { onWarning: (m) => process.stderr.write(`dsxplore: warning: ${m}\n`) },
      dataDir: d.dataDir,
      limitTrain: d.limitTrain,
      limitTest: d.limitTest,
      validation: d.validation,
      seed: 0,
    }),
  );
}

async function defaultTrain(req: TrainRequest): Promise<TrainResult> {
  // imported lazily so that planning and --help work without the native addon
  const engine = await import('../engine/index.js');
  return engine.train(req);
}

/** Why the trial ran on the device it ran on, for its provenance. */
function deviceReason(requested: string, r: TrainResult): string {
  if (requested !== 'auto') return `requested --device ${requested}`;
  if (r.deviceFallback !== undefined) return `--device auto fell back to the CPU: ${r.deviceFallback}`;
  return r.device.startsWith('cuda') ? '--device auto: a usable CUDA device' : '--device auto';
}

export class TrialRunner {
  private data: LoadedDatasets | undefined;
  private preflight: boolean;
  private fallbackReported = false;
  private readonly train: (req: TrainRequest) => Promise<TrainResult>;

  constructor(private readonly ctx: WorkContext) {
    this.preflight = ctx.preflight ?? !ctx.train;
    this.train = ctx.train ?? defaultTrain;
  }

  /** The trial's recipe, with this lane's thread count when it has one (threads change
   * speed, not results: they are not part of the recipe's identity). */
  private recipe(epochs: number, seed: number) {
    const r = trialRecipe(this.ctx.config, epochs, seed);
    return this.ctx.threads === undefined ? r : { ...r, threads: this.ctx.threads };
  }

  /** The trial finished as a copy of an identical finished trial, or undefined. */
  reuse(c: ClaimedTrial): Promise<TrialRow | undefined> {
    return this.ctx.store.reuseFinished(c.trial.id, this.ctx.workerId);
  }

  /** Load the data and, the first time, check that training starts; on failure the trial
   * goes back to the queue untouched and the error stops the worker. */
  async prepare(c: ClaimedTrial): Promise<LoadedDatasets> {
    const { store, workerId, config } = this.ctx;
    try {
      this.data ??= await (this.ctx.loadData ? this.ctx.loadData() : defaultLoad(this.ctx));
    } catch (err) {
      // no trial can run without data
      await store.releaseTrial(c.trial.id, workerId);
      throw err;
    }
    if (this.preflight) {
      this.preflight = false;
      try {
        await this.train({
          spec: c.spec,
          // the trial's own recipe (an epoch is one step here), so nothing differs but the data
          recipe: { ...this.recipe(c.trial.epochs, c.trial.seed), batchSize: 2 },
          train: head(this.data.train, 2),
          test: head(this.data.validation ?? this.data.test, 2),
          device: (this.ctx.device ?? 'auto') as DeviceRequest,
          evalLastOnly: true,
        });
      } catch (err) {
        await store.releaseTrial(c.trial.id, workerId);
        const msg = (err as Error)?.message ?? String(err);
        throw new Error(
          `training does not start (device ${this.ctx.device ?? 'auto'}): ${msg}\n` +
            `Nothing was recorded for this trial. Fix the problem, then continue with --resume.`,
        );
      }
    }
    return this.data;
  }

  /** Train the trial with a heartbeat and record what came of it. */
  async run(c: ClaimedTrial, data: LoadedDatasets): Promise<TrialEnd> {
    const { store, workerId, config, emit } = this.ctx;
    const { trial, spec } = c;
    const recipe = this.recipe(trial.epochs, trial.seed);
    const provenance: Record<string, unknown> = {
      dsxplore: dsxVersion,
      sweep: config.name,
      configHash: this.ctx.hash,
      specHash: trial.candidateHash,
      seed: trial.seed,
      recipe,
      recipeHash: recipeHash(config, recipe),
      dataset: config.dataset,
      deviceRequested: this.ctx.device ?? 'auto',
      worker: workerId,
      host: hostname(),
      // the machine a committed study ran on is part of what its findings page reports
      cpu: cpus()[0]?.model,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    if (this.ctx.stop.requested && !this.ctx.stop.drain) {
      // stopped while the data loaded: give the trial back without starting to train
      await store.releaseTrial(trial.id, workerId);
      return { kind: 'released' };
    }
    const evalSet = data.validation ?? data.test;
    const beat = startHeartbeat(store, trial.id, workerId, this.ctx.heartbeatMs);
    const abort = this.ctx.stop.whenAborted();
    const t0 = Date.now();
    let result: TrainResult | 'aborted';
    try {
      const training = this.train({
        spec,
        recipe,
        train: data.train,
        test: evalSet,
        device: (this.ctx.device ?? 'auto') as DeviceRequest,
        keepState: (config.keepWeights ?? 'all') !== 'none',
        onProgress: (p) => emit({ type: 'trial-progress', trial, p }),
      });
      // the training cannot be cancelled: after a stop it runs on until the process exits
      training.catch(() => {});
      result = await Promise.race([training, abort.promise.then(() => 'aborted' as const)]);
    } catch (err) {
      beat.stop();
      if (beat.lost) return this.lost(trial, err as Error);
      const seconds = (Date.now() - t0) / 1000;
      const message = (err as Error)?.message ?? String(err);
      const row = await this.settle(trial, () => store.failTrial(trial.id, workerId, message, { ...provenance, wallSeconds: seconds }));
      return row ? { kind: 'failed', row, seconds } : { kind: 'lost' };
    } finally {
      abort.dispose();
    }
    beat.stop();
    if (result === 'aborted') {
      await store.releaseTrial(trial.id, workerId).catch((err) => {
        if (!(err instanceof TrialStateError)) throw err;
      });
      return { kind: 'released' };
    }
    const seconds = (Date.now() - t0) / 1000;
    const r = result;
    if (r.deviceFallback !== undefined && !this.fallbackReported) {
      this.fallbackReported = true;
      emit({ type: 'warning', message: `--device auto: CUDA is not usable (${r.deviceFallback}); training on the CPU` });
    }
    // the checkpoint format of `train --save`, so `evaluate --load` reads what the store keeps
    const weights = r.state
      ? encodeCheckpoint(
          trainedCheckpoint({
            spec,
            dataset: config.dataset.name,
            train: data.train,
            recipe,
            metrics: { sweep: config.name, trial: trial.id, candidate: trial.candidateHash, accuracy: r.testAccuracy },
          }),
          r.state,
        )
      : undefined;
    const row = await this.settle(trial, () =>
      store.finishTrial(trial.id, workerId, {
        state: r.status === 'diverged' ? 'diverged' : 'done',
        accuracy: r.testAccuracy,
        testLoss: r.testLoss,
        trainLoss: r.trainLoss,
        trainAccuracy: r.trainAccuracy,
        seconds: r.seconds,
        imagesPerSecond: r.imagesPerSecond,
        device: r.device,
        message: r.message,
        epochs: r.epochs,
        weights,
        provenance: {
          ...provenance,
          device: r.device,
          deviceReason: deviceReason(this.ctx.device ?? 'auto', r),
          threads: r.threads,
          evaluatedOn: data.validation ? 'validation' : 'test',
          trainImages: data.train.count,
          evalImages: evalSet.count,
          wallSeconds: seconds,
        },
      }),
    );
    return row ? { kind: 'trained', row, seconds } : { kind: 'lost' };
  }

  /** Record a result, or undefined when the trial is no longer this worker's. A result
   * whose COMMIT was cut off by a lost connection may have been recorded after all: the
   * retry then finds the trial finished under this worker, and that row is the result. */
  private async settle(trial: TrialRow, record: () => Promise<TrialRow>): Promise<TrialRow | undefined> {
    try {
      return await record();
    } catch (err) {
      if (!(err instanceof TrialStateError)) throw err;
      const now = await this.ctx.store.trial(trial.id);
      if (now && isFinished(now.state) && now.workerId === this.ctx.workerId) return now;
      this.lost(trial, err);
      return undefined;
    }
  }

  private lost(trial: TrialRow, err: Error): TrialEnd {
    this.ctx.emit({
      type: 'warning',
      message: `trial ${trial.id} (${trial.label}) was taken over by another worker: ${err.message}`,
    });
    return { kind: 'lost' };
  }
}
