// What the sweep runner tells whoever watches it (its events, its progress, its summary),
// and the one reporter of them that `sweep` and `worker` share: a progress bar and lines on
// a terminal, JSON lines when piped or with --json. The runner (src/sweep/) emits these
// types; the commands and the stop handling (src/sweep/stopping.ts) print them.
import type { TrainProgress } from '../domain/metrics.js';
import type { TrialRow } from '../domain/rows.js';
import type { StateCounts } from '../domain/trial-states.js';
import { formatDuration, ProgressReporter } from './progress.js';
import { formatPercent } from './format.js';

/** The signals that stop a sweep gracefully. */
export type StopSignal = 'SIGINT' | 'SIGTERM';

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
  /** set when a signal stopped the run before the sweep finished */
  stopped?: { signal: StopSignal; released: number };
  /** with --replay: the table the results came from, and how many trials it answered */
  replayed?: { from: string; trials: number };
}

export function formatMacs(n: number | bigint): string {
  const v = Number(n);
  if (v >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(v);
}

function progressText(p: SweepProgress): string {
  const best = p.best ? `best ${formatPercent(p.best.accuracy)} (${p.best.label})` : 'best --';
  const eta = p.etaSeconds === null ? '--' : formatDuration(p.etaSeconds);
  return `[${p.finished}/${p.total}] ${best} ETA ${eta}`;
}

function progressJson(p: SweepProgress): Record<string, unknown> {
  return { finished: p.finished, total: p.total, counts: p.counts, best: p.best, eta: p.etaSeconds };
}

/** Turns runner events into a bar and lines on a terminal, JSON lines otherwise. */
export function sweepReporter(json: boolean | undefined) {
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
            ? `${formatPercent(t.accuracy ?? 0)} in ${formatDuration(t.seconds ?? 0)}${e.reused ? ` (reused trial ${t.reusedFrom})` : ''}`
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
    s.best ? `best accuracy: ${formatPercent(s.best.accuracy)} (${s.best.label}, ${formatMacs(s.best.macs)} MACs)` : 'no finished candidate',
    `results are in ${s.database}; see them with:  dsxplore report --sweep ${s.sweep}${dbFlag}`,
  ];
  return lines.join('\n');
}
