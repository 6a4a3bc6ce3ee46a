// The --stem flag of inspect and train.
import { UsageError } from '../errors.js';
import { STEMS, type Stem } from '../models/index.js';

export function parseStem(raw: string | undefined): Stem {
  if (raw === undefined) return 'cifar';
  if (!(STEMS as readonly string[]).includes(raw)) throw new UsageError(`--stem must be one of ${STEMS.join(', ')}, got "${raw}"`);
  return raw as Stem;
}
