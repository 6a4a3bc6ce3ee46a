// Claiming the next trial: take a queued one; when none is queued, schedule the sweep's
// next step (rung or round) if its current one is complete, or wait for the trials other
// workers hold, putting back in the queue those whose worker has gone silent.
import type { ClaimedTrial } from '../store/store.js';
import { advance } from './schedule.js';
import type { WorkContext } from './context.js';

export type Claim = { kind: 'trial'; claimed: ClaimedTrial } | { kind: 'finished' } | { kind: 'stopped' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function claimNext(ctx: WorkContext): Promise<Claim> {
  const { store, config, plan, workerId, staleAfterMs, emit } = ctx;
  const name = config.name;
  for (;;) {
    if (ctx.stop.requested) return { kind: 'stopped' };
    const claimed = await store.claimNext(name, workerId);
    if (claimed) return { kind: 'trial', claimed };
    const step = await advance(store, config, plan.search, name);
    if (step.kind === 'finished') return { kind: 'finished' };
    if (step.kind === 'scheduled') {
      emit({ type: 'scheduled', what: step.what as 'round' | 'rung', index: step.index, trials: step.trials });
      continue;
    }
    const counts = await store.counts(name);
    if (counts.queued === 0 && counts.running > 0) {
      await sleep(Math.min(1000, ctx.heartbeatMs));
      const back = await store.requeueRunning(name, { staleAfterMs });
      if (back > 0) {
        emit({ type: 'warning', message: `re-queued ${back} trial(s) whose worker stopped heartbeating for over ${staleAfterMs / 1000}s` });
      }
    } else await sleep(20);
  }
}
