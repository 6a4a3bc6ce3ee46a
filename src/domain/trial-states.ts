// The trial state machine, named once: the TypeScript checks, the store's rows and its
// schema's guards (CHECK constraints and triggers, src/store/migrations.ts), the reports and
// the dashboard's API all take the states and the legal moves from here.

export const TRIAL_STATES = ['queued', 'running', 'done', 'failed', 'pruned', 'diverged'] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

/** States a trial never leaves. */
export const FINISHED_STATES = ['done', 'failed', 'pruned', 'diverged'] as const satisfies readonly TrialState[];
export type FinishedState = (typeof FINISHED_STATES)[number];

export function isFinished(state: TrialState): state is FinishedState {
  return (FINISHED_STATES as readonly string[]).includes(state);
}

/** The legal moves of the trial state machine; everything else is refused. */
export const TRANSITIONS: Readonly<Record<TrialState, readonly TrialState[]>> = {
  // queued -> done is reuse of an identical finished trial; queued -> pruned is cancelling
  queued: ['running', 'done', 'pruned'],
  // running -> queued is recovery of a trial whose worker died, or a graceful stop
  running: ['queued', 'done', 'failed', 'pruned', 'diverged'],
  done: [],
  failed: [],
  pruned: [],
  diverged: [],
};

export type StateCounts = Record<TrialState, number>;

export function emptyCounts(): StateCounts {
  return Object.fromEntries(TRIAL_STATES.map((s) => [s, 0])) as StateCounts;
}
