// Trained weights in the store, for both dialects (a BLOB in SQLite, bytea in PostgreSQL):
// written in the transaction that records the result, read back byte for byte, shared by
// a trial that reused another's result, and dropped (keepWeights "front") only where no
// kept trial reuses them; a finished trial stays immutable throughout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, openStoreUrl, type SweepStore, type TrialInput } from '../src/store/index.js';
import type { Candidate } from '../src/domain/candidate.js';
import type { ModelSpec } from '../src/models/spec.js';
import { pgSkip, startPostgres, type PgServer } from './helpers/postgres.js';

function candidate(name: string): Candidate {
  const spec = { format: 1, model: 'toy', inputShape: [1, 8, 8], classes: 2, slots: [], layers: [], tensors: [[1, 8, 8]], note: name } as unknown as ModelSpec;
  return { hash: `h-${name}`, variants: [{ kind: 'std' }], label: name, baseline: false, spec, macs: 1000, flops: 2000, params: 100 };
}
const trial = (c: Candidate): TrialInput => ({ candidate: c, rung: 0, round: 0, epochs: 1, seed: 0, recipeHash: 'r1' });
const outcome = (weights?: Uint8Array) => ({
  state: 'done' as const,
  accuracy: 0.5,
  testLoss: 0.5,
  trainLoss: 0.4,
  trainAccuracy: 0.9,
  seconds: 1,
  imagesPerSecond: 100,
  device: 'cpu',
  provenance: {},
  weights,
});

async function checkWeights(s: SweepStore): Promise<void> {
  // every byte value, and a size past any small-buffer path
  const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
  await s.createSweep({ name: 'a', config: {}, configHash: 'x' });
  await s.createSweep({ name: 'b', config: {}, configHash: 'y' });
  await s.enqueue('a', [trial(candidate('p')), trial(candidate('q'))]);
  const p = (await s.claimNext('a', 'w'))!;
  await s.finishTrial(p.trial.id, 'w', outcome(bytes));
  const q = (await s.claimNext('a', 'w'))!;
  await s.finishTrial(q.trial.id, 'w', outcome());

  const got = await s.trialWeights(p.trial.id);
  assert.equal(got?.trialId, p.trial.id);
  assert.deepEqual(Buffer.from(got!.checkpoint), Buffer.from(bytes), 'the same bytes come back');
  assert.equal(await s.trialWeights(q.trial.id), undefined, 'no weights recorded, none returned');
  assert.equal(await s.trialWeights(9999), undefined);
  assert.deepEqual([...(await s.trialsWithWeights('a'))], [p.trial.id]);

  // sweep b reuses p's result: its trial reads p's weights
  await s.enqueue('b', [trial(candidate('p'))]);
  const r = (await s.claimNext('b', 'w'))!;
  const copy = await s.reuseFinished(r.trial.id, 'w');
  assert.equal(copy?.reusedFrom, p.trial.id);
  assert.equal((await s.trialWeights(r.trial.id))?.trialId, p.trial.id);
  assert.deepEqual([...(await s.trialsWithWeights('b'))], [r.trial.id]);

  // dropping p's weights while b's trial (kept) reuses them: they stay
  assert.equal(await s.dropWeights([p.trial.id]), 0);
  assert.ok(await s.trialWeights(p.trial.id));
  // dropping both the source and its reader: gone, and the finished trials are untouched
  assert.equal(await s.dropWeights([p.trial.id, r.trial.id]), 1);
  assert.equal(await s.trialWeights(p.trial.id), undefined);
  assert.equal(await s.trialWeights(r.trial.id), undefined);
  const after = await s.trial(p.trial.id);
  assert.equal(after?.state, 'done');
  assert.equal(after?.accuracy, 0.5);
}

test('SQLite: weights as a BLOB, written with the result, shared on reuse, dropped only when unused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-weights-'));
  try {
    const s = await openStore(join(dir, 'w.db'));
    try {
      await checkWeights(s);
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('PostgreSQL', { skip: pgSkip }, () => {
  let server: PgServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  test('PostgreSQL: weights as bytea, the same contract', async () => {
    const s = await openStoreUrl(await server.createDatabase('weights'));
    try {
      await checkWeights(s);
    } finally {
      await s.close();
    }
  });
});
