// Workers survive their database: the private PostgreSQL server is restarted (pg_ctl stop
// -m fast, down for a while, start on the same port) while real `dsxplore worker` processes
// train; they log the lost connection, reconnect with backoff, record the trials they were
// training, and finish the sweep with every trial done exactly once. At the store level, a
// trial re-queued while its worker was cut off gets exactly one result: the new holder's.
// A server that does not come back makes the store give up with a clear error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStoreForReading, openStoreUrl, SCHEMA_VERSION, StoreError, TrialStateError } from '../src/store/index.js';
import { candidate, outcome, trial } from './helpers/store-fixtures.js';
import { addonPath } from '../src/engine/addon.js';
import { pgSkip, startPostgres, type PgServer } from './helpers/postgres.js';
import { cli, spawnCli, writeConfig } from './helpers/cli-process.js';

const engineSkip = existsSync(addonPath()) ? false : `native engine not built (${addonPath()})`;

describe('PostgreSQL restarts', { skip: pgSkip }, () => {
  let server: PgServer;
  let dir: string;
  before(async () => {
    server = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'dsx-pgr-'));
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('read-only opens: no migration, a schema other than this build\'s is refused, and nothing can be written', async () => {
    const url = await server.createDatabase('readonly');
    await assert.rejects(
      openStoreForReading(url),
      (e: unknown) => /schema version 0, older/.test((e as Error).message) && /dsxplore store migrate --store postgres:\/\//.test((e as Error).message),
    );
    const w = await openStoreUrl(url);
    await w.createSweep({ name: 's', config: {}, configHash: 'h' });
    const r = await openStoreForReading(url);
    try {
      assert.equal(await r.schemaVersion(), SCHEMA_VERSION);
      assert.deepEqual((await r.listSweeps()).map((x) => x.name), ['s']);
      assert.deepEqual(await r.counts('s'), { queued: 0, running: 0, done: 0, failed: 0, pruned: 0, diverged: 0 });
      await assert.rejects(r.createSweep({ name: 't', config: {}, configHash: 'h' }), /read-only transaction/);
    } finally {
      await r.close();
      await w.close();
    }
  });

  test('a trial re-queued while its worker was cut off gets exactly one result', async () => {
    const url = await server.createDatabase('requeued');
    const a = await openStoreUrl(url);
    const b = await openStoreUrl(url);
    const warnings: string[] = [];
    a.onWarning = (m) => warnings.push(m);
    try {
      await a.createSweep({ name: 's', config: {}, configHash: 'h' });
      await a.enqueue('s', [trial(candidate('x'))]);
      const mine = (await a.claimNext('s', 'A'))!;
      // A "trains" through a server restart: a heartbeat sent while the server is down
      // waits, reconnecting, and goes through once it is back
      const down = server.restart(1000);
      const beat = a.heartbeat(mine.trial.id, 'A');
      await down;
      assert.equal(await beat, true, 'the heartbeat got through after reconnecting');
      // then its heartbeat lapses and B takes the trial over
      await b.executor.run('UPDATE trials SET heartbeat_at = heartbeat_at - 600000 WHERE id = ?', [mine.trial.id]);
      assert.equal(await b.requeueRunning('s', { staleAfterMs: 60_000 }), 1);
      const theirs = (await b.claimNext('s', 'B'))!;
      assert.equal(theirs.trial.id, mine.trial.id);
      // A's first call after the restart reconnects and is refused: B holds the trial
      await assert.rejects(a.finishTrial(mine.trial.id, 'A', outcome(0.1)), TrialStateError);
      assert.equal(await a.heartbeat(mine.trial.id, 'A'), false);
      await b.finishTrial(theirs.trial.id, 'B', outcome(0.9));
      await assert.rejects(a.finishTrial(mine.trial.id, 'A', outcome(0.1)), /finished/);
      const t = (await a.trial(mine.trial.id))!;
      assert.equal(t.state, 'done');
      assert.equal(t.accuracy, 0.9, "B's result, the only one");
      assert.equal(t.workerId, 'B');
      assert.deepEqual((await a.epochMetrics(t.id)).map((m) => m.testAccuracy), [0.9]);
      assert.ok(warnings.some((w) => /lost the connection/.test(w)), JSON.stringify(warnings));
      assert.ok(warnings.some((w) => /reconnected/.test(w)), JSON.stringify(warnings));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a server that stays down makes the store give up after the reconnect timeout, naming it', async () => {
    const url = await server.createDatabase('gone');
    process.env.DSXPLORE_RECONNECT_TIMEOUT = '1.5';
    const s = await openStoreUrl(url).finally(() => delete process.env.DSXPLORE_RECONNECT_TIMEOUT);
    s.onWarning = () => {};
    try {
      await s.createSweep({ name: 's', config: {}, configHash: 'h' });
      const restarted = server.restart(4000);
      const t0 = Date.now();
      await assert.rejects(s.listSweeps(), (e: unknown) => e instanceof StoreError && /could not reconnect for 1\.5s/.test((e as Error).message));
      const waited = Date.now() - t0;
      assert.ok(waited >= 1000 && waited < 4000, `gave up after ${waited} ms`);
      await restarted;
    } finally {
      await s.close();
    }
  });

  test('restarting the server while two workers train: every trial done exactly once, no worker exits early', { skip: engineSkip }, async () => {
    const url = await server.createDatabase('restart');
    const cfg = writeConfig(dir, {
      name: 'restart',
      model: 'resnet20',
      // 32 batches of 16x16 images: about a second a trial, long enough to restart under it
      dataset: { name: 'synthetic:size=16,classes=4,train=512,test=64', limitTrain: 512, limitTest: 64 },
      recipe: { epochs: 1, batchSize: 16, threads: 1 },
      space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
      search: { kind: 'grid' },
      baselines: false,
    });
    const q = await cli(['sweep', '--config', cfg, '--store', url, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const flags = ['worker', '--store', url, '--sweep', 'restart', '--device', 'cpu', '--heartbeat', '0.25', '--stale-after', '60', '--json'];
    let training = 0;
    let restart: Promise<void> | undefined;
    let atRestart: number[] = [];
    const ws = [0, 1].map(() =>
      spawnCli(flags, (l) => {
        if (l.type === 'trial-start') training++;
        // both workers in the middle of a trial: restart under them
        if (l.type === 'progress' && training >= 2 && !restart) {
          atRestart = ws.map((w) => w.lines.filter((x) => x.type === 'trial-end').length);
          restart = server.restart(2000);
        }
      }),
    );
    const exits = await Promise.all(ws.map((w) => w.exit));
    await restart;
    assert.ok(restart, 'the server was restarted mid-sweep');
    exits.forEach((e, i) => assert.equal(e.code, 0, `worker ${i} exited early: ${ws[i]!.stderr}`));
    for (const [i, w] of ws.entries()) {
      const warnings = w.lines.filter((l) => l.type === 'warning').map((l) => l.message as string);
      assert.ok(warnings.some((m) => /lost the connection to PostgreSQL/.test(m)), `worker ${i} logged the loss: ${JSON.stringify(warnings)}`);
      assert.ok(warnings.some((m) => /reconnected to PostgreSQL/.test(m)), `worker ${i} logged the reconnect: ${JSON.stringify(warnings)}`);
      const ends = w.lines.filter((l) => l.type === 'trial-end').length;
      assert.ok(ends > atRestart[i]!, `worker ${i} recorded trials after the restart`);
    }
    const trained = ws.map((w) => w.lines.find((l) => l.type === 'result')!.trained as number);
    assert.equal(trained[0]! + trained[1]!, 9, `trained per worker ${JSON.stringify(trained)}`);
    const store = await openStoreUrl(url);
    try {
      const trials = await store.trials('restart');
      assert.equal(trials.length, 9);
      assert.ok(trials.every((t) => t.state === 'done'), JSON.stringify(trials.map((t) => t.state)));
      assert.ok(trials.every((t) => t.attempts === 1), 'no trial was claimed twice');
      assert.equal(new Set(trials.map((t) => t.candidateHash)).size, 9);
      for (const t of trials) assert.equal((await store.epochMetrics(t.id)).length, 1, `trial ${t.id} has one result`);
      assert.equal((await store.getSweep('restart'))!.status, 'finished');
      console.log(`restart under 2 workers: trials ended before it ${JSON.stringify(atRestart)}, trained ${JSON.stringify(trained)}`);
    } finally {
      await store.close();
    }
  });
});
