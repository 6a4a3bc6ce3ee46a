// A running trial's sign of life: every `everyMs` the store hears that the worker still
// holds the trial, so that other workers leave it alone; a worker that goes silent for
// longer than the stale-after period loses it to the queue. At most one beat is in flight:
// while the database is unreachable (the store is reconnecting) beats are skipped, not
// piled up.
import type { SweepStore } from '../store/store.js';

export interface Heartbeat {
  /** the store said the worker no longer holds the trial (it was re-queued) */
  readonly lost: boolean;
  stop(): void;
}

export function startHeartbeat(store: SweepStore, trialId: number, workerId: string, everyMs: number): Heartbeat {
  let lost = false;
  let inFlight = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    store
      .heartbeat(trialId, workerId)
      .then(
        (held) => {
          if (!held) lost = true;
        },
        // a failed beat is only a late one; the next tries again
        () => {},
      )
      .finally(() => (inFlight = false));
  }, everyMs);
  timer.unref();
  return {
    get lost() {
      return lost;
    },
    stop: () => clearInterval(timer),
  };
}
