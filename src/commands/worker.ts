// `dsxplore worker`: train the queued trials of a sweep from a shared store, on this
// machine, until the sweep has nothing queued or running left. Start as many as there are
// GPUs (one per --device), on as many machines as reach the store. Commander wiring and
// output only; the loop is runWorker in src/sweep/runner.ts.
import type { Command } from 'commander';
import type { z } from 'zod';
import { parseFlags, workerFlagsSchema } from '../config/flags.js';
import { DEVICE_HELP, JOBS_HELP, THREADS_HELP, TRIAL_TIMEOUT_HELP } from './jobs.js';
import { UsageError } from '../errors.js';
import { openStoreUrl, storeUrl, redactUrl } from '../store/index.js';
import { runWorker, type SweepSummary } from '../sweep/index.js';
import { makeReporter, summaryJson, summaryText } from './sweep.js';
import { exitStopped, installStop } from './stopping.js';

type WorkerFlags = z.input<typeof workerFlagsSchema>;

export const DEFAULT_HEARTBEAT_S = 5;
export const DEFAULT_STALE_AFTER_S = 60;

export async function workerCommand(flags: WorkerFlags): Promise<SweepSummary> {
  const o = parseFlags(workerFlagsSchema, flags);
  const heartbeatMs = (o.heartbeat ?? DEFAULT_HEARTBEAT_S) * 1000;
  const staleAfterMs = (o.staleAfter ?? Math.max(DEFAULT_STALE_AFTER_S, (6 * heartbeatMs) / 1000)) * 1000;
  if (staleAfterMs < 2 * heartbeatMs) {
    throw new UsageError('--stale-after must be at least twice --heartbeat, or live workers lose their trials');
  }
  const store = await openStoreUrl(storeUrl(o));
  const storeFlag = o.store ? ` --store ${redactUrl(o.store)}` : o.db ? ` --db ${o.db}` : '';
  const { out, onEvent } = makeReporter(o.json);
  const resumeHint = `dsxplore worker${storeFlag}${o.sweep ? ` --sweep ${o.sweep}` : ''}`;
  const { stop, dispose } = installStop(out, o.drain ?? false, resumeHint);
  // workers elsewhere use the store too: the reconnects of a shared store are news
  store.onWarning = (message) => onEvent({ type: 'warning', message });
  try {
    const summary = await runWorker({
      store,
      sweep: o.sweep,
      device: o.device,
      jobs: o.jobs,
      threads: o.threads,
      trialTimeoutMs: o.trialTimeout === undefined ? undefined : o.trialTimeout * 1000,
      heartbeatMs,
      staleAfterMs,
      dataDir: o.dataDir,
      onEvent,
      stop,
    });
    if (summary.stopped) await exitStopped(summary, store, out, resumeHint);
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
  program
    .command('worker')
    .description(
      'Train queued trials of a sweep from a shared store (PostgreSQL) until it has nothing queued or ' +
        'running left. Queue the sweep first with: dsxplore sweep --config FILE --store URL --enqueue-only. ' +
        'Run one worker per GPU, on any number of machines.',
    )
    .option('--store <url>', 'results store: postgres://user:password@host:5432/db or sqlite:PATH (default: $DSXPLORE_STORE)')
    .option('--db <path>', 'SQLite shorthand for --store sqlite:PATH (one machine only)')
    .option('--sweep <name>', 'sweep to work on (default: the most recent unfinished one)')
    .option('--device <d>', DEVICE_HELP, 'auto')
    .option('--jobs <n>', JOBS_HELP)
    .option('--threads <n>', THREADS_HELP)
    .option('--trial-timeout <seconds>', TRIAL_TIMEOUT_HELP)
    .option('--heartbeat <seconds>', `how often a running trial tells the store it is alive (default ${DEFAULT_HEARTBEAT_S})`)
    .option(
      '--stale-after <seconds>',
      `re-queue a running trial whose worker sent no heartbeat for this long (default ${DEFAULT_STALE_AFTER_S})`,
    )
    .option('--data-dir <dir>', 'folder with the dataset files on this machine (overrides dataset.dataDir of the config)')
    .option('--drain', 'on SIGINT/SIGTERM, finish the running trial before stopping (default: put it back in the queue at once)')
    .option('--json', 'print JSON lines instead of a progress display (the default when piped)')
    .action(async (opts: WorkerFlags) => {
      await workerCommand(opts);
    });
}
