// Graceful stops. The first SIGINT or SIGTERM asks the runner to stop: by default the
// trials in training are ended at once (their child processes killed, mid-epoch) and go
// back to the queue; with --drain the running trials finish and are recorded, and no new
// one is claimed. Either way the store is left consistent and the process exits 130
// (SIGINT) or 143 (SIGTERM). A second signal exits at once; whatever it leaves running is
// re-queued by `--resume` or, on a shared store, by other workers once its heartbeat is
// stale. Training runs in child processes (trial-process.ts), never on a thread of this
// one, so nothing holds the exit.

import type { StopSignal } from '../report/sweep-events.js';

export type { StopSignal };

export class StopControl {
  signal: StopSignal | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(readonly drain = false) {}

  get requested(): boolean {
    return this.signal !== null;
  }

  /** Ask the runner to stop; false when a stop was already asked for. */
  request(signal: StopSignal): boolean {
    if (this.signal) return false;
    this.signal = signal;
    if (!this.drain) for (const w of this.waiters) w();
    return true;
  }

  /** Resolves when a stop that does not drain is asked for (never, with --drain). */
  whenAborted(): { promise: Promise<void>; dispose: () => void } {
    let wake!: () => void;
    const promise = new Promise<void>((res) => (wake = res));
    if (this.signal && !this.drain) wake();
    else this.waiters.add(wake);
    return { promise, dispose: () => this.waiters.delete(wake) };
  }
}

/** The exit code of a process stopped by `signal`: 128 + its number. */
export function stopExitCode(signal: StopSignal): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/** Route SIGINT and SIGTERM to `stop`; a second signal calls `now`, which should exit at
 * once. Returns a function that removes the handlers. */
export function handleStopSignals(stop: StopControl, first: (s: StopSignal) => void, now: (s: StopSignal) => void): () => void {
  const on = (s: StopSignal) => {
    if (stop.request(s)) first(s);
    else now(s);
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  };
}
