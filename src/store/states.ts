// The store's side of the trial state machine (src/domain/trial-states.ts): the check a move
// must pass before a row changes, and the same rule as SQL for the schema's guards (CHECK
// constraints and triggers, see migrations.ts).
import { isFinished, TRANSITIONS, TRIAL_STATES, type TrialState } from '../domain/trial-states.js';

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
