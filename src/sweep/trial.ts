// Running one claimed trial: reuse an identical finished one if there is one; otherwise
// hand it to the lane's executor (a child process, trial-process.ts), heartbeat while it
// trains, and record what came of it. A training error or the death of the child fails
// the trial; a problem of the setup (the data does not load, training does not start on
// this device) and an error of the store (full disk, lost server) are not the trial's
// fault and stop the worker with the trial left for a resume. A stop that does not drain
// ends the training at once and gives the trial back to the queue.
import { cpus, hostname } from 'node:os';
import { version as dsxVersion } from '../version.js';
import type { DeviceRequest, TrainResult } from '../engine/types.js';
import type { TrialRow } from '../domain/rows.js';
import { isFinished } from '../domain/trial-states.js';
import { TrialStateError, type ClaimedTrial } from '../store/store.js';
import type { WorkContext } from './context.js';
import { startHeartbeat } from './heartbeat.js';
import { recipeHash, trialRecipe } from './identity.js';
import { SetupError, type TrialExecutor, type TrialOutcome } from './trial-job.js';

export type TrialEnd =
  | { kind: 'trained'; row: TrialRow; seconds: number }
  | { kind: 'failed'; row: TrialRow; seconds: number }
  /** another worker took the trial over (this one missed heartbeats); its result stands */
  | { kind: 'lost' }
  /** given back to the queue on a stop */
  | { kind: 'released' };

/** Why the trial ran on the device it ran on, for its provenance. */
function deviceReason(requested: string, r: Pick<TrainResult, 'device' | 'deviceFallback'>): string {
  if (requested !== 'auto') return `requested --device ${requested}`;
  if (r.deviceFallback !== undefined) return `--device auto fell back to the CPU: ${r.deviceFallback}`;
  return r.device.startsWith('cuda') ? '--device auto: a usable CUDA device' : '--device auto';
}

export class TrialRunner {
  private preflight: boolean;
  private fallbackReported = false;

  constructor(
    private readonly ctx: WorkContext,
    private readonly executor: TrialExecutor,
  ) {
    this.preflight = ctx.preflight ?? !ctx.train;
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

  /** Train the trial with a heartbeat and record what came of it. */
  async run(c: ClaimedTrial): Promise<TrialEnd> {
    const { store, workerId, config, emit } = this.ctx;
    const { trial, spec } = c;
    const recipe = this.recipe(trial.epochs, trial.seed);
    const device = (this.ctx.device ?? 'auto') as DeviceRequest;
    const provenance: Record<string, unknown> = {
      dsxplore: dsxVersion,
      sweep: config.name,
      configHash: this.ctx.hash,
      specHash: trial.candidateHash,
      seed: trial.seed,
      recipe,
      recipeHash: recipeHash(config, recipe),
      dataset: config.dataset,
      deviceRequested: device,
      worker: workerId,
      host: hostname(),
      // the machine a committed study ran on is part of what its findings page reports
      cpu: cpus()[0]?.model,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    if (this.ctx.stop.requested && !this.ctx.stop.drain) {
      await store.releaseTrial(trial.id, workerId);
      return { kind: 'released' };
    }
    const beat = startHeartbeat(store, trial.id, workerId, this.ctx.heartbeatMs);
    const abort = this.ctx.stop.whenAborted();
    const preflight = this.preflight;
    this.preflight = false;
    const t0 = Date.now();
    let outcome: TrialOutcome | 'aborted';
    try {
      const training = this.executor.run(
        { config, trial: { id: trial.id, label: trial.label, candidateHash: trial.candidateHash }, spec, recipe, device, preflight },
        { progress: (p) => emit({ type: 'trial-progress', trial, p }) },
      );
      // after a stop the run settles as the child dies (or, in this process, whenever)
      training.catch(() => {});
      outcome = await Promise.race([training, abort.promise.then(() => 'aborted' as const)]);
    } catch (err) {
      beat.stop();
      if (err instanceof SetupError) {
        // no trial can run: give this one back untouched and stop the worker
        await store.releaseTrial(trial.id, workerId);
        throw err.toError();
      }
      if (beat.lost) return this.lost(trial, err as Error);
      const seconds = (Date.now() - t0) / 1000;
      const message = (err as Error)?.message ?? String(err);
      const row = await this.settle(trial, () => store.failTrial(trial.id, workerId, message, { ...provenance, wallSeconds: seconds }));
      return row ? { kind: 'failed', row, seconds } : { kind: 'lost' };
    } finally {
      abort.dispose();
    }
    beat.stop();
    if (outcome === 'aborted') {
      this.executor.cancel();
      await store.releaseTrial(trial.id, workerId).catch((err) => {
        if (!(err instanceof TrialStateError)) throw err;
      });
      return { kind: 'released' };
    }
    const seconds = (Date.now() - t0) / 1000;
    const { result: r, weights } = outcome;
    if (r.deviceFallback !== undefined && !this.fallbackReported) {
      this.fallbackReported = true;
      emit({ type: 'warning', message: `--device auto: CUDA is not usable (${r.deviceFallback}); training on the CPU` });
    }
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
          deviceReason: deviceReason(device, r),
          threads: r.threads,
          evaluatedOn: outcome.evaluatedOn,
          trainImages: outcome.trainImages,
          evalImages: outcome.evalImages,
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
