// Small stand-ins for the store tests (SQLite and PostgreSQL alike): a candidate with a toy
// spec, a trial to queue, and a finished outcome.
import type { TrialInput } from '../../src/store/index.js';
import type { Candidate } from '../../src/space/types.js';
import type { ModelSpec } from '../../src/models/spec.js';

export function candidate(name: string, macs = 1000, baseline = false): Candidate {
  const spec = { format: 1, model: 'toy', inputShape: [1, 8, 8], classes: 2, slots: [], layers: [], tensors: [[1, 8, 8]], note: name } as unknown as ModelSpec;
  return { hash: `h-${name}`, variants: [{ kind: 'std' }], label: name, baseline, spec, macs, flops: 2 * macs, params: macs / 10 };
}

export function trial(c: Candidate, extra: Partial<TrialInput> = {}): TrialInput {
  return { candidate: c, rung: 0, round: 0, epochs: 1, seed: 0, recipeHash: 'r1', ...extra };
}

export const outcome = (accuracy: number, provenance: Record<string, unknown> = { seed: 0 }) => ({
  state: 'done' as const,
  accuracy,
  testLoss: 0.5,
  trainLoss: 0.4,
  trainAccuracy: 0.9,
  seconds: 1.5,
  imagesPerSecond: 100,
  device: 'cpu',
  provenance,
  epochs: [{ epoch: 1, lr: 0.1, trainLoss: 0.4, trainAccuracy: 0.9, testAccuracy: accuracy, seconds: 1.5 }],
});
