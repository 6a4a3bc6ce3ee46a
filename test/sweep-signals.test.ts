// Graceful stops with real signals on real `dsxplore sweep` and `dsxplore worker`
// processes: SIGTERM puts the running trial back in the queue at once and stops with
// status 143 (without waiting for the training), and --resume then completes the sweep
// with nothing trained twice; SIGINT with --drain lets the running trial finish and exits
// 130; a second signal stops at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { addonPath } from '../src/engine/addon.js';
import { cli, spawnCli, writeConfig } from './helpers/cli-process.js';

const skip = existsSync(addonPath()) ? false : `native engine not built (${addonPath()})`;

// 16x16 synthetic images, 32 batches a trial: about a second each, time to signal mid-trial
const base = {
  model: 'resnet20',
  dataset: { name: 'synthetic:size=16,classes=4,train=512,test=128', limitTrain: 512, limitTest: 64 },
  recipe: { epochs: 1, batchSize: 16, threads: 1 },
  space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
  search: { kind: 'grid' },
  baselines: false,
};

/** Exit status 130/143, set by the process itself: no training runs on a thread of it
 * (trials train in child processes, src/sweep/trial-process.ts), so nothing holds its exit. */
function assertStoppedBy(exit: { code: number | null; signal: NodeJS.Signals | null }, signal: 'SIGINT' | 'SIGTERM', stderr: string): void {
  assert.deepEqual(exit, { code: signal === 'SIGINT' ? 130 : 143, signal: null }, stderr);
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-sig-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function trialsOf(db: string, sweep: string) {
  const s = await openStore(db);
  try {
    return { trials: await s.trials(sweep), metrics: s };
  } finally {
    await s.close();
  }
}

test('SIGTERM puts the running trial back in the queue at once and exits 143; --resume trains nothing twice', { skip }, () =>
  withDir(async (dir) => {
    const db = join(dir, 'r.db');
    const cfg = writeConfig(dir, { ...base, name: 'term' });
    const args = ['sweep', '--config', cfg, '--db', db, '--json'];
    let ended = 0;
    let signalled = false;
    let t0 = 0;
    const run = spawnCli(args, (l, r) => {
      if (l.type === 'trial-end') ended++;
      if (l.type === 'progress' && ended >= 2 && !signalled) {
        signalled = true;
        t0 = Date.now();
        r.child.kill('SIGTERM');
      }
    });
    assertStoppedBy(await run.exit, 'SIGTERM', run.stderr);
    assert.ok(signalled, 'the signal came mid-training');
    assert.match(run.stderr, /1 running trial\(s\) put back in the queue/);
    assert.match(run.stderr, /--resume/);
    const result = run.lines.find((l) => l.type === 'result')!;
    assert.equal(result.stopped, 'SIGTERM');
    assert.equal(result.released, 1);
    console.log(`SIGTERM mid-trial: exited 143 ${Date.now() - t0} ms after the signal, ${ended} trials done before it`);

    const before = (await trialsOf(db, 'term')).trials;
    assert.deepEqual(before.map((t) => t.state).sort(), ['done', 'done', 'queued', 'queued', 'queued', 'queued'], 'nothing left running');
    const released = before.filter((t) => t.state === 'queued' && t.attempts === 1);
    assert.equal(released.length, 1, 'the trial in training went back to the queue');
    const doneBefore = before.filter((t) => t.state === 'done');

    const r = await cli([...args, '--resume']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.find((l) => l.type === 'plan')!.requeued, 0, 'nothing was left running to re-queue');
    assert.equal(r.lines.find((l) => l.type === 'result')!.trained, 4, 'the released trial and the three never started');
    const s = await openStore(db);
    try {
      const after = await s.trials('term');
      assert.ok(after.every((t) => t.state === 'done'), JSON.stringify(after.map((t) => t.state)));
      assert.equal(new Set(after.map((t) => t.candidateHash)).size, 6, 'each candidate once');
      for (const d of doneBefore) assert.deepEqual(await s.trial(d.id), d, 'a finished trial is not trained again');
      assert.equal((await s.trial(released[0]!.id))!.attempts, 2);
      assert.equal((await s.epochMetrics(released[0]!.id)).length, 1);
      assert.equal((await s.getSweep('term'))!.status, 'finished');
    } finally {
      await s.close();
    }
  }));

test('SIGINT with --drain lets the running trial finish, claims no other, and exits 130', { skip }, () =>
  withDir(async (dir) => {
    const db = join(dir, 'r.db');
    const cfg = writeConfig(dir, { ...base, name: 'drain' });
    let signalledAt = -1;
    const run = spawnCli(['sweep', '--config', cfg, '--db', db, '--json', '--drain'], (l, r) => {
      if (l.type === 'progress' && signalledAt < 0) {
        signalledAt = r.lines.length;
        r.child.kill('SIGINT');
      }
    });
    const exit = await run.exit;
    assert.equal(exit.code, 130, `a drained stop has nothing running and exits with the code: ${run.stderr}`);
    assert.match(run.stderr, /finishing the running trial/);
    const after = run.lines.slice(signalledAt);
    assert.equal(after.filter((l) => l.type === 'trial-end').length, 1, 'the running trial ended after the signal');
    assert.equal(after.filter((l) => l.type === 'trial-start').length, 0, 'and no other started');
    const result = run.lines.find((l) => l.type === 'result')!;
    assert.equal(result.stopped, 'SIGINT');
    assert.equal(result.released, 0);
    const { trials } = await trialsOf(db, 'drain');
    assert.deepEqual(trials.map((t) => t.state).sort(), ['done', 'queued', 'queued', 'queued', 'queued', 'queued']);
  }));

test('a second signal exits at once, leaving the trial for --resume', { skip }, () =>
  withDir(async (dir) => {
    const db = join(dir, 'r.db');
    // one longer trial (128 batches), so that it surely outlasts the second signal
    const cfg = writeConfig(dir, {
      ...base,
      name: 'twice',
      dataset: { ...base.dataset, name: 'synthetic:size=16,classes=4,train=2048,test=128', limitTrain: 2048 },
      space: { ...base.space, cg: [2], co: [0.5] },
    });
    let sent = false;
    let firstAt = 0;
    const run = spawnCli(['sweep', '--config', cfg, '--db', db, '--json', '--drain'], (l, r) => {
      if (l.type === 'progress' && !sent) {
        sent = true;
        firstAt = Date.now();
        r.child.kill('SIGTERM');
        setTimeout(() => r.child.kill('SIGTERM'), 50);
      }
    });
    const exit = await run.exit;
    const ms = Date.now() - firstAt;
    assertStoppedBy(exit, 'SIGTERM', run.stderr);
    assert.ok(ms < 3000, `exited ${ms} ms after the first signal, with a training of several seconds still running`);
    assert.match(run.stderr, /second signal/);
    assert.equal(run.lines.filter((l) => l.type === 'trial-end').length, 0, 'the drained trial did not get to finish');
    console.log(`second signal: exited ${ms} ms after the first`);
    const { trials } = await trialsOf(db, 'twice');
    assert.deepEqual(trials.map((t) => t.state), ['running'], 'left as it was: the process exited at once');
    const r = await cli(['sweep', '--config', cfg, '--db', db, '--json', '--resume']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.find((l) => l.type === 'plan')!.requeued, 1);
    assert.deepEqual((await trialsOf(db, 'twice')).trials.map((t) => [t.state, t.attempts]), [['done', 2]]);
  }));

test('SIGTERM to a worker gives its trial back at once; another worker finishes the sweep', { skip }, () =>
  withDir(async (dir) => {
    const db = join(dir, 'r.db');
    // one trial of 64 batches: the worker must not wait for it to end
    const cfg = writeConfig(dir, {
      ...base,
      name: 'wk',
      dataset: { ...base.dataset, name: 'synthetic:size=16,classes=4,train=1024,test=128', limitTrain: 1024 },
      space: { ...base.space, cg: [2], co: [0.5] },
    });
    const q = await cli(['sweep', '--config', cfg, '--db', db, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    const flags = ['worker', '--db', db, '--device', 'cpu', '--json'];
    let at = 0;
    const victim = spawnCli(flags, (l, r) => {
      if (l.type === 'progress' && !at) {
        at = Date.now();
        r.child.kill('SIGTERM');
      }
    });
    assertStoppedBy(await victim.exit, 'SIGTERM', victim.stderr);
    const ms = Date.now() - at;
    assert.ok(ms < 2500, `the worker exited ${ms} ms after the signal, not after its training`);
    console.log(`worker SIGTERM mid-trial: exited ${ms} ms after the signal`);
    const mid = (await trialsOf(db, 'wk')).trials;
    assert.deepEqual(mid.map((t) => [t.state, t.attempts]), [['queued', 1]], 'its trial is queued again at once, no stale heartbeat to wait for');
    const w = await cli(flags);
    assert.equal(w.code, 0, w.stderr);
    const { trials } = await trialsOf(db, 'wk');
    assert.ok(trials.every((t) => t.state === 'done'));
  }));
