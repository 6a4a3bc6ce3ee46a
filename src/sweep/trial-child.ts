// The process a lane's trials train in (forked by trial-process.ts): it receives one job at
// a time over the IPC channel, loads the sweep's data on its first (image-folder caches and
// memory-mapped files make that cheap), trains on the native engine, and sends back the
// progress and the outcome, weights included. It owns no store: whatever kills it (a crash,
// a device fault, the kernel's out-of-memory killer, a stop) costs only the trial it holds.
// It dies with its parent: when the channel closes it ends at once, training or not.
//
// DSXPLORE_FAULT_LABEL (tests): with DSXPLORE_FAULT_OP, the fault applies only to the trials
// of the candidate with this label, so that one sweep holds both faulty and healthy trials.
import type { SweepConfig } from '../config/sweep.js';
import { LocalTrials, SetupError, engineTrain, loadSweepData, type TrialJob } from './trial-job.js';
import type { ChildMessage, ParentMessage } from './trial-process.js';

const send = (m: ChildMessage) => process.send!(m);

let trials: LocalTrials | undefined;
let config: SweepConfig | undefined;
const faultOp = process.env.DSXPLORE_FAULT_OP;
const faultLabel = process.env.DSXPLORE_FAULT_LABEL;

function applyFaultFilter(job: TrialJob): void {
  if (faultOp === undefined || faultLabel === undefined) return;
  // read by the native backend when the training creates it
  if (job.trial.label === faultLabel) process.env.DSXPLORE_FAULT_OP = faultOp;
  else delete process.env.DSXPLORE_FAULT_OP;
}

async function run(job: TrialJob): Promise<void> {
  config ??= job.config;
  trials ??= new LocalTrials(
    () => loadSweepData(config!, (message) => send({ type: 'warning', message })),
    engineTrain,
  );
  applyFaultFilter(job);
  try {
    const outcome = await trials.run(job, {
      started: () => send({ type: 'started' }),
      progress: (p) => send({ type: 'progress', p }),
    });
    send({ type: 'done', outcome });
  } catch (err) {
    if (err instanceof SetupError) send({ type: 'setup-error', message: err.message, usage: err.usage });
    else send({ type: 'failed', message: (err as Error)?.message ?? String(err) });
  }
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'run') void run(m.job);
});
// a training on the native thread would hold an orderly exit until it ends
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
