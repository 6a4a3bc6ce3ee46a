// What `report` and `pareto export|plot` read before they render: a sweep of a store (named,
// or the most recent one: resolveSweep in src/store), its trials and their summary over
// the objectives asked for (else the sweep config's), and the text they write.
import { writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { configuredObjectives, type Objective } from '../pareto/objectives.js';
import { resolveSweep } from '../store/resolve.js';
import type { SweepRow, TrialRow } from '../domain/rows.js';
import type { StoreReader } from '../store/types.js';
import { summarize, type SweepSummary } from './summary.js';

export interface SweepRead {
  sweep: SweepRow;
  trials: TrialRow[];
  summary: SweepSummary;
}

/** The sweep `name` names (or the most recent), summarised over `objectives` (default: its config's). */
export async function readSweep(store: StoreReader, name?: string, objectives?: Objective[]): Promise<SweepRead> {
  const sweep = await resolveSweep(store, name);
  const trials = await store.trials(sweep.name);
  return { sweep, trials, summary: summarize(sweep.name, trials, objectives ?? configuredObjectives(sweep.config)) };
}

/** "resnet20 on cifar10, done": what a sweep was, for titles. */
export function sweepContext(sweep: SweepRow): string {
  const c = sweep.config as { model?: unknown; dataset?: { name?: unknown } } | null;
  const parts: string[] = [];
  if (typeof c?.model === 'string') parts.push(c.model);
  if (typeof c?.dataset?.name === 'string') parts.push(`on ${c.dataset.name}`);
  return [parts.join(' '), sweep.status].filter(Boolean).join(', ');
}

/** `text` to the file `out`, or to standard output without one. */
export function writeOut(text: string, out?: string): void {
  if (out) {
    try {
      writeFileSync(out, text);
    } catch (err) {
      throw new UsageError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else process.stdout.write(text);
}

/** What the reading commands' help says about the sweep, the store and the figures. */
export const READING_HELP = `
The sweep defaults to the most recent one in the store (the last created). The store is
--store URL (sqlite:PATH or postgres://...) or --db PATH (not both), else $DSXPLORE_STORE,
else $DSXPLORE_DB, else results/dsxplore.db. Accuracy is the mean over seeds of the done
trials at the sweep's highest fidelity (epochs). The front keeps every non-dominated
candidate, duplicates included. Hypervolume is measured over accuracy (reference 0) and
1 - cost/reference cost, the reference cost being the largest among the candidates.`;
