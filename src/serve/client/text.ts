// How the page writes numbers: the CLI's formatters (src/report/format.ts) for counts,
// accuracies and durations, with the page's blanks for values not there; the rest is the
// page's own (latency ticks, local times, column names).
import type { FrontCost } from '../../config/serve.js';
import { formatCount, formatDuration, formatPercent } from '../../report/format.js';

type Maybe = number | null | undefined;
const known = (v: Maybe): v is number => v !== null && v !== undefined && Number.isFinite(v);

export const count = (v: Maybe): string => (known(v) ? formatCount(v) : '');
export const percent = (v: Maybe): string => (known(v) ? formatPercent(v) : '');
/** seconds as a table shows them: one decimal below 100 */
export const seconds = (v: Maybe): string => (!known(v) ? '' : v < 100 ? v.toFixed(1) : String(Math.round(v)));
/** the sweep's ETA as `dsxplore sweep` prints it */
export const eta = (v: number | null): string => (v === null ? '--' : formatDuration(v));
export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');
export const fixed = (v: Maybe, digits: number): string | null => (known(v) ? v.toFixed(digits) : null);

export const COST_NAMES: Record<FrontCost, string> = { macs: 'MACs', params: 'params', latency: 'latency (ms)' };

/** milliseconds with three significant digits or so (uPlot hands axis formatters null for
 * ticks it skips) */
export function ms(v: Maybe): string {
  if (!known(v)) return '';
  return v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

export const costText = (cost: FrontCost, v: Maybe): string => (cost === 'latency' ? ms(v) : count(v));
