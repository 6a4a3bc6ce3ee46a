// The trial state machine, named once: the TypeScript checks, the rows and the schema's
// guards (CHECK constraints and triggers, see migrations.ts) are all derived from here.

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

/** Thrown when a caller breaks the trial state machine or touches a finished trial. */
export class TrialStateError extends Error {
  override name = 'TrialStateError';
}

/** A SQL list literal of states: ('a','b'). */
export function sqlStates(states: readonly TrialState[]): string {
  return `(${states.map((s) => `'${s}'`).join(',')})`;
}

/** A SQL condition true when `from` -> `to` is a legal move (or no move at all). */
export function legalMoveSql(from: string, to: string): string {
  const moves = TRIAL_STATES.filter((s) => TRANSITIONS[s].length > 0).map(
    (s) => `(${from} = '${s}' AND ${to} IN ${sqlStates(TRANSITIONS[s])})`,
  );
  return `(${from} = ${to} OR ${moves.join(' OR ')})`;
}

/** The row of a trial about to move to `to` (by `workerId`, when a holder is named), or
 * undefined when there is none. Throws TrialStateError unless the move is legal. */
export function checkTransition<R extends { state: TrialState; worker_id: string | null }>(
  r: R | undefined,
  trialId: number,
  to: TrialState,
  workerId?: string,
): R {
  if (!r) throw new TrialStateError(`trial ${trialId} does not exist`);
  if (isFinished(r.state)) {
    throw new TrialStateError(`trial ${trialId} is finished (${r.state}) and immutable; it cannot become ${to}`);
  }
  if (!TRANSITIONS[r.state].includes(to)) {
    throw new TrialStateError(`trial ${trialId} cannot go from ${r.state} to ${to}`);
  }
  if (workerId !== undefined && r.state !== 'running') {
    throw new TrialStateError(`trial ${trialId} is ${r.state}, not running under worker ${workerId}`);
  }
  if (workerId !== undefined && r.worker_id !== workerId) {
    throw new TrialStateError(
      `trial ${trialId} is held by worker ${r.worker_id ?? '(none)'}, not ${workerId}; it was probably ` +
        `re-queued after a missed heartbeat`,
    );
  }
  return r;
}
