// `dsxplore worker`: train the queued trials of a sweep from a shared store, on this
// machine, until the sweep has nothing queued or running left. Start as many as there are
// GPUs (one per --device), on as many machines as reach the store. Commander wiring and
// output only; the loop is runWorker in src/sweep/runner.ts.
import type { Command } from 'commander';
import { addFlagsAndRun, DATA_DIR_FLAG, DRAIN_FLAG, flag, JOB_FLAGS, parseFlags, PROGRESS_JSON_FLAG, STORE_FLAGS } from '../config/flags.js';
import { seconds, text } from '../config/rules.js';
import { UsageError } from '../errors.js';
import { openStoreUrl, storeUrl, redactUrl } from '../store/index.js';
import { exitStopped, installStop, runWorker, type SweepSummary } from '../sweep/index.js';
import { summaryJson, summaryText, sweepReporter } from '../report/sweep-events.js';
import { slurmWorkerEnv } from '../launch/slurm-env.js';

const DEFAULT_HEARTBEAT_S = 5;
const DEFAULT_STALE_AFTER_S = 60;

const WORKER_FLAGS = {
  store: STORE_FLAGS.store.withHelp('results store: postgres://user:password@host:5432/db or sqlite:PATH (default: $DSXPLORE_STORE)'),
  db: STORE_FLAGS.db.withHelp('SQLite shorthand for --store sqlite:PATH (one machine only)'),
  sweep: flag('--sweep <name>', 'sweep to work on (default: the most recent unfinished one)', text('a sweep name', 200)),
  ...JOB_FLAGS,
  heartbeat: flag('--heartbeat <seconds>', `how often a running trial tells the store it is alive (default ${DEFAULT_HEARTBEAT_S})`, seconds()),
  staleAfter: flag(
    '--stale-after <seconds>',
    `re-queue a running trial whose worker sent no heartbeat for this long (default ${DEFAULT_STALE_AFTER_S})`,
    seconds(),
  ),
  dataDir: DATA_DIR_FLAG.withHelp('folder with the dataset files on this machine (overrides dataset.dataDir of the config)'),
  drain: DRAIN_FLAG,
  json: PROGRESS_JSON_FLAG,
};

async function workerCommand(flags: unknown): Promise<SweepSummary> {
  const o = parseFlags(WORKER_FLAGS, flags);
  const heartbeatMs = (o.heartbeat ?? DEFAULT_HEARTBEAT_S) * 1000;
  const staleAfterMs = (o.staleAfter ?? Math.max(DEFAULT_STALE_AFTER_S, (6 * heartbeatMs) / 1000)) * 1000;
  if (staleAfterMs < 2 * heartbeatMs) {
    throw new UsageError('--stale-after must be at least twice --heartbeat, or live workers lose their trials');
  }
  const store = await openStoreUrl(storeUrl(o));
  const storeFlag = o.store ? ` --store ${redactUrl(o.store)}` : o.db ? ` --db ${o.db}` : '';
  const { out, onEvent } = sweepReporter(o.json);
  const resumeHint = `dsxplore worker${storeFlag}${o.sweep ? ` --sweep ${o.sweep}` : ''}`;
  const { stop, dispose } = installStop(out, o.drain ?? false, resumeHint);
  // under Slurm (`dsxplore launch slurm`): named after the job, array task and node, and on
  // the devices Slurm allocated unless --device says otherwise
  const slurm = slurmWorkerEnv(process.env, process.pid);
  const lanes = slurm && o.device === 'auto' ? { device: slurm.device, jobs: o.jobs ?? slurm.jobs, threads: o.threads ?? slurm.threads } : o;
  if (slurm) out.event('slurm', { worker: slurm.workerId, device: lanes.device, jobs: lanes.jobs ?? 1 }, `${slurm.where}: worker ${slurm.workerId}, device ${lanes.device}`);
  // workers elsewhere use the store too: the reconnects of a shared store are news
  store.onWarning = (message) => onEvent({ type: 'warning', message });
  try {
    const summary = await runWorker({
      store,
      sweep: o.sweep,
      device: lanes.device,
      jobs: lanes.jobs,
      threads: lanes.threads,
      ...(slurm ? { workerId: slurm.workerId } : {}),
      trialTimeoutMs: o.trialTimeout === undefined ? undefined : o.trialTimeout * 1000,
      heartbeatMs,
      staleAfterMs,
      dataDir: o.dataDir,
      onEvent,
      stop,
    });
    // under Slurm the signal is the allocation ending (the time-limit warning, scancel,
    // preemption): with its trial given back the task has done its part, so it ends as
    // COMPLETED rather than FAILED, and the sweep goes on in the other tasks
    if (summary.stopped) await exitStopped(summary, store, out, resumeHint, slurm ? 0 : undefined);
    out.clear();
    out.result(
      summaryJson(summary),
      summaryText(summary, storeFlag).replace(/^sweep (\S+) finished/, 'worker done: sweep $1 finished'),
    );
    return summary;
  } finally {
    dispose();
    out.clear();
    await store.close();
  }
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description(
      'Train queued trials of a sweep from a shared store (PostgreSQL) until it has nothing queued or ' +
        'running left. Queue the sweep first with: dsxplore sweep --config FILE --store URL --enqueue-only. ' +
        'Run one worker per GPU, on any number of machines.',
    );
  addFlagsAndRun(cmd, WORKER_FLAGS, workerCommand);
}
