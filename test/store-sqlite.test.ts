// The SQLite store: migrations, the trial state machine and its guards, reuse of identical
// finished trials, once-only rounds and crash recovery of running trials.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, openStoreForReading, migrate, MIGRATIONS, resolveSweep, SCHEMA_VERSION, SweepNotFound, TrialStateError, type Migration } from '../src/store/index.js';
import { openSqliteExecutor, SQLITE } from '../src/store/sqlite.js';
import type { Executor } from '../src/store/executor.js';
import { assertMigratedFromV4, candidate, fillSchemaV4, outcome, trial } from './helpers/store-fixtures.js';
import { UsageError } from '../src/errors.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'dsx-store-'));
}

test('a new database gets every migration once, records its version, and reopens without change', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'nested', 'x.db');
    const s = await openStore(path);
    assert.ok(existsSync(path), 'the directory and the file are created');
    assert.equal(await s.schemaVersion(), SCHEMA_VERSION);
    const db = s.executor;
    assert.deepEqual(await db.one('PRAGMA journal_mode'), { journal_mode: 'wal' });
    assert.deepEqual(await db.one('PRAGMA foreign_keys'), { foreign_keys: 1 });
    // rows as arrays, outside and inside a transaction
    assert.deepEqual(await db.rows('SELECT 1 AS a, ? AS b UNION ALL SELECT 2, ?', ['x', 'y']), [[1, 'x'], [2, 'y']]);
    assert.deepEqual(await db.transaction((tx) => tx.rows('SELECT ? AS a', [3])), [[3]]);
    await s.close();
    const raw = openSqliteExecutor(path).executor;
    assert.equal(await migrate(raw, SQLITE, path), 0, 'reopening applies nothing');
    const rows = await raw.all<{ version: number }>('SELECT version FROM schema_version ORDER BY version');
    assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
    await raw.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations run in order, only the missing ones, and a newer database is refused', async () => {
  const db = openSqliteExecutor(':memory:').executor;
  const ms: Migration[] = [
    { version: 1, name: 'a', ddl: (t) => `CREATE TABLE a (x ${t.bigint});` },
    { version: 2, name: 'b', ddl: () => 'ALTER TABLE a ADD COLUMN y INTEGER;', sqlite: 'CREATE TABLE only_sqlite (z INTEGER);', pg: 'CREATE TABLE only_pg (z INTEGER);' },
  ];
  assert.equal(await migrate(db, SQLITE, 'mem', ms.slice(0, 1)), 1);
  assert.equal(await migrate(db, SQLITE, 'mem', ms), 1, 'only version 2 is applied the second time');
  const cols = (await db.all<{ name: string }>('PRAGMA table_info(a)')).map((c) => c.name);
  assert.deepEqual(cols, ['x', 'y']);
  const tables = (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'only_%'")).map((r) => r.name);
  assert.deepEqual(tables, ['only_sqlite'], 'the per-dialect DDL of this dialect only');
  await assert.rejects(migrate(db, SQLITE, 'mem', ms.slice(0, 1)), (e: unknown) => e instanceof UsageError && /newer/.test((e as Error).message) && /mem/.test((e as Error).message));
  // a failing migration leaves the version where it was
  const bad = [...ms, { version: 3, name: 'c', ddl: () => 'CREATE TABLE a (x INTEGER);' }];
  await assert.rejects(migrate(db, SQLITE, 'mem', bad));
  assert.equal((await db.one<{ v: number }>('SELECT MAX(version) v FROM schema_version'))!.v, 2);
  await db.close();
});

test('a schema-4 store (specs inside candidates) migrates in place: rows kept, specs apart, candidates packed', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'v4.db');
    const raw = openSqliteExecutor(path).executor;
    const specs = await fillSchemaV4(raw, SQLITE);
    const pages = async (x: Executor, table: string) =>
      (await x.one<{ n: number }>('SELECT COUNT(*) AS n FROM dbstat WHERE name = ?', [table]))!.n;
    assert.ok((await pages(raw, 'candidates')) >= specs.size, 'a row with its spec fills a page');
    await raw.close();
    await assert.rejects(openStoreForReading(path), /schema version 4, older/);
    const s = await openStore(path);
    // rows put back packed: a listing reads a few pages, not one per candidate
    assert.ok((await pages(s.executor, 'candidates')) <= 2, 'the short rows share pages');
    assert.deepEqual(await s.executor.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    await assertMigratedFromV4(s, specs);
    assert.deepEqual(await s.executor.all('PRAGMA foreign_key_check'), []);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('candidateVariants reads any number of candidates (in batches) and leaves unknown hashes out', async () => {
  const s = await openStore(':memory:');
  await s.createSweep({ name: 'a', config: {}, configHash: 'c' });
  const cs = Array.from({ length: 150 }, (_, i) => ({ ...candidate(`v${i}`), variants: [{ kind: 'dw-gpw' as const, cg: i + 1 }] }));
  assert.equal(await s.enqueue('a', cs.map((c) => trial(c))), 150);
  const got = await s.candidateVariants([...cs.map((c) => c.hash).reverse(), 'nobody', cs[0]!.hash]);
  assert.deepEqual(got, new Map(cs.map((c) => [c.hash, c.variants])));
  assert.deepEqual(await s.candidateVariants([]), new Map());
  await s.close();
});

test('reading a missing database is a usage error and creates nothing', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'none.db');
    await assert.rejects(openStoreForReading(path), (e: unknown) => e instanceof UsageError && /run a sweep first/.test((e as Error).message));
    assert.equal(existsSync(path), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep names are unique and the refusal says to pass --resume or rename', async () => {
  const s = await openStore(':memory:');
  const row = await s.createSweep({ name: 'a', config: { k: 1 }, configHash: 'c' });
  assert.equal(row.name, 'a');
  assert.deepEqual(row.config, { k: 1 });
  assert.equal(row.status, 'running');
  await assert.rejects(s.createSweep({ name: 'a', config: {}, configHash: 'c' }), (e: unknown) => e instanceof UsageError && /--resume/.test((e as Error).message) && /name/.test((e as Error).message));
  await s.setSweepStatus('a', 'finished');
  assert.equal((await s.getSweep('a'))!.status, 'finished');
  assert.equal(await s.sweepConfigHash('a'), 'c');
  assert.equal((await s.listSweeps()).length, 1);
  s.close();
});

test('a trial goes queued -> running -> done, with metrics and provenance, and is then immutable', async () => {
  const s = await openStore(':memory:');
  await s.createSweep({ name: 'a', config: {}, configHash: 'c' });
  const c = candidate('x', 5000, true);
  assert.equal(await s.enqueue('a', [trial(c), trial(c)]), 1, 'the same trial is queued once');
  const claimed = await s.claimNext('a', 'w1');
  assert.ok(claimed);
  assert.equal(claimed.trial.state, 'running');
  assert.equal(claimed.trial.baseline, true);
  assert.equal(claimed.trial.macs, 5000);
  assert.deepEqual(claimed.spec, c.spec);
  assert.equal(await s.claimNext('a', 'w2'), undefined, 'nothing else is queued');
  assert.equal(await s.heartbeat(claimed.trial.id, 'w1'), true);
  assert.equal(await s.heartbeat(claimed.trial.id, 'w2'), false, 'another worker does not hold it');
  await assert.rejects(s.finishTrial(claimed.trial.id, 'w2', outcome(0.8)), TrialStateError);
  const done = await s.finishTrial(claimed.trial.id, 'w1', outcome(0.8));
  assert.equal(done.state, 'done');
  assert.equal(done.accuracy, 0.8);
  assert.equal(done.device, 'cpu');
  assert.ok(done.finishedAt && done.startedAt);
  assert.equal(done.provenance!.seed, 0);
  assert.equal(done.provenance!.attempts, 1);
  assert.deepEqual((await s.epochMetrics(done.id)).map((m) => m.testAccuracy), [0.8]);

  // every further change is refused, by the code and by the schema itself
  await assert.rejects(s.failTrial(done.id, 'w1', 'late'), /immutable/);
  await assert.rejects(s.pruneTrial(done.id, 'x'), /immutable/);
  await assert.rejects(s.recordEpoch(done.id, 'w1', { epoch: 2, lr: 0, trainLoss: 0, trainAccuracy: 0, seconds: 0 }), /immutable/);
  const db = s.executor;
  await assert.rejects(db.run('UPDATE trials SET accuracy = 0.1 WHERE id = ?', [done.id]), /immutable/);
  await assert.rejects(db.run('DELETE FROM trials WHERE id = ?', [done.id]), /cannot be deleted/);
  await assert.rejects(db.run('UPDATE epoch_metrics SET train_loss = 9 WHERE trial_id = ?', [done.id]), /immutable/);
  await assert.rejects(db.run('DELETE FROM epoch_metrics WHERE trial_id = ?', [done.id]), /immutable/);
  assert.equal(await s.requeueRunning('a'), 0, 'a finished trial is never re-queued');
  assert.equal((await s.trial(done.id))!.accuracy, 0.8);
  s.close();
});

test('illegal transitions are refused by the schema even through raw SQL', async () => {
  const s = await openStore(':memory:');
  await s.createSweep({ name: 'a', config: {}, configHash: 'c' });
  await s.enqueue('a', [trial(candidate('x'))]);
  const db = s.executor;
  const id = (await db.one<{ id: number }>('SELECT id FROM trials'))!.id;
  await assert.rejects(db.run("UPDATE trials SET state = 'failed' WHERE id = ?", [id]), /illegal/);
  await assert.rejects(db.run("UPDATE trials SET state = 'diverged' WHERE id = ?", [id]), /illegal/);
  await assert.rejects(
    db.run("INSERT INTO trials (sweep_id, candidate_hash, epochs, seed, recipe_hash, state, queued_at) VALUES (1, 'h-x', 1, 9, 'r', 'done', 'now')"),
    /must be queued/,
  );
  await assert.rejects(s.failTrial(id, 'w', 'boom'), /cannot go from queued to failed/);
  assert.equal((await s.trial(id))!.state, 'queued');
  s.close();
});

test('failed, diverged and pruned are terminal, and failure keeps the message', async () => {
  const s = await openStore(':memory:');
  await s.createSweep({ name: 'a', config: {}, configHash: 'c' });
  await s.enqueue('a', ['f', 'd', 'p', 'q'].map((n) => trial(candidate(n))));
  const f = (await s.claimNext('a', 'w'))!;
  const failed = await s.failTrial(f.trial.id, 'w', 'out of memory');
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error, 'out of memory');
  const d = (await s.claimNext('a', 'w'))!;
  const div = await s.finishTrial(d.trial.id, 'w', { ...outcome(0.1), state: 'diverged', message: 'loss is NaN at epoch 1' });
  assert.equal(div.state, 'diverged');
  assert.equal(div.error, 'loss is NaN at epoch 1');
  const p = (await s.claimNext('a', 'w'))!;
  assert.equal((await s.pruneTrial(p.trial.id, 'not promoted')).state, 'pruned');
  const q = (await s.trials('a')).find((t) => t.label === 'q')!;
  assert.equal((await s.pruneTrial(q.id, 'cancelled')).state, 'pruned', 'a queued trial can be pruned');
  for (const t of [failed, div]) {
    await assert.rejects(s.finishTrial(t.id, 'w', outcome(0.9)), TrialStateError);
  }
  assert.deepEqual(await s.counts('a'), { queued: 0, running: 0, done: 0, failed: 1, pruned: 2, diverged: 1 });
  s.close();
});

test('requeueRunning returns running trials to the queue (all, or only stale heartbeats) and drops partial metrics', async () => {
  const s = await openStore(':memory:');
  await s.createSweep({ name: 'a', config: {}, configHash: 'c' });
  await s.enqueue('a', [trial(candidate('x')), trial(candidate('y')), trial(candidate('z'))]);
  const x = (await s.claimNext('a', 'dead'))!;
  const y = (await s.claimNext('a', 'alive'))!;
  await s.recordEpoch(x.trial.id, 'dead', { epoch: 1, lr: 0.1, trainLoss: 1, trainAccuracy: 0.5, seconds: 1 });
  const db = s.executor;
  await db.run('UPDATE trials SET heartbeat_at = ? WHERE id = ?', [Date.now() - 120_000, x.trial.id]);
  assert.equal(await s.requeueRunning('a', { staleAfterMs: 60_000 }), 1, 'only the stale one');
  assert.equal((await s.trial(x.trial.id))!.state, 'queued');
  assert.equal((await s.trial(y.trial.id))!.state, 'running');
  assert.deepEqual((await s.epochMetrics(x.trial.id)), []);
  // the dead worker can no longer write into the trial it lost
  await assert.rejects(s.finishTrial(x.trial.id, 'dead', outcome(0.5)), TrialStateError);
  assert.equal(await s.requeueRunning('a'), 1, 'without a grace period every running trial goes back');
  const again = (await s.claimNext('a', 'new'))!;
  assert.equal(again.trial.id, x.trial.id, 'the oldest queued trial is claimed first');
  assert.equal(again.trial.attempts, 2);
  s.close();
});

test('an identical finished trial from another sweep is reused, not trained again', async () => {
  const s = await openStore(':memory:');
  const c = candidate('x');
  await s.createSweep({ name: 'one', config: {}, configHash: 'c' });
  await s.enqueue('one', [trial(c)]);
  const t1 = (await s.claimNext('one', 'w'))!;
  await s.finishTrial(t1.trial.id, 'w', outcome(0.77));

  await s.createSweep({ name: 'two', config: {}, configHash: 'c' });
  await s.enqueue('two', [trial(c), trial(c, { seed: 1 }), trial(c, { recipeHash: 'r2', rung: 1 }), trial(c, { epochs: 2, rung: 2 })]);
  const results: Array<number | undefined> = [];
  for (;;) {
    const t = await s.claimNext('two', 'w');
    if (!t) break;
    const reused = await s.reuseFinished(t.trial.id, 'w');
    results.push(reused?.reusedFrom ?? undefined);
    if (reused) {
      assert.equal(reused.state, 'done');
      assert.equal(reused.accuracy, 0.77);
      assert.equal(reused.provenance!.reusedFrom, t1.trial.id);
      assert.deepEqual((await s.epochMetrics(reused.id)), (await s.epochMetrics(t1.trial.id)));
    } else {
      await s.failTrial(t.trial.id, 'w', 'not needed here');
    }
  }
  assert.deepEqual(results, [t1.trial.id, undefined, undefined, undefined], 'only the same recipe, epochs and seed is reused');

  // a copy of a copy points at the trial that trained
  await s.createSweep({ name: 'three', config: {}, configHash: 'c' });
  await s.enqueue('three', [trial(c)]);
  const t3 = (await s.claimNext('three', 'w'))!;
  assert.equal((await s.reuseFinished(t3.trial.id, 'w'))!.reusedFrom, t1.trial.id);
  s.close();
});

test('a round is scheduled exactly once, even by racing processes on one file', async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'r.db');
    const a = await openStore(path);
    const b = await openStore(path);
    await a.createSweep({ name: 's', config: {}, configHash: 'c' });
    const batch = [trial(candidate('x'), { round: 1 }), trial(candidate('y'), { round: 1 })];
    assert.equal(await a.hasRound('s', 'round', 1), false);
    const got = await Promise.all([a.scheduleRound('s', 'round', 1, batch), b.scheduleRound('s', 'round', 1, batch)]);
    assert.deepEqual(got.sort(), [false, true]);
    assert.equal(await b.hasRound('s', 'round', 1), true);
    assert.equal((await a.trials('s')).length, 2);
    assert.equal(await a.scheduleRound('s', 'round', 1, [trial(candidate('z'))]), false);
    assert.equal((await b.trials('s')).length, 2, 'a refused round queues nothing');
    a.close();
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('each store loads only its own driver: a PostgreSQL worker never loads better-sqlite3', () => {
  const drivers = (kind: string) =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'loaded-drivers.ts'), kind], { encoding: 'utf8', timeout: 60_000 }),
    ) as string[];
  assert.deepEqual(drivers('postgres'), ['pg']);
  assert.deepEqual(drivers('sqlite'), ['better-sqlite3']);
});

test('resolveSweep: the named sweep, else the last created by id (not by a machine clock), else the last unfinished', async () => {
  const dir = tmp();
  try {
    const s = await openStore(join(dir, 'r.db'));
    await assert.rejects(resolveSweep(s), (e: unknown) => e instanceof UsageError && /no sweeps in .* yet/.test((e as Error).message));
    for (const name of ['a', 'b', 'c']) await s.createSweep({ name, config: {}, configHash: name });
    // c was written by a machine whose clock is behind: still the most recent
    await s.executor.run(`UPDATE sweeps SET created_at = '2000-01-01T00:00:00.000Z' WHERE name = 'c'`);
    await s.setSweepStatus('c', 'finished');
    assert.equal((await resolveSweep(s)).name, 'c');
    assert.equal((await resolveSweep(s, undefined, { unfinished: true })).name, 'b');
    assert.equal((await resolveSweep(s, 'a')).name, 'a');
    await assert.rejects(resolveSweep(s, 'nope'), (e: unknown) => e instanceof SweepNotFound && /no sweep named "nope" in .*; sweeps there: a, b, c$/.test((e as Error).message));
    for (const name of ['a', 'b']) await s.setSweepStatus(name, 'finished');
    await assert.rejects(resolveSweep(s, undefined, { unfinished: true, hint: 'Queue one.' }), /no unfinished sweep in .*; name one with --sweep NAME\. Queue one\.$/);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

