// SIGINT/SIGTERM as `sweep` and `worker` tell them (the policy is in stop.ts): say what the
// first signal does, exit at once on the second, and after a stop print the summary and how
// to continue, then exit 130/143.
import type { ProgressReporter } from '../report/progress.js';
import { summaryJson, type SweepSummary } from '../report/sweep-events.js';
import type { SweepStore } from '../store/store.js';
import { StopControl, handleStopSignals, stopExitCode } from './stop.js';

export function installStop(out: ProgressReporter, drain: boolean, resumeHint: string): { stop: StopControl; dispose: () => void } {
  const stop = new StopControl(drain);
  const dispose = handleStopSignals(
    stop,
    (s) => {
      out.clear();
      process.stderr.write(
        `\ndsxplore: ${s}: ${drain ? 'finishing the running trial, then stopping' : 'putting the running trial back in the queue and stopping'}` +
          ` (a second signal stops at once)\n`,
      );
    },
    (s) => {
      out.clear();
      process.stderr.write(`\ndsxplore: second signal (${s}): stopping now; a trial left running is re-queued by: ${resumeHint}\n`);
      // the trials' processes die with this one
      process.exit(stopExitCode(s));
    },
  );
  return { stop, dispose };
}

/** After a run a signal stopped: the summary, how to continue, exit 130/143 (or `code`). */
export async function exitStopped(
  summary: SweepSummary,
  store: SweepStore,
  out: ProgressReporter,
  resumeHint: string,
  code = stopExitCode(summary.stopped!.signal),
): Promise<never> {
  const { signal, released } = summary.stopped!;
  out.clear();
  out.result(
    { ...summaryJson(summary), stopped: signal, released },
    `sweep ${summary.sweep} stopped (${signal}): ${summary.counts.done} done, ${summary.counts.queued} queued; ` +
      `${summary.trained} trained now`,
  );
  process.stderr.write(
    `dsxplore: stopped by ${signal}; finished trials are kept` +
      (released ? `, ${released} running trial(s) put back in the queue` : '') +
      `. Continue with:\n  ${resumeHint}\n`,
  );
  await store.close();
  process.exit(code);
}
