// `dsxplore sweep`: explore a design space described by a config file, training every
// candidate the search proposes and recording results in the store as they finish.
// Commander wiring and output only; the work is in src/sweep/runner.ts.
import type { Command } from 'commander';
import type { z } from 'zod';
import { parseFlags, sweepFlagsSchema } from '../config/flags.js';
import { DEVICE_HELP, JOBS_HELP, THREADS_HELP, TRIAL_TIMEOUT_HELP } from './jobs.js';
import { loadSweepConfig } from '../config/sweep.js';
import { openStoreUrl, openStoreForReading, defaultDbPath, storeUrl, redactUrl, parseStoreUrl } from '../store/index.js';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { ReplayTable, runSweep, type SweepEvent, type SweepProgress, type SweepSummary } from '../sweep/index.js';
import { ProgressReporter, formatDuration } from '../report/progress.js';
import { exitStopped, installStop } from './stopping.js';

export const DEFAULT_MAX_CANDIDATES = 1000;

type SweepFlags = z.input<typeof sweepFlagsSchema>;

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function formatMacs(n: number | bigint): string {
  const v = Number(n);
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(v);
}

function progressText(p: SweepProgress): string {
  const best = p.best ? `best ${pct(p.best.accuracy)} (${p.best.label})` : 'best --';
  const eta = p.etaSeconds === null ? '--' : formatDuration(p.etaSeconds);
  return `[${p.finished}/${p.total}] ${best} ETA ${eta}`;
}

function progressJson(p: SweepProgress): Record<string, unknown> {
  return { finished: p.finished, total: p.total, counts: p.counts, best: p.best, eta: p.etaSeconds };
}

/** Turns runner events into a bar and lines on a terminal, JSON lines otherwise. */
export function makeReporter(json: boolean | undefined) {
  const out = new ProgressReporter({ json });
  let head = '';
  const onEvent = (e: SweepEvent) => {
    switch (e.type) {
      case 'plan': {
        const feasible = `${e.feasibleExact ? '' : '~'}${e.feasible}`;
        const text = [
          `sweep ${e.sweep}${e.resumed ? ' (resumed' + (e.requeued ? `; ${e.requeued} interrupted trial(s) re-queued` : '') + ')' : ''}`,
          `  design space: ${e.spaceSize} designs; the constraints keep ${feasible}`,
          `  search: ${e.searchKind}, ${e.initialCandidates} candidate(s) in the first round` +
            ` + ${e.baselines.length} baseline(s)${e.baselines.length ? ` (${e.baselines.join(', ')})` : ''}`,
          ...e.skippedBaselines.map((s) => `  baseline skipped: ${s}`),
        ].join('\n');
        out.event(
          'plan',
          {
            sweep: e.sweep,
            spaceSize: e.spaceSize.toString(),
            feasible: e.feasible.toString(),
            feasibleExact: e.feasibleExact,
            search: e.searchKind,
            initialCandidates: e.initialCandidates,
            baselines: e.baselines,
            skippedBaselines: e.skippedBaselines,
            resumed: e.resumed,
            requeued: e.requeued,
          },
          text,
        );
        break;
      }
      case 'scheduled':
        out.event('scheduled', { what: e.what, index: e.index, trials: e.trials }, `queued ${e.what} ${e.index}: ${e.trials} trial(s)`);
        break;
      case 'trial-start':
        head = `${progressText(e.progress)} | ${e.trial.label}${e.trial.rung ? ` rung ${e.trial.rung}` : ''} seed ${e.trial.seed}`;
        if (out.mode === 'json') out.event(
          'trial-start',
          { trial: e.trial.id, label: e.trial.label, rung: e.trial.rung, epochs: e.trial.epochs, seed: e.trial.seed, macs: e.trial.macs, ...progressJson(e.progress) },
          '',
        );
        break;
      case 'trial-progress':
        out.progress(e.p, head);
        break;
      case 'trial-end': {
        const t = e.trial;
        const what =
          t.state === 'done'
            ? `${pct(t.accuracy ?? 0)} in ${formatDuration(t.seconds ?? 0)}${e.reused ? ` (reused trial ${t.reusedFrom})` : ''}`
            : t.state === 'failed'
              ? `FAILED: ${t.error}`
              : `${t.state}${t.error ? `: ${t.error}` : ''}`;
        out.event(
          'trial-end',
          {
            trial: t.id,
            label: t.label,
            state: t.state,
            accuracy: t.accuracy,
            macs: t.macs,
            params: t.params,
            seconds: t.seconds,
            reused: e.reused,
            reusedFrom: t.reusedFrom ?? null,
            error: t.error,
            ...progressJson(e.progress),
          },
          `${progressText(e.progress)} | ${t.label} (${formatMacs(t.macs)} MACs): ${what}`,
        );
        break;
      }
      case 'warning':
        // a JSON line when asked for JSON, else on stderr (never lost in piped output)
        if (json) out.event('warning', { message: e.message }, '');
        else process.stderr.write(`warning: ${e.message}\n`);
        break;
    }
  };
  return { out, onEvent };
}

/** The final JSON line of a sweep or worker run. */
export function summaryJson(s: SweepSummary): Record<string, unknown> {
  const { sweep, counts, trained, reused, failed, best, seconds, database } = s;
  return { sweep, counts, trained, reused, failed, best, seconds, database, ...(s.replayed ? { replayed: s.replayed } : {}) };
}

export function summaryText(s: SweepSummary, dbFlag: string): string {
  const c = s.counts;
  const lines = [
    `sweep ${s.sweep} finished in ${formatDuration(s.seconds)}: ${c.done} done, ${c.failed} failed, ${c.diverged} diverged, ${c.pruned} pruned` +
      (s.replayed
        ? ` (${s.replayed.trials} replayed from ${s.replayed.from}, nothing trained)`
        : ` (${s.trained} trained now, ${s.reused} reused from earlier results)`),
    s.best ? `best accuracy: ${pct(s.best.accuracy)} (${s.best.label}, ${formatMacs(s.best.macs)} MACs)` : 'no finished candidate',
    `results are in ${s.database}; see them with:  dsxplore report --sweep ${s.sweep}${dbFlag}`,
  ];
  return lines.join('\n');
}

export async function sweepCommand(flags: SweepFlags): Promise<SweepSummary> {
  const o = parseFlags(sweepFlagsSchema, flags);
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
  const { out, onEvent } = makeReporter(o.json);
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
  return ReplayTable.open(await openStoreForReading(table, { readOnly: true }), table);
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description(
      'Explore a design space: enumerate the candidates a sweep config describes, filter them by ' +
        'analytic cost, train them (plus the std/dw-pw/dw-gpw/dw-gpw-shuffle/gc-shuffle baselines) and record every ' +
        'result in the database. Interrupted? Run the same command with --resume.',
    )
    .requiredOption('--config <file>', 'sweep config (.json or .yaml), e.g. configs/quickstart.json')
    .option('--db <path>', `SQLite results database (default ${defaultDbPath()}); same as --store sqlite:PATH`)
    .option('--store <url>', 'results store: sqlite:PATH or postgres://user:password@host:5432/db (default: $DSXPLORE_STORE, else --db)')
    .option('--enqueue-only', 'create the sweep and queue its candidates, then exit: `dsxplore worker` processes train them')
    .option('--resume', 'continue the sweep of the same name: re-queue interrupted trials, keep finished ones')
    .option('--drain', 'on SIGINT/SIGTERM, finish the running trial before stopping (default: put it back in the queue at once)')
    .option('--max-candidates <n>', `refuse a grid with more candidates than this (default ${DEFAULT_MAX_CANDIDATES})`)
    .option('--device <d>', DEVICE_HELP, 'auto')
    .option('--jobs <n>', JOBS_HELP)
    .option('--threads <n>', THREADS_HELP)
    .option('--trial-timeout <seconds>', TRIAL_TIMEOUT_HELP)
    .option('--data-dir <dir>', 'folder with the dataset files (overrides dataset.dataDir of the config)')
    .option('--json', 'print JSON lines instead of a progress display (the default when piped)')
    .option(
      '--replay <table>',
      'train nothing: answer each trial from the finished trials of TABLE (a store, e.g. results/table-resnet20/dsxplore.db) ' +
        'by spec and epochs, one recorded seed chosen with the search seed; exit 2 naming a design the table lacks',
    )
    .addHelpText('after', '\nAfterwards:  dsxplore report   (tables, Pareto front)   dsxplore pareto export --format csv')
    .action(async (opts: SweepFlags) => {
      await sweepCommand(opts);
    });
}
