// Which sweep a command means: the one it names, or else the most recent one (for a worker,
// the most recent unfinished one). One rule for report, pareto, serve and the runner:
// "most recent" is the highest id, the order the store created the sweeps in, which a
// shared store gives every machine alike (a row's created_at is the clock of the machine
// that wrote it, and two machines' clocks need not agree).
import { UsageError } from '../errors.js';
import type { SweepRow } from '../domain/rows.js';
import type { StoreReader } from './types.js';

/** A named sweep the store does not hold; the dashboard answers it with a 404. */
export class SweepNotFound extends UsageError {
  override name = 'SweepNotFound';
}

export interface ResolveOptions {
  /** only sweeps still running (a worker has nothing to do in a finished one) */
  unfinished?: boolean;
  /** what to do when there is nothing to resolve, appended to the message */
  hint?: string;
}

/** The sweep `name` names in `store`, or the most recent one (see the top of this file). */
export async function resolveSweep(
  store: StoreReader & { readonly location?: string },
  name?: string,
  opts: ResolveOptions = {},
): Promise<SweepRow> {
  const where = store.location ? ` in ${store.location}` : '';
  const hint = opts.hint ? `. ${opts.hint}` : '';
  if (name !== undefined) {
    const s = await store.getSweep(name);
    if (s) return s;
    const known = (await store.listSweeps()).map((x) => x.name);
    throw new SweepNotFound(
      `no sweep named ${JSON.stringify(name)}${where}` + (known.length ? `; sweeps there: ${known.join(', ')}` : '; it has no sweeps yet') + hint,
    );
  }
  const sweeps = (await store.listSweeps()).filter((s) => !opts.unfinished || s.status === 'running');
  if (sweeps.length === 0) {
    throw new UsageError(
      opts.unfinished
        ? `no unfinished sweep${where}; name one with --sweep NAME${hint}`
        : `no sweeps${where} yet; run dsxplore sweep --config FILE first${hint}`,
    );
  }
  return sweeps.reduce((a, b) => (b.id > a.id ? b : a));
}
