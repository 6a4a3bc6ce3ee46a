// `dsxplore sweep`: explore a design space described by a config file, training every
// candidate the search proposes and recording results in the store as they finish.
// Commander wiring and output only; the work is in src/sweep/runner.ts.
import type { Command } from 'commander';
import { addFlags, DATA_DIR_FLAG, DRAIN_FLAG, flag, JOB_FLAGS, parseFlags, PROGRESS_JSON_FLAG, STORE_FLAGS, toggle } from '../config/flags.js';
import { count, path } from '../config/rules.js';
import { loadSweepConfig } from '../config/sweep.js';
import { resolve } from 'node:path';
import { openStoreUrl, openStoreForReading, DEFAULT_DB_PATH, storeUrl, redactUrl, parseStoreUrl } from '../store/index.js';
import { UsageError } from '../errors.js';
import { exitStopped, installStop, ReplayTable, runSweep, type SweepSummary } from '../sweep/index.js';
import { summaryJson, summaryText, sweepReporter } from '../report/sweep-events.js';

export const DEFAULT_MAX_CANDIDATES = 1000;

const SWEEP_FLAGS = {
  config: flag('--config <file>', 'sweep config (.json or .yaml), e.g. configs/quickstart.json', path(), { required: true }),
  db: STORE_FLAGS.db.withHelp(`SQLite results database (default $DSXPLORE_DB, else ${DEFAULT_DB_PATH}); same as --store sqlite:PATH`),
  store: STORE_FLAGS.store.withHelp('results store: sqlite:PATH or postgres://user:password@host:5432/db (default: $DSXPLORE_STORE, else --db)'),
  enqueueOnly: toggle('--enqueue-only', 'create the sweep and queue its candidates, then exit: `dsxplore worker` processes train them'),
  resume: toggle('--resume', 'continue the sweep of the same name: re-queue interrupted trials, keep finished ones'),
  drain: DRAIN_FLAG,
  maxCandidates: flag(
    '--max-candidates <n>',
    `refuse a grid with more candidates than this (default ${DEFAULT_MAX_CANDIDATES})`,
    count(1, 10_000_000),
  ),
  ...JOB_FLAGS,
  dataDir: DATA_DIR_FLAG.withHelp('folder with the dataset files (overrides dataset.dataDir of the config)'),
  json: PROGRESS_JSON_FLAG,
  replay: flag(
    '--replay <table>',
    'train nothing: answer each trial from the finished trials of TABLE (a store, e.g. results/table-resnet20/dsxplore.db) ' +
      'by spec and epochs, one recorded seed chosen with the search seed; exit 2 naming a design the table lacks',
    path(),
  ),
};

async function sweepCommand(flags: unknown): Promise<SweepSummary> {
  const o = parseFlags(SWEEP_FLAGS, flags);
  const loaded = loadSweepConfig(o.config);
  const config = o.dataDir ? { ...loaded, dataset: { ...loaded.dataset, dataDir: o.dataDir } } : loaded;
  const url = storeUrl(o);
  const replay = o.replay !== undefined ? await openReplay(o.replay, url) : undefined;
  let store;
  try {
    store = await openStoreUrl(url);
  } catch (err) {
    await replay?.close();
    throw err;
  }
  const storeFlag = o.store ? ` --store ${redactUrl(o.store)}` : o.db ? ` --db ${o.db}` : '';
  const { out, onEvent } = sweepReporter(o.json);
  const resumeHint = `dsxplore sweep --config ${o.config}${storeFlag} --resume`;
  const { stop, dispose } = installStop(out, o.drain ?? false, resumeHint);
  store.onWarning = (message) => onEvent({ type: 'warning', message });
  try {
    const summary = await runSweep({
      store,
      config,
      device: o.device,
      jobs: o.jobs,
      threads: o.threads,
      trialTimeoutMs: o.trialTimeout === undefined ? undefined : o.trialTimeout * 1000,
      resume: o.resume ?? false,
      maxCandidates: o.maxCandidates ?? DEFAULT_MAX_CANDIDATES,
      onEvent,
      enqueueOnly: o.enqueueOnly ?? false,
      stop,
      replay,
    });
    if (summary.stopped) await exitStopped(summary, store, out, resumeHint);
    out.clear();
    if (o.enqueueOnly) {
      const q = summary.counts;
      out.result(
        { sweep: summary.sweep, counts: q, enqueued: true, database: summary.database },
        `sweep ${summary.sweep} queued in ${summary.database}: ${q.queued} trial(s) queued, ${q.running} running, ` +
          `${q.done + q.failed + q.diverged + q.pruned} finished.\nStart workers (on any machine that reaches the store) with:\n` +
          `  dsxplore worker${storeFlag} --sweep ${summary.sweep} [--device cuda:0]`,
      );
      return summary;
    }
    out.result(
      summaryJson(summary),
      summaryText(summary, storeFlag),
    );
    return summary;
  } finally {
    dispose();
    out.clear();
    await store.close();
    await replay?.close();
  }
}

/** The table of a replay, opened read-only; never the store the replay writes. */
async function openReplay(table: string, url: string): Promise<ReplayTable> {
  const out = parseStoreUrl(url);
  if (out.kind === 'sqlite' && resolve(out.path) === resolve(table.replace(/^sqlite:/, ''))) {
    throw new UsageError(`--replay ${table} is the store the replay would write; give another --db (e.g. --db results/replay.db)`);
  }
  return ReplayTable.open(await openStoreForReading(table), table);
}

export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .description(
      'Explore a design space: enumerate the candidates a sweep config describes, filter them by ' +
        'analytic cost, train them (plus the std/dw-pw/dw-gpw/dw-gpw-shuffle/gc-shuffle baselines) and record every ' +
        'result in the database. Interrupted? Run the same command with --resume.',
    );
  addFlags(cmd, SWEEP_FLAGS)
    .addHelpText('after', '\nAfterwards:  dsxplore report   (tables, Pareto front)   dsxplore pareto export --format csv')
    .action(async (opts: unknown) => {
      await sweepCommand(opts);
    });
}
