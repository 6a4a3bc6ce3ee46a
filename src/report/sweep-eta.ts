// The sweep's ETA, one estimate for `dsxplore sweep`'s progress line and the dashboard.
// Candidates differ tenfold in cost, so time is counted per unit of work (MACs x epochs)
// rather than per trial; and trials run side by side (--jobs lanes, other workers), so the
// work left is divided among the trials running now.
import type { ListedTrialRow } from '../domain/rows.js';

type EtaTrial = Pick<ListedTrialRow, 'state' | 'macs' | 'epochs' | 'startedAt' | 'finishedAt' | 'reusedFrom'>;

const workOf = (t: Pick<ListedTrialRow, 'macs' | 'epochs'>) => t.macs * t.epochs;

/** Seconds per unit of work, from the trials that trained to the end (their own start to
 * finish; copies of earlier results took no time); null before one has. Wall-clock gaps
 * between sittings of a resumed sweep do not count. */
export function secondsPerWork(trials: readonly EtaTrial[]): number | null {
  let seconds = 0;
  let work = 0;
  for (const t of trials) {
    if (t.state === 'queued' || t.state === 'running' || t.reusedFrom != null || !t.startedAt || !t.finishedAt) continue;
    const s = (Date.parse(t.finishedAt) - Date.parse(t.startedAt)) / 1000;
    if (!Number.isFinite(s) || s < 0) continue;
    seconds += s;
    work += workOf(t);
  }
  return work > 0 ? seconds / work : null;
}

export interface EtaOptions {
  /** seconds per unit of work; default (or undefined): secondsPerWork(trials) */
  secondsPerWork?: number | null | undefined;
  /** trials the sweep will still add, at the mean work of those it has (default 0) */
  moreTrials?: number;
  /** trials that run side by side at least (the lanes of this process); the running trials
   * count when there are more (other workers) */
  parallel?: number;
}

/** Estimated seconds until the sweep's work is done; null when nothing is left or nothing
 * has finished to measure the pace by. */
export function sweepEtaSeconds(trials: readonly EtaTrial[], opts: EtaOptions = {}): number | null {
  const open = trials.filter((t) => t.state === 'queued' || t.state === 'running');
  const more = opts.moreTrials ?? 0;
  if (open.length === 0 && more <= 0) return null;
  const pace = opts.secondsPerWork === undefined ? secondsPerWork(trials) : opts.secondsPerWork;
  if (pace === null || !(pace > 0)) return null;
  const meanWork = trials.reduce((s, t) => s + workOf(t), 0) / Math.max(1, trials.length);
  const leftWork = open.reduce((s, t) => s + workOf(t), 0) + more * meanWork;
  const running = open.filter((t) => t.state === 'running').length;
  const side = Math.max(1, opts.parallel ?? 1, running);
  return (pace * leftWork) / side;
}
