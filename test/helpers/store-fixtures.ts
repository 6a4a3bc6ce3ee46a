// Small stand-ins for the store tests (SQLite and PostgreSQL alike): a candidate with a toy
// spec, a trial to queue, a finished outcome, and a store of an older schema to migrate.
import assert from 'node:assert/strict';
import { MIGRATIONS, SCHEMA_VERSION, migrate, type Dialect, type Executor, type SqlStore, type TrialInput } from '../../src/store/index.js';
import type { Candidate } from '../../src/domain/candidate.js';
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

/** A store as dsxplore wrote it at schema version 4, when a candidate's spec was a column
 * of `candidates` (before the costs): `migrate` stops at version 4, and sweep 'old' is
 * written with that schema's raw SQL. `n` candidates, each spec padded by `pad` characters
 * (on SQLite a ~3 KB row fills a page of its own); candidate 1 is queued, the others done
 * with metrics and provenance; candidate 0 has weights, a latency and a pruner decision. */
export async function fillSchemaV4(x: Executor, d: Dialect, n = 20, pad = 2900): Promise<Map<string, ModelSpec>> {
  assert.equal(await migrate(x, d, 'v4', MIGRATIONS.filter((m) => m.version <= 4)), 4);
  const t = '2026-01-01T00:00:00.000Z';
  await x.run(`INSERT INTO sweeps (name, config, config_hash, version, created_at) VALUES ('old', '{"model":"toy"}', 'h', '0.1.0', ?)`, [t]);
  const specs = new Map<string, ModelSpec>();
  for (let i = 0; i < n; i++) {
    const c = candidate(`c${i}`, 1000 + 10 * i);
    const spec = { ...c.spec, note: `c${i} ${'x'.repeat(pad)}` } as ModelSpec;
    specs.set(c.hash, spec);
    await x.run(
      `INSERT INTO candidates (hash, model, label, variants, spec, macs, flops, params, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [c.hash, 'toy', c.label, JSON.stringify(c.variants), JSON.stringify(spec), c.macs, c.flops, c.params, t],
    );
    await x.run(
      `INSERT INTO trials (sweep_id, candidate_hash, baseline, round, rung, epochs, seed, recipe_hash, queued_at) VALUES (1, ?, 0, 0, 0, 1, 0, 'r1', ?)`,
      [c.hash, t],
    );
    if (i === 1) continue;
    await x.run(`UPDATE trials SET state = 'running', worker_id = 'w', started_at = ?, attempts = 1 WHERE candidate_hash = ?`, [t, c.hash]);
    await x.run(
      `INSERT INTO epoch_metrics (trial_id, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds)
       SELECT id, 1, 0.1, 0.4, 0.9, ?, 0.5, 1.5 FROM trials WHERE candidate_hash = ?`,
      [0.5 + i / 100, c.hash],
    );
    await x.run(
      `UPDATE trials SET state = 'done', finished_at = ?, accuracy = ?, test_loss = 0.5, train_loss = 0.4, train_accuracy = 0.9,
       seconds = 1.5, images_per_second = 100, device = 'cpu', provenance = ? WHERE candidate_hash = ?`,
      [t, 0.5 + i / 100, JSON.stringify({ seed: 0, specHash: c.hash }), c.hash],
    );
  }
  await x.run(`INSERT INTO trial_weights (trial_id, checkpoint, bytes, created_at) VALUES (1, ?, 3, ?)`, [Buffer.from([1, 2, 3]), t]);
  await x.run(
    `INSERT INTO latencies (spec_hash, machine, runtime, batch, threads, median_ms, p10_ms, p90_ms, reps, measured_at)
     VALUES ('h-c0', 'm', 'native', 1, 1, 2.5, 2, 3, 30, ?)`,
    [t],
  );
  await x.run(
    `INSERT INTO pruner_decisions (sweep_id, round, rung, candidate_hash, pruner, promoted, rank, accuracy, created_at)
     VALUES (1, 0, 0, 'h-c0', 'halving', 1, 1, 0.5, ?)`,
    [t],
  );
  return specs;
}

/** After migrating a fillSchemaV4 store: every row is where it was, each spec whole in
 * `candidate_specs` (and no longer in `candidates`), the foreign keys still hold, and the
 * store claims, lists and queues as a new one does. */
export async function assertMigratedFromV4(s: SqlStore, specs: Map<string, ModelSpec>): Promise<void> {
  const x = s.executor;
  assert.equal(await s.schemaVersion(), SCHEMA_VERSION);
  const row = (await x.one<Record<string, unknown>>('SELECT * FROM candidates WHERE hash = ?', ['h-c0']))!;
  assert.deepEqual(Object.keys(row).sort(), ['created_at', 'flops', 'hash', 'label', 'macs', 'model', 'params', 'variants']);
  for (const [hash, spec] of specs) assert.deepEqual((await s.candidate(hash, 'old'))!.spec, spec);
  const trials = await s.trials('old');
  assert.equal(trials.length, specs.size);
  assert.deepEqual(trials.map((t) => t.state), trials.map((_, i) => (i === 1 ? 'queued' : 'done')));
  assert.equal(trials[2]!.accuracy, 0.52);
  assert.deepEqual(trials[2]!.provenance, { seed: 0, specHash: 'h-c2' });
  assert.deepEqual(trials[0]!.variants, [{ kind: 'std' }]);
  assert.equal(trials[0]!.latencyMs, 2.5);
  assert.deepEqual((await s.epochMetrics(trials[2]!.id)).map((m) => m.testAccuracy), [0.52]);
  assert.deepEqual([...(await s.trialWeights(trials[0]!.id))!.checkpoint], [1, 2, 3]);
  assert.deepEqual((await s.prunerDecisions('old')).map((p) => p.candidateHash), ['h-c0']);
  const listing = await s.trialListing('old');
  assert.deepEqual(listing.map((t) => [t.id, t.macs, t.latencyMs]), trials.map((t) => [t.id, t.macs, t.latencyMs]));
  assert.deepEqual(await s.candidateVariants(['h-c3']), new Map([['h-c3', [{ kind: 'std' }]]]));
  // the foreign keys survived the rebuild
  await assert.rejects(x.run(`INSERT INTO candidate_specs (hash, spec) VALUES ('nobody', '{}')`), /foreign key/i);
  await assert.rejects(
    x.run(`INSERT INTO trials (sweep_id, candidate_hash, epochs, seed, recipe_hash, queued_at) VALUES (1, 'nobody', 1, 0, 'r', 'now')`),
    /foreign key/i,
  );
  await assert.rejects(x.run('UPDATE trials SET accuracy = 0.1 WHERE id = ?', [trials[0]!.id]), /immutable/);
  // the queued trial is claimed with its spec; a new candidate is queued as in a new store
  const claimed = (await s.claimNext('old', 'w2'))!;
  assert.equal(claimed.trial.candidateHash, 'h-c1');
  assert.deepEqual(claimed.spec, specs.get('h-c1'));
  const fresh = candidate('new', 7);
  assert.equal(await s.enqueue('old', [trial(fresh)]), 1);
  assert.deepEqual((await s.candidate(fresh.hash))!.spec, fresh.spec);
}
