// Trials in their own processes, on real `dsxplore sweep` processes and the real engine: a
// child that aborts or dies by SIGSEGV in an op (DSXPLORE_FAULT_MODE, applied to one
// candidate by DSXPLORE_FAULT_LABEL) fails that trial only, with the signal, the op and the
// child's last stderr lines, and the sweep goes on to exit 0; a child that hangs is killed
// by --trial-timeout and its trial failed the same way, as is one SIGKILLed from outside (as
// the out-of-memory killer does); a SIGTERM with two lanes training
// returns within 2 s with no trial left running, and --resume trains each remaining
// candidate exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { addonPath } from '../src/engine/addon.js';
import type { TrialRow } from '../src/domain/rows.js';
import { cli, spawnCli, writeConfig } from './helpers/cli-process.js';

const skip = existsSync(addonPath()) ? false : `native engine not built (${addonPath()})`;

// 16x16 synthetic images, 8 batches a trial: a fraction of a second each
const base = {
  model: 'resnet20',
  dataset: { name: 'synthetic:size=16,classes=4,train=256,test=64', limitTrain: 128, limitTest: 32 },
  recipe: { epochs: 1, batchSize: 16, threads: 1 },
  space: { variants: ['dw-scc'], cg: [2, 4], co: [0.5], tie: 'all' },
  search: { kind: 'grid' },
  baselines: false,
};

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-iso-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function trialsOf(db: string, sweep: string): Promise<TrialRow[]> {
  const s = await openStore(db);
  try {
    return await s.trials(sweep);
  } finally {
    await s.close();
  }
}

/** Queue the sweep, and name the SCC candidate the fault is to hit (the last one queued,
 * so that the start-up check of the first trial passes). */
async function queue(db: string, cfg: string, sweep: string): Promise<string> {
  const q = await cli(['sweep', '--config', cfg, '--db', db, '--enqueue-only', '--json']);
  assert.equal(q.code, 0, q.stderr);
  const scc = (await trialsOf(db, sweep)).filter((t) => t.label.includes('scc'));
  assert.ok(scc.length >= 2, 'two SCC candidates: one faulty, one healthy');
  return scc.at(-1)!.label;
}

/** Run the queued sweep with the fault on one candidate; the trials after. */
async function sweepWithFault(dir: string, name: string, mode: string, extra: string[] = [], body: object = {}) {
  const db = join(dir, 'r.db');
  const cfg = writeConfig(dir, { ...base, ...body, name });
  const label = await queue(db, cfg, name);
  const t0 = Date.now();
  const r = await cli(['sweep', '--config', cfg, '--db', db, '--device', 'cpu', '--json', '--resume', ...extra], {
    DSXPLORE_FAULT_OP: 'scc_backward',
    DSXPLORE_FAULT_MODE: mode,
    DSXPLORE_FAULT_LABEL: label,
  });
  const seconds = (Date.now() - t0) / 1000;
  const trials = await trialsOf(db, name);
  const faulty = trials.filter((t) => t.label === label);
  const others = trials.filter((t) => t.label !== label);
  return { r, trials, faulty, others, seconds };
}

test('a trial whose process aborts in scc_backward fails with the cause; the baselines and the rest are done, exit 0', { skip }, () =>
  withDir(async (dir) => {
    const { r, faulty, others, trials } = await sweepWithFault(dir, 'abort', 'abort', [], { baselines: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(faulty.length, 1);
    const f = faulty[0]!;
    assert.equal(f.state, 'failed');
    assert.match(f.error ?? '', /killed by SIGABRT/);
    assert.match(f.error ?? '', /in scc_backward/);
    assert.match(f.error ?? '', /last stderr lines:\n.*injected fault in scc_backward \(DSXPLORE_FAULT_MODE=abort\)/);
    assert.ok(others.length >= 3, JSON.stringify(trials.map((t) => t.label)));
    for (const t of others) assert.equal(t.state, 'done', `${t.label}: ${t.error}`);
    assert.ok(others.some((t) => t.label.startsWith('std')), 'the baselines trained');
    assert.ok(others.some((t) => t.label.includes('scc')), 'and the healthy SCC candidate, in a fresh process after the crash');
    const summary = r.lines.find((l) => l.type === 'result')!;
    assert.equal(summary.failed, 1);
    assert.ok(r.lines.some((l) => l.type === 'trial-end' && l.state === 'failed' && /SIGABRT/.test(l.error)), 'reported as it happened');
  }));

test('a trial whose process dies by SIGSEGV fails with the signal; the sweep goes on', { skip }, () =>
  withDir(async (dir) => {
    const { r, faulty, others } = await sweepWithFault(dir, 'segv', 'segv', ['--jobs', '2', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(faulty[0]!.state, 'failed');
    assert.match(faulty[0]!.error ?? '', /killed by SIGSEGV in scc_backward/);
    for (const t of others) assert.equal(t.state, 'done', `${t.label}: ${t.error}`);
  }));

test('a hung trial is killed by --trial-timeout and failed; the sweep goes on', { skip }, () =>
  withDir(async (dir) => {
    const { r, faulty, others, seconds } = await sweepWithFault(dir, 'hang', 'hang', ['--trial-timeout', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(faulty[0]!.state, 'failed');
    assert.match(faulty[0]!.error ?? '', /no progress for 2 s \(--trial-timeout\)/);
    assert.match(faulty[0]!.error ?? '', /injected fault in scc_backward \(DSXPLORE_FAULT_MODE=hang\)/);
    for (const t of others) assert.equal(t.state, 'done', `${t.label}: ${t.error}`);
    console.log(`hung trial: sweep of ${others.length + 1} trials ended in ${seconds.toFixed(1)} s with --trial-timeout 2`);
  }));

/** The pids of `pid`'s trial processes (Linux: /proc/PID/task/TID/children). */
function trialChildren(pid: number): number[] {
  const kids = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
  return kids.filter((k) => {
    try {
      return readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('trial-child');
    } catch {
      return false; // it ended meanwhile
    }
  });
}

test('a trial process SIGKILLed from outside (as by the out-of-memory killer) fails its trial only', { skip: skip || (existsSync('/proc/self/task') ? false : 'needs /proc') }, () =>
  withDir(async (dir) => {
    const db = join(dir, 'r.db');
    // 64 batches a trial: time to find the child and kill it mid-epoch
    const cfg = writeConfig(dir, {
      ...base,
      name: 'oom',
      dataset: { name: 'synthetic:size=16,classes=4,train=1024,test=64', limitTrain: 1024, limitTest: 32 },
    });
    let victim = 0;
    const run = spawnCli(['sweep', '--config', cfg, '--db', db, '--device', 'cpu', '--json'], (l, r) => {
      if (l.type === 'progress' && !victim) {
        victim = trialChildren(r.child.pid!)[0] ?? 0;
        if (victim) process.kill(victim, 'SIGKILL');
      }
    });
    const exit = await run.exit;
    assert.ok(victim > 0, 'found the trial process');
    assert.deepEqual(exit, { code: 0, signal: null }, run.stderr);
    const trials = await trialsOf(db, 'oom');
    const failed = trials.filter((t) => t.state === 'failed');
    assert.equal(failed.length, 1, JSON.stringify(trials.map((t) => [t.label, t.state])));
    assert.match(failed[0]!.error ?? '', /killed by SIGKILL \(not by dsxplore: the kernel kills so for out-of-memory/);
    assert.equal(trials.filter((t) => t.state === 'done').length, trials.length - 1, 'the next trial trained in a fresh process');
  }));

test('SIGTERM with two lanes mid-epoch exits 143 within 2 s, nothing left running; --resume trains each remaining candidate once', { skip }, () =>
  withDir(async (dir) => {
    const db = join(dir, 'r.db');
    // 64 batches a trial: several seconds, so that the signal surely lands mid-epoch
    const cfg = writeConfig(dir, {
      ...base,
      name: 'term2',
      dataset: { name: 'synthetic:size=16,classes=4,train=1024,test=64', limitTrain: 1024, limitTest: 32 },
      space: { ...base.space, cg: [2, 4], co: [0.25, 0.5, 0.75] },
    });
    const args = ['sweep', '--config', cfg, '--db', db, '--device', 'cpu', '--jobs', '2', '--threads', '1', '--json'];
    let t0 = 0;
    let starts = 0;
    const run = spawnCli(args, (l, r) => {
      if (l.type === 'trial-start') starts++;
      // both lanes are training: each has started a trial, and progress has come since
      if (l.type === 'progress' && !t0 && starts >= 2) {
        t0 = Date.now();
        r.child.kill('SIGTERM');
      }
    });
    const exit = await run.exit;
    const ms = Date.now() - t0;
    assert.ok(t0 > 0, 'the signal came mid-training');
    assert.deepEqual(exit, { code: 143, signal: null }, run.stderr);
    assert.ok(ms < 2000, `exited ${ms} ms after the signal`);
    console.log(`SIGTERM, two lanes training: exited 143 ${ms} ms after the signal`);
    const before = await trialsOf(db, 'term2');
    assert.equal(before.filter((t) => t.state === 'running').length, 0, JSON.stringify(before.map((t) => t.state)));
    const released = before.filter((t) => t.state === 'queued' && t.attempts === 1);
    const result = run.lines.find((l) => l.type === 'result')!;
    assert.equal(result.released, released.length);
    assert.ok(released.length >= 1, 'the trials in training went back to the queue');
    const remaining = before.filter((t) => t.state === 'queued');

    const again = await cli([...args, '--resume']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.lines.find((l) => l.type === 'plan')!.requeued, 0, 'nothing was left running to re-queue');
    const started = again.lines.filter((l) => l.type === 'trial-start').map((l) => l.trial as number);
    assert.deepEqual([...started].sort(), remaining.map((t) => t.id).sort(), 'each remaining trial trained once');
    const after = await trialsOf(db, 'term2');
    assert.ok(after.every((t) => t.state === 'done'), JSON.stringify(after.map((t) => t.state)));
    for (const t of before.filter((x) => x.state === 'done')) {
      assert.deepEqual(after.find((x) => x.id === t.id), t, 'a finished trial is not trained again');
    }
  }));
