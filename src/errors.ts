// Errors the CLI turns into exit codes. A UsageError is the user's to fix (bad flag, bad
// config, unknown model): printed without a stack, exit code 2.
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The native addon is missing or failed to load; the message says how to build it. */
export class AddonError extends Error {
  override name = 'AddonError';
}

/** A failure that is an outcome, not a bug (e.g. a training run that diverged): the CLI
 * prints the message and exits 1, without pointing at stack traces. */
export class OutcomeError extends Error {
  override name = 'OutcomeError';
}
