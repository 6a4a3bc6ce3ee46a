// Failures of the database itself (damaged file, full disk, lost server), as one-line
// messages naming the store: the CLI prints them without a stack and exits 1.
import { OutcomeError } from '../errors.js';

export class StoreError extends OutcomeError {
  override name = 'StoreError';
}
