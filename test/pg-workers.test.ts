// Sweeps across machines on a real PostgreSQL server: the store's schema, guards
// and once-only scheduling on PostgreSQL; two stores racing for the last queued trial; and
// real `dsxplore worker` processes: 4 of them finishing a 40-candidate sweep with every
// candidate trained exactly once, kill -9 of one worker mid-trial recovered by the others
// after the heartbeat grace period, and report/export reading the PostgreSQL store.
// The test starts its own private server (test/helpers/postgres.ts) and stops it at the end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreUrl, migrate, SCHEMA_VERSION, TrialStateError, type Migration } from '../src/store/index.js';
import { PgExecutor, POSTGRES } from '../src/store/postgres.js';
import { UsageError } from '../src/errors.js';
import { assertMigratedFromV4, candidate, fillSchemaV4, outcome, trial } from './helpers/store-fixtures.js';
import { cli, spawnCli, writeConfig } from './helpers/cli-process.js';
import { addonPath } from '../src/engine/addon.js';
import { pgSkip, startPostgres, type PgServer } from './helpers/postgres.js';

const haveEngine = existsSync(addonPath());
const engineSkip = haveEngine ? false : `native engine not built (${addonPath()})`;

// tiny trainings: 16x16 synthetic images, a few batches, one thread
const tiny = {
  model: 'resnet20',
  dataset: { name: 'synthetic:size=16,classes=4,train=256,test=64', limitTrain: 32, limitTest: 32 },
  recipe: { epochs: 1, batchSize: 16, threads: 1 },
  baselines: false,
};

describe('PostgreSQL store and workers', { skip: pgSkip }, () => {
  let server: PgServer;
  let dir: string;
  before(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'dsx-pgw-'));
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('schema, migrations and guards: same as SQLite', async () => {
    const url = await server.createDatabase('guards');
    // two stores opening a new database at once: one migrates, the other finds it done
    const [a, b] = await Promise.all([openStoreUrl(url), openStoreUrl(url)]);
    const pa = a.executor;
    try {
      assert.equal(await a.schemaVersion(), SCHEMA_VERSION);
      assert.equal(await migrate(pa, POSTGRES, a.location), 0, 'migrating again applies nothing');
      // rows as arrays, outside and inside a transaction
      assert.deepEqual(await pa.rows('SELECT 1 AS a, ?::text AS b UNION ALL SELECT 2, ?::text', ['x', 'y']), [[1, 'x'], [2, 'y']]);
      assert.deepEqual(await pa.transaction((tx) => tx.rows('SELECT ?::int AS a', [3])), [[3]]);
      await a.createSweep({ name: 's', config: { x: 1 }, configHash: 'h' });
      await assert.rejects(b.createSweep({ name: 's', config: {}, configHash: 'h' }), /already exists/);
      assert.equal(await a.enqueue('s', [trial(candidate('a')), trial(candidate('b', 2000))]), 2);
      assert.equal(await a.enqueue('s', [trial(candidate('a'))]), 0, 'a queued trial is not queued twice');
      const x = (await a.claimNext('s', 'w1'))!;
      assert.equal(x.trial.label, 'a');
      assert.equal(x.trial.macs, 1000);
      assert.equal(await a.heartbeat(x.trial.id, 'w1'), true);
      assert.equal(await a.heartbeat(x.trial.id, 'w2'), false, 'only the holder heartbeats');
      await assert.rejects(a.finishTrial(x.trial.id, 'w2', outcome(0.8)), TrialStateError);
      const done = await a.finishTrial(x.trial.id, 'w1', outcome(0.8));
      assert.equal(done.state, 'done');
      assert.equal(done.accuracy, 0.8);
      assert.deepEqual((await a.epochMetrics(done.id)).map((m) => m.testAccuracy), [0.8]);
      // the triggers refuse what the code would never do
      await assert.rejects(pa.run(`UPDATE trials SET accuracy = 0.1 WHERE id = ?`, [done.id]), /finished and immutable/);
      await assert.rejects(pa.run(`DELETE FROM trials WHERE id = ?`, [done.id]), /cannot be deleted/);
      await assert.rejects(pa.run(`DELETE FROM epoch_metrics WHERE trial_id = ?`, [done.id]), /finished and immutable/);
      const q = (await a.trials('s')).find((t) => t.state === 'queued')!;
      await assert.rejects(pa.run(`UPDATE trials SET state = 'failed' WHERE id = ?`, [q.id]), /illegal trial state transition/);
      // a stale running trial goes back to the queue; a fresh one stays
      const y = (await a.claimNext('s', 'w3'))!;
      assert.equal(await a.requeueRunning('s', { staleAfterMs: 60_000 }), 0);
      await pa.run('UPDATE trials SET heartbeat_at = heartbeat_at - 120000 WHERE id = ?', [y.trial.id]);
      assert.equal(await a.requeueRunning('s', { staleAfterMs: 60_000 }), 1);
      assert.equal((await a.trial(y.trial.id))!.state, 'queued');
      assert.equal(await a.heartbeat(y.trial.id, 'w3'), false, 'the dead worker lost it');
      // reuse across sweeps
      await a.createSweep({ name: 't', config: {}, configHash: 'h' });
      await a.enqueue('t', [trial(candidate('a'))]);
      const z = (await a.claimNext('t', 'w4'))!;
      const copy = (await a.reuseFinished(z.trial.id, 'w4'))!;
      assert.equal(copy.reusedFrom, done.id);
      assert.equal(copy.accuracy, 0.8);
      const counts = await a.counts('s');
      assert.deepEqual(counts, { queued: 1, running: 0, done: 1, failed: 0, pruned: 0, diverged: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('migrations on PostgreSQL: applied in order, once, and a newer schema is refused', async () => {
    const url = await server.createDatabase('migrations');
    const x = await PgExecutor.open(url);
    try {
      const ms: Migration[] = [
        { version: 1, name: 'a', ddl: (t) => `CREATE TABLE a (x ${t.bigint});` },
        { version: 2, name: 'b', ddl: () => 'ALTER TABLE a ADD COLUMN y INTEGER;', sqlite: 'CREATE TABLE only_sqlite (z INTEGER);', pg: 'CREATE TABLE only_pg (z INTEGER);' },
      ];
      assert.equal(await migrate(x, POSTGRES, 'test', ms.slice(0, 1)), 1);
      assert.equal(await migrate(x, POSTGRES, 'test', ms), 1, 'only version 2 the second time');
      const cols = await x.all<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'a' ORDER BY ordinal_position`,
      );
      assert.deepEqual(cols.map((c) => `${c.column_name} ${c.data_type}`), ['x bigint', 'y integer']);
      const only = await x.all<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_name LIKE 'only_%'`);
      assert.deepEqual(only.map((r) => r.t), ['only_pg'], 'the per-dialect DDL of this dialect only');
      await assert.rejects(migrate(x, POSTGRES, 'test', ms.slice(0, 1)), (e: unknown) => e instanceof UsageError && /newer/.test((e as Error).message));
      // a failing migration changes nothing, its version included (DDL is transactional)
      await assert.rejects(migrate(x, POSTGRES, 'test', [...ms, { version: 3, name: 'c', ddl: () => 'CREATE TABLE a (x INTEGER);' }]));
      assert.equal((await x.one<{ v: number }>('SELECT MAX(version) AS v FROM schema_version'))!.v, 2);
    } finally {
      await x.close();
    }
  });

  test('a schema-4 store (specs inside candidates) migrates in place, rows kept and specs apart', async () => {
    const url = await server.createDatabase('v4');
    const x = await PgExecutor.open(url);
    let specs;
    try {
      specs = await fillSchemaV4(x, POSTGRES);
    } finally {
      await x.close();
    }
    const s = await openStoreUrl(url);
    try {
      await assertMigratedFromV4(s, specs);
    } finally {
      await s.close();
    }
  });

  test('two workers racing: the last queued trial and the next round go to exactly one', async () => {
    const url = await server.createDatabase('race');
    const stores = await Promise.all([openStoreUrl(url), openStoreUrl(url), openStoreUrl(url)]);
    try {
      await stores[0]!.createSweep({ name: 'r', config: {}, configHash: 'h' });
      for (let i = 0; i < 15; i++) {
        await stores[0]!.enqueue('r', [trial(candidate(`c${i}`))]);
        const got = await Promise.all(stores.map((s, k) => s.claimNext('r', `w${k}`)));
        const winners = got.filter((g) => g !== undefined);
        assert.equal(winners.length, 1, `round ${i}: exactly one worker gets the last trial`);
        assert.equal(winners[0]!.trial.attempts, 1);
        const k = got.findIndex((g) => g !== undefined);
        await stores[k]!.finishTrial(winners[0]!.trial.id, `w${k}`, outcome(0.5));
        // scheduling the next round: every store tries, one wins, its trials are queued once
        const sched = await Promise.all(
          stores.map((s) => s.scheduleRound('r', 'round', i + 1, [trial(candidate(`n${i}`), { round: i + 1 })])),
        );
        assert.equal(sched.filter(Boolean).length, 1, `round ${i + 1} is scheduled exactly once`);
        assert.equal(await stores[1]!.hasRound('r', 'round', i + 1), true);
        const next = await stores[2]!.claimNext('r', 'w2');
        await stores[2]!.finishTrial(next!.trial.id, 'w2', outcome(0.5));
      }
      const trials = await stores[0]!.trials('r');
      assert.equal(trials.length, 30);
      assert.ok(trials.every((t) => t.state === 'done' && t.attempts === 1));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('4 worker processes finish a 40-candidate sweep, each candidate trained exactly once', { skip: engineSkip }, async () => {
    const url = await server.createDatabase('four');
    const cfg = writeConfig(dir, {
      ...tiny,
      name: 'four',
      space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5, 0.75], tie: 'stage' },
      search: { kind: 'random', n: 40, seed: 1 },
    });
    const mig = await cli(['store', 'migrate', '--store', url, '--json']);
    assert.equal(mig.code, 0, mig.stderr);
    assert.equal(mig.lines[0]!.from, 0, 'a new database starts at version 0');
    assert.equal(mig.lines[0]!.to, SCHEMA_VERSION);
    const q = await cli(['sweep', '--config', cfg, '--store', url, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const result = q.lines.find((l) => l.type === 'result')!;
    assert.equal(result.counts.queued, 40, JSON.stringify(q.lines));

    const t0 = Date.now();
    const workers = [0, 1, 2, 3].map(() =>
      spawnCli(['worker', '--store', url, '--sweep', 'four', '--device', 'cpu', '--heartbeat', '1', '--stale-after', '30', '--json']),
    );
    const exits = await Promise.all(workers.map((w) => w.exit));
    const seconds = (Date.now() - t0) / 1000;
    exits.forEach((e, i) => assert.equal(e.code, 0, `worker ${i}: ${workers[i]!.stderr}`));
    const results = workers.map((w) => w.lines.find((l) => l.type === 'result')!);
    const trainedBy = results.map((r) => r.trained as number);
    console.log(`4 workers, 40 candidates: trained per worker ${JSON.stringify(trainedBy)} in ${seconds.toFixed(1)}s`);
    assert.equal(trainedBy.reduce((a, b) => a + b, 0), 40, 'the workers together trained each trial once');

    const store = await openStoreUrl(url);
    try {
      const trials = await store.trials('four');
      assert.equal(trials.length, 40);
      assert.ok(trials.every((t) => t.state === 'done'), JSON.stringify(trials.map((t) => t.state)));
      assert.ok(trials.every((t) => t.attempts === 1), 'no trial was claimed twice');
      assert.equal(new Set(trials.map((t) => t.candidateHash)).size, 40, 'each candidate once');
      assert.ok(new Set(trials.map((t) => t.workerId)).size >= 2, 'the work was shared');
      assert.equal((await store.getSweep('four'))!.status, 'finished');
    } finally {
      await store.close();
    }

    // the report side reads PostgreSQL unchanged
    const rep = spawnCli(['report', '--store', url, '--sweep', 'four', '--json']);
    assert.equal((await rep.exit).code, 0, rep.stderr);
    const exp = spawnCli(['pareto', 'export', '--store', url, '--format', 'json']);
    assert.equal((await exp.exit).code, 0, exp.stderr);
    const svg = join(dir, 'front.svg');
    const plot = await cli(['pareto', 'plot', '--store', url, '--out', svg]);
    assert.equal(plot.code, 0, plot.stderr);
    assert.ok(existsSync(svg));
  });

  test('kill -9 of a worker mid-trial: the others re-queue its trial after the grace period', { skip: engineSkip }, async () => {
    const url = await server.createDatabase('kill');
    const cfg = writeConfig(dir, {
      ...tiny,
      name: 'kill',
      // 8 batches: long enough to be killed in the middle
      dataset: { ...tiny.dataset, limitTrain: 128 },
      space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
      search: { kind: 'grid' },
    });
    const q = await cli(['sweep', '--config', cfg, '--store', url, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const flags = ['--store', url, '--device', 'cpu', '--heartbeat', '0.5', '--stale-after', '3', '--json'];
    let killed = false;
    const victim = spawnCli(['worker', ...flags], (l, run) => {
      if (l.type === 'progress' && !killed) {
        killed = true;
        run.child.kill('SIGKILL');
      }
    });
    // the victim first, alone, so that it surely holds a trial when it dies; the survivors
    // start after its death and find that trial running with a heartbeat going stale
    const v = await victim.exit;
    assert.equal(v.signal, 'SIGKILL', `the victim should die mid-training: ${victim.stderr}`);
    const others = [0, 1].map(() => spawnCli(['worker', ...flags]));
    const exits = await Promise.all(others.map((w) => w.exit));
    exits.forEach((e, i) => assert.equal(e.code, 0, `worker ${i}: ${others[i]!.stderr}`));
    const warnings = others.flatMap((w) => w.lines.filter((l) => l.type === 'warning').map((l) => l.message as string));
    assert.ok(warnings.some((m) => /re-queued 1 trial/.test(m)), `a survivor re-queued the trial: ${JSON.stringify(warnings)}`);

    const store = await openStoreUrl(url);
    try {
      const trials = await store.trials('kill');
      assert.equal(trials.length, 6);
      assert.ok(trials.every((t) => t.state === 'done'), JSON.stringify(trials.map((t) => t.state)));
      assert.equal(new Set(trials.map((t) => t.candidateHash)).size, 6, 'each candidate once');
      const retried = trials.filter((t) => (t.attempts ?? 0) > 1);
      assert.equal(retried.length, 1, 'exactly the killed trial ran again');
      assert.equal(retried[0]!.attempts, 2);
      assert.equal((await store.epochMetrics(retried[0]!.id)).length, 1, 'its partial metrics were dropped');
      console.log(`kill -9: trial ${retried[0]!.id} (${retried[0]!.label}) re-queued and finished by ${retried[0]!.workerId}`);
    } finally {
      await store.close();
    }
  });

  test('evolutionary search with successive halving across 3 workers: each generation and rung scheduled once', { skip: engineSkip }, async () => {
    const url = await server.createDatabase('evo');
    const cfg = writeConfig(dir, {
      ...tiny,
      name: 'evo',
      recipe: { batchSize: 16, threads: 1 },
      space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5, 0.75], tie: 'stage' },
      search: { kind: 'evolutionary', population: 4, generations: 2, seed: 3 },
      multiFidelity: { rungs: [1, 2], eta: 2 },
    });
    const q = await cli(['sweep', '--config', cfg, '--store', url, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const ws = [0, 1, 2].map(() => spawnCli(['worker', '--store', url, '--sweep', 'evo', '--device', 'cpu', '--json']));
    const exits = await Promise.all(ws.map((w) => w.exit));
    exits.forEach((e, i) => assert.equal(e.code, 0, `worker ${i}: ${ws[i]!.stderr}`));
    const scheduled = ws.flatMap((w) => w.lines.filter((l) => l.type === 'scheduled'));
    // the initial population plus 2 generations = rounds 0..2, each with rung 1: all but
    // round 0 (queued by --enqueue-only) scheduled by some worker, once each
    assert.deepEqual(scheduled.map((l) => `${l.what}${l.index}`).sort(), ['round1', 'round2', 'rung1', 'rung1', 'rung1']);
    const store = await openStoreUrl(url);
    try {
      const rounds = await store.executor.all<{ kind: string; idx: number }>('SELECT kind, idx FROM rounds ORDER BY kind, idx');
      assert.deepEqual(rounds.map((r) => `${r.kind}:${r.idx}`), ['round:0', 'round:1', 'round:2', 'rung@0:1', 'rung@1:1', 'rung@2:1']);
      const trials = await store.trials('evo');
      assert.ok(trials.every((t) => t.state === 'done' && t.attempts === 1), JSON.stringify(trials.map((t) => [t.state, t.attempts])));
      for (const g of [0, 1, 2]) {
        const r0 = trials.filter((t) => t.round === g && t.rung === 0);
        const r1 = trials.filter((t) => t.round === g && t.rung === 1);
        assert.ok(r0.length >= 1 && r1.length >= 1 && r1.length < r0.length, `generation ${g}: ${r0.length} at rung 0, ${r1.length} at rung 1`);
        assert.ok(r1.every((t) => t.epochs === 2) && r0.every((t) => t.epochs === 1));
        const climbed = new Set(r0.map((t) => t.candidateHash));
        assert.ok(r1.every((t) => climbed.has(t.candidateHash)), 'only rung-0 candidates are promoted');
      }
    } finally {
      await store.close();
    }
  });

  test('two worker processes racing for a one-trial sweep: exactly one trains it', { skip: engineSkip }, async () => {
    const url = await server.createDatabase('last');
    const cfg = writeConfig(dir, {
      ...tiny,
      name: 'last',
      space: { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' },
      search: { kind: 'grid' },
    });
    const q = await cli(['sweep', '--config', cfg, '--store', url, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const ws = [0, 1].map(() => spawnCli(['worker', '--store', url, '--sweep', 'last', '--device', 'cpu', '--json']));
    const exits = await Promise.all(ws.map((w) => w.exit));
    exits.forEach((e, i) => assert.equal(e.code, 0, `worker ${i}: ${ws[i]!.stderr}`));
    const starts = ws.map((w) => w.lines.filter((l) => l.type === 'trial-start').length);
    assert.deepEqual(starts.sort(), [0, 1], 'one worker started the trial, the other none');
    const store = await openStoreUrl(url);
    try {
      const [t] = await store.trials('last');
      assert.equal(t!.state, 'done');
      assert.equal(t!.attempts, 1);
    } finally {
      await store.close();
    }
  });
});
