// The store under faults it cannot prevent, each injected for real: a truncated SQLite
// file and a file that is no database (the commands name the file and exit 1 or 2, never a
// stack trace), a store written by a newer dsxplore (refused, saying to upgrade) or left at
// an older schema (read-only opens say to migrate), a read-only open next to a writing
// sweep, and a full disk (a tiny max_page_count): the sweep stops with a clear error and
// loses no finished trial.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepConfig } from '../src/config/sweep.js';
import { MIGRATIONS, migrate, openStore, openStoreForReading, StoreError } from '../src/store/index.js';
import { openSqliteExecutor, SQLITE } from '../src/store/sqlite.js';
import { runSweep } from '../src/sweep/index.js';
import { UsageError } from '../src/errors.js';
import { candidate, trial } from './helpers/store-fixtures.js';
import type { TrainRequest, TrainResult } from '../src/engine/types.js';
import type { LoadedDatasets } from '../src/data/index.js';
import { cli, writeConfig } from './helpers/cli-process.js';

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-fault-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** A store with one sweep of `n` finished trials, closed (WAL checkpointed into the file). */
async function filledStore(path: string, n: number): Promise<void> {
  const s = await openStore(path);
  await s.createSweep({ name: 'full', config: {}, configHash: 'h' });
  await s.enqueue('full', Array.from({ length: n }, (_, i) => trial(candidate(`c${i}`))));
  for (;;) {
    const c = await s.claimNext('full', 'w');
    if (!c) break;
    await s.finishTrial(c.trial.id, 'w', {
      state: 'done', accuracy: 0.5, testLoss: 1, trainLoss: 1, trainAccuracy: 0.5, seconds: 1, imagesPerSecond: 1, device: 'cpu',
      provenance: { note: 'x'.repeat(500) },
      epochs: [{ epoch: 1, lr: 0.1, trainLoss: 1, trainAccuracy: 0.5, testAccuracy: 0.5, seconds: 1 }],
    });
  }
  await s.close();
}

/** Exit code 1 or 2, one message naming the file, no stack trace. */
function assertClean(r: { code: number | null; stderr: string }, file: string, what: RegExp): void {
  assert.ok(r.code === 1 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
  assert.ok(r.stderr.includes(file), `names ${file}: ${r.stderr}`);
  assert.match(r.stderr, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |DSXPLORE_DEBUG/, 'no stack trace');
}

test('a truncated or foreign SQLite file: report and sweep name the file and exit cleanly', () =>
  withDir(async (dir) => {
    const cfg = writeConfig(dir, {
      name: 'full', model: 'resnet20', dataset: { name: 'synthetic' }, space: { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' }, search: { kind: 'grid' },
    });
    const half = join(dir, 'half.db');
    await filledStore(half, 60);
    const size = statSync(half).size;
    truncateSync(half, Math.floor(size / 2));
    const head = join(dir, 'head.db');
    await filledStore(head, 3);
    truncateSync(head, 100);
    const text = join(dir, 'text.db');
    writeFileSync(text, 'these are my notes, not a database\n'.repeat(200));
    for (const file of [half, head, text]) {
      const rep = await cli(['report', '--db', file, '--json']);
      assertClean(rep, file, /damaged or not a dsxplore database/);
      const sw = await cli(['sweep', '--config', cfg, '--db', file, '--resume', '--json']);
      assertClean(sw, file, /damaged or not a dsxplore database/);
    }
    console.log(`truncated ${size} -> ${Math.floor(size / 2)} and 100 bytes, and a text file: exit 1, the file named`);
  }));

test('a store from a newer dsxplore is refused with "upgrade"; the readers (report, pareto, export) refuse an older one with the migrate line and leave it unchanged', () =>
  withDir(async (dir) => {
    const newer = join(dir, 'newer.db');
    await filledStore(newer, 1);
    const raw = openSqliteExecutor(newer).executor;
    await raw.run("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'from the future', 'now')");
    await raw.close();
    const rep = await cli(['report', '--db', newer]);
    assert.equal(rep.code, 2, rep.stderr);
    assertClean(rep, newer, /schema version 99, newer than this dsxplore.*upgrade dsxplore/);
    await assert.rejects(openStoreForReading(newer), (e: unknown) => e instanceof UsageError && /upgrade dsxplore/.test((e as Error).message));

    const older = join(dir, 'older.db');
    const x = openSqliteExecutor(older).executor;
    await migrate(x, SQLITE, older, MIGRATIONS.slice(0, 1));
    await x.close();
    await assert.rejects(
      openStoreForReading(older),
      (e: unknown) => e instanceof UsageError && /schema version 1, older/.test((e as Error).message) && /dsxplore store migrate --db /.test((e as Error).message),
    );
    // the readers never migrate: the file is left byte for byte as it was
    const before = readFileSync(older);
    for (const args of [['report'], ['pareto', 'export'], ['export', '--trial', '1', '--out', join(dir, 'm.onnx')]]) {
      const refused = await cli([...args, '--db', older]);
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, /schema version 1, older.*dsxplore store migrate --db /, args.join(' '));
    }
    assert.ok(readFileSync(older).equals(before), 'report, pareto and export leave an older store unchanged');
    const m = await cli(['store', 'migrate', '--db', older, '--json']);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual([m.lines[0]!.from, m.lines[0]!.to], [1, MIGRATIONS.length]);
    const r = await openStoreForReading(older);
    assert.deepEqual(await r.listSweeps(), []);
    await r.close();
  }));

test('a read-only open reads a WAL database while a sweep writes it, and cannot write', () =>
  withDir(async (dir) => {
    const path = join(dir, 'live.db');
    const w = await openStore(path);
    await w.createSweep({ name: 'live', config: {}, configHash: 'h' });
    await w.enqueue('live', [trial(candidate('a'))]);
    const r = await openStoreForReading(path);
    try {
      assert.equal((await r.trials('live')).length, 1);
      await w.enqueue('live', [trial(candidate('b'))]);
      const c = (await w.claimNext('live', 'w'))!;
      assert.equal((await r.trials('live')).length, 2, 'the reader sees what the writer committed');
      assert.deepEqual(await r.counts('live'), { queued: 1, running: 1, done: 0, failed: 0, pruned: 0, diverged: 0 });
      assert.deepEqual(await r.epochMetrics(c.trial.id), []);
      await assert.rejects((r as Awaited<ReturnType<typeof openStore>>).createSweep({ name: 'x', config: {}, configHash: 'h' }), /readonly/);
    } finally {
      await r.close();
      await w.close();
    }
  }));

test('a full disk stops the sweep with a clear error naming the file, and no finished trial is lost', () =>
  withDir(async (dir) => {
    const path = join(dir, 'small.db');
    const config = parseSweepConfig({
      name: 'small', model: 'resnet20', dataset: { name: 'mnist' }, recipe: { epochs: 1 },
      space: { variants: ['dw-scc'], cg: [1, 2, 4, 8], co: [0.25, 0.5, 0.75], tie: 'stage' }, search: { kind: 'random', n: 40, seed: 1 },
    });
    const tiny = { name: 'x', count: 1, shape: [1, 32, 32] as [number, number, number], classes: 10, images: new Uint8Array(1024), labels: new Uint8Array(1), mean: [0.5], std: [0.25] };
    const loadData = (): LoadedDatasets => ({ train: tiny, test: { ...tiny, name: 'x/test' } });
    const train = async (req: TrainRequest): Promise<TrainResult> => ({
      status: 'done', device: 'cpu', threads: 1, params: 1, testAccuracy: 0.5, testLoss: 1, trainLoss: 1, trainAccuracy: 0.5, seconds: 0.01, imagesPerSecond: 1,
      epochs: Array.from({ length: req.recipe.epochs }, (_, i) => ({ epoch: i + 1, lr: 0.1, trainLoss: 1, trainAccuracy: 0.5, testAccuracy: 0.5, seconds: 0.01 })),
    });
    const store = await openStore(path);
    // the disk fills up a few pages after the queue is written: a real SQLITE_FULL
    const finishedEvents: number[] = [];
    const onEvent = async (e: { type: string; trial?: { id: number } }) => {
      if (e.type === 'scheduled') {
        const pages = (await store.executor.one<{ page_count: number }>('PRAGMA page_count'))!.page_count;
        await store.executor.one(`PRAGMA max_page_count = ${pages + 6}`);
      }
      if (e.type === 'trial-end') finishedEvents.push(e.trial!.id);
    };
    await assert.rejects(
      runSweep({ store, config, train, loadData, onEvent: (e) => void onEvent(e as never) }),
      (e: unknown) => e instanceof StoreError && /is full/.test((e as Error).message) && (e as Error).message.includes(path) && /--resume/.test((e as Error).message),
    );
    await store.close();
    assert.ok(finishedEvents.length >= 1, 'some trials finished before the disk was full');
    const again = await openStore(path);
    try {
      const trials = await again.trials('small');
      const done = trials.filter((t) => t.state === 'done');
      assert.deepEqual(done.map((t) => t.id).sort(), [...finishedEvents].sort(), 'every trial reported finished is recorded as done');
      for (const t of done) assert.equal((await again.epochMetrics(t.id)).length, 1);
      assert.ok(trials.filter((t) => t.state === 'running').length <= 1, 'at most the trial being recorded is left running');
      assert.equal(trials.filter((t) => t.state === 'failed').length, 0, 'a store error is not written off as a failed training');
      console.log(`full disk: stopped after ${done.length} of ${trials.length} trials; all ${done.length} kept`);
    } finally {
      await again.close();
    }
  }));
