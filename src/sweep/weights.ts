// keepWeights: "front": once a sweep has ended, the weights of every trial that does not
// stand for a candidate on the Pareto front are dropped from the store. The front is the
// report's (done trials at the highest fidelity, seeds averaged, the sweep's objectives),
// so the weights left are exactly those `pareto export --weights` writes.
import type { SweepConfig } from '../config/sweep.js';
import { summarize } from '../report/summary.js';
import type { SweepStore } from '../store/store.js';

/** Drop the weights of the sweep's trials off the front; returns how many were dropped. */
export async function keepFrontWeights(store: SweepStore, config: SweepConfig): Promise<number> {
  const trials = await store.trials(config.name);
  const s = summarize(config.name, trials, config.objectives);
  const front = new Set(s.front.map((c) => c.hash));
  const off = trials.filter((t) => !(front.has(t.candidateHash) && t.state === 'done' && t.epochs === s.epochs));
  return off.length ? store.dropWeights(off.map((t) => t.id)) : 0;
}
