// Where exported weights come from: a checkpoint file (`train --save`, `pareto export
// --weights`) or a finished trial's weights in the store. Both end as one Checkpoint, and
// every failure names the file or the trial.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { OutcomeError, UsageError } from '../errors.js';
import { decodeCheckpoint, loadCheckpoint, type Checkpoint } from '../engine/checkpoint.js';
import type { SweepStore } from '../store/store.js';
import type { TrialRow } from '../domain/rows.js';
import type { CandidateResult } from '../domain/candidate.js';
import { writeAtomically } from './export.js';

/** The checkpoint of a finished trial, from the store. */
export async function trialCheckpoint(store: SweepStore, id: number): Promise<{ trial: TrialRow; checkpoint: Checkpoint }> {
  const trial = await store.trial(id);
  if (!trial) throw new UsageError(`no trial ${id} in ${store.location}; trial ids are in dsxplore report --json`);
  const w = await store.trialWeights(id);
  if (!w) {
    const why =
      trial.state === 'done' || trial.state === 'diverged'
        ? 'its sweep ran with keepWeights "none", or "front" dropped them because it was dominated, or it was recorded before weights were kept'
        : `it is ${trial.state}, not done`;
    throw new OutcomeError(`trial ${id} (${trial.label}) has no weights in ${store.location}: ${why}`);
  }
  const source = w.trialId === id ? `the weights of trial ${id}` : `the weights of trial ${w.trialId} (reused by trial ${id})`;
  return { trial, checkpoint: decodeCheckpoint(w.checkpoint, `${source} in ${store.location}`) };
}

/** The checkpoint in a file. */
export function fileCheckpoint(path: string): Checkpoint {
  return loadCheckpoint(path);
}

/** Refuse an output path whose directory does not exist, before any work is done. */
export function checkOutputDir(path: string, flag: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`${flag} ${path}: the directory ${dir} does not exist`);
  }
}

export interface WrittenWeights {
  label: string;
  hash: string;
  trial: number;
  accuracy: number;
  file: string;
}

/** Write the weights of each front candidate (its most accurate seed that has weights) to
 * DIR/<hash 12>.dsx, a checkpoint `evaluate --load` and `export --load` read. All or
 * nothing: a candidate without weights fails the export before any file is written. */
export async function writeFrontWeights(
  store: SweepStore,
  sweep: string,
  front: readonly CandidateResult[],
  epochs: number | null,
  dir: string,
): Promise<WrittenWeights[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--weights ${dir}: no such directory`);
  const trials = await store.trials(sweep);
  const withWeights = await store.trialsWithWeights(sweep);
  const picked: { c: CandidateResult; t: TrialRow }[] = [];
  const missing: string[] = [];
  for (const c of front) {
    const t = trials
      .filter((t) => t.candidateHash === c.hash && t.state === 'done' && t.epochs === epochs && withWeights.has(t.id))
      .sort((a, b) => (b.accuracy ?? 0) - (a.accuracy ?? 0) || a.id - b.id)[0];
    if (t) picked.push({ c, t });
    else missing.push(c.label);
  }
  if (missing.length) {
    throw new OutcomeError(
      `no weights in ${store.location} for ${missing.length} front candidate(s) of sweep ${sweep}: ${missing.join(', ')} ` +
        `(swept with keepWeights "none", or recorded before weights were kept); nothing written`,
    );
  }
  const blobs = [];
  for (const { c, t } of picked) {
    const w = (await store.trialWeights(t.id))!;
    // decoded to check it before anything is written
    decodeCheckpoint(w.checkpoint, `the weights of trial ${w.trialId} in ${store.location}`);
    blobs.push({ c, t, bytes: w.checkpoint });
  }
  return blobs.map(({ c, t, bytes }) => {
    const file = join(dir, `${c.hash.slice(0, 12)}.dsx`);
    writeAtomically(file, bytes);
    return { label: c.label, hash: c.hash, trial: t.id, accuracy: t.accuracy ?? NaN, file };
  });
}
