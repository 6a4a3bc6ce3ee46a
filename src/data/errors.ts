// Errors of the data layer. They name dataset fields (dataDir, limitTrain, inputSize, ...)
// and files, never command-line flags: the CLI and the config loader know how the user
// spelled a field and rename it (renameFields) before printing.
import { UsageError } from '../errors.js';

/** The fields of a dataset request, as LoadOptions and sweep configs name them. */
export const DATASET_FIELDS = ['dataDir', 'limitTrain', 'limitTest', 'validation', 'inputSize', 'name'] as const;
export type DatasetField = (typeof DATASET_FIELDS)[number];

/** A dataset that cannot be used as asked: a missing or corrupt file, a bad option. The
 * user's to fix, so a UsageError (exit code 2). */
export class DatasetError extends UsageError {
  override name = 'DatasetError';
  constructor(
    message: string,
    /** the request field the message is about, when there is one */
    readonly field?: DatasetField,
  ) {
    super(message);
  }
}

/** The message with every dataset field name replaced by what the user typed for it,
 * e.g. { dataDir: '--data-dir' } for the CLI or { dataDir: 'dataset.dataDir' } for configs. */
export function renameFields(message: string, names: Partial<Record<DatasetField, string>>): string {
  return message.replace(/\b(dataDir|limitTrain|limitTest|validation|inputSize)\b/g, (f) => names[f as DatasetField] ?? f);
}

/** Run `fn`; a DatasetError comes back as a UsageError worded with `names`. */
export function withFieldNames<T>(names: Partial<Record<DatasetField, string>>, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DatasetError) throw new UsageError(renameFields(err.message, names));
    throw err;
  }
}

/** The async form of withFieldNames. */
export async function withFieldNamesAsync<T>(names: Partial<Record<DatasetField, string>>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DatasetError) throw new UsageError(renameFields(err.message, names));
    throw err;
  }
}
