// One sweep's trials as last read (the store's listing: no provenance, no variants), with
// the answers computed from them, shared by every request until the sweep changes. Reading
// 10,000 trials and deriving the front takes a hundred milliseconds or more; counting trials
// by state takes a millisecond, so each request counts, and the trials are read again only
// when the counts differ (a trial was added, started or finished) or, while anything is
// queued or running, when the copy is older than MAX_AGE_MS (a re-queued and re-claimed
// trial leaves the counts as they were).
import type { ListedTrialRow, SweepRow } from '../domain/rows.js';
import type { StateCounts } from '../domain/trial-states.js';
import type { StoreReader } from '../store/types.js';

const MAX_AGE_MS = 10_000;

export interface SweepEntry {
  sweep: SweepRow;
  counts: StateCounts;
  trials: ListedTrialRow[];
  /** changes whenever the entry is read again: the page refetches what it shows */
  stamp: string;
  /** a value derived from the trials, computed once per entry (requests that come while it
   * is being computed wait for the same result; a failure is not kept) */
  memo(key: string, make: () => string | Promise<string>): Promise<string>;
}

export class SweepCache {
  private readonly entries = new Map<string, { entry: SweepEntry; key: string; at: number }>();
  private readonly loading = new Map<string, Promise<SweepEntry>>();
  private reads = 0;

  constructor(private readonly store: StoreReader) {}

  async get(sweep: SweepRow): Promise<SweepEntry> {
    const counts = await this.store.counts(sweep.name);
    const key = `${sweep.status}:${Object.values(counts).join(',')}`;
    const hit = this.entries.get(sweep.name);
    const busy = counts.queued + counts.running > 0;
    if (hit && hit.key === key && !(busy && Date.now() - hit.at > MAX_AGE_MS)) return hit.entry;
    const pending = this.loading.get(`${sweep.name}\0${key}`);
    if (pending) return pending;
    const load = (async () => {
      const trials = await this.store.trialListing(sweep.name);
      // counts from the rows themselves, so the page's counts and table always agree
      const tally = Object.fromEntries(Object.keys(counts).map((k) => [k, 0])) as StateCounts;
      for (const t of trials) tally[t.state]++;
      const memo = new Map<string, Promise<string>>();
      const entry: SweepEntry = {
        sweep,
        counts: tally,
        trials,
        stamp: `${++this.reads}:${key}`,
        memo: (k, make) => {
          let v = memo.get(k);
          if (v === undefined) {
            memo.set(k, (v = (async () => make())()));
            v.catch(() => memo.delete(k));
          }
          return v;
        },
      };
      this.entries.set(sweep.name, { entry, key, at: Date.now() });
      return entry;
    })();
    this.loading.set(`${sweep.name}\0${key}`, load);
    try {
      return await load;
    } finally {
      this.loading.delete(`${sweep.name}\0${key}`);
    }
  }
}
