// `dsxplore launch slurm` against a real single-node Slurm (test/helpers/slurm.ts: Debian's
// slurm-wlm and munge on loopback, in a temporary directory) and a private PostgreSQL:
// an array job of 3 workers finishes a sweep with every trial trained exactly once;
// scancel of one array task mid-trial puts its trial back in the queue at once and another
// task finishes it; a task reaching its time limit is warned (--signal) and does the same.
// Each test prints its timeline (submit, trials done per task, the given-back trial).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStoreUrl, type SweepStore } from '../src/store/index.js';
import { addonPath } from '../src/engine/addon.js';
import { spawnCli, writeConfig } from './helpers/cli-process.js';
import { pgSkip, startPostgres, type PgServer } from './helpers/postgres.js';
import { slurmSkip, startSlurm, type SlurmCluster } from './helpers/slurm.js';

const root = resolve(import.meta.dirname, '..');
const skip = slurmSkip || pgSkip || (existsSync(addonPath()) ? false : `native engine not built (${addonPath()})`);

// trials of a few seconds each on one thread: 16x16 synthetic images
const tiny = {
  model: 'resnet20',
  dataset: { name: 'synthetic:size=16,classes=4,train=512,test=64', limitTrain: 384, limitTest: 32 },
  recipe: { epochs: 1, batchSize: 16, threads: 1 },
  baselines: false,
};

const PASSWORD = 'pw-never-shown';

/** Command lines of every process on this machine that shows the password (`ps` would). */
function commandLinesWith(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('launch slurm on a real Slurm', { skip }, () => {
  let pg: PgServer;
  let slurm: SlurmCluster;
  let dir: string;
  let dsxplore: string;
  before(async () => {
    pg = await startPostgres();
    slurm = await startSlurm();
    dir = mkdtempSync(join(tmpdir(), 'dsx-launch-'));
    chmodSync(dir, 0o755);
    // how the compute node starts dsxplore: from the TypeScript sources, like every CLI test
    dsxplore = join(dir, 'dsxplore');
    writeFileSync(
      dsxplore,
      `#!/bin/sh\ncd ${root} && exec ${process.execPath} --import tsx -e ` +
        `"import('./src/cli.ts').then(async m => process.exit(await m.main(process.argv.slice(1))))" "$@"\n`,
      { mode: 0o755 },
    );
  });
  after(async () => {
    await slurm?.stop();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const t0 = Date.now();
  const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

  /** `launch slurm` for a new sweep of `n` candidates; returns the job id and the store URL. */
  async function launch(name: string, n: number, extra: string[], o: { db?: string; epochs?: number } = {}) {
    // trust authentication accepts and ignores the password, which must appear nowhere
    const url = o.db ?? (await pg.createDatabase(name)).replace('dsx@', `dsx:${PASSWORD}@`);
    const cfg = writeConfig(dir, {
      ...tiny,
      recipe: { ...tiny.recipe, epochs: o.epochs ?? 1 },
      name,
      space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5, 0.75], tie: 'stage' },
      search: { kind: 'random', n, seed: 1 },
    });
    // a blank in the logs' folder, as a home folder may have
    const out = join(dir, `${name} runs`);
    // the URL only in the environment, as a user with a password would give it
    const run = spawnCli(
      ['launch', 'slurm', '--config', cfg, '--dsxplore', dsxplore, '--out', out, '--json', '--cpus-per-worker', '1', ...extra],
      undefined,
      { ...slurm.env, DSXPLORE_STORE: url },
    );
    const { code } = await run.exit;
    assert.equal(code, 0, run.stderr);
    const result = run.lines.find((l) => l.type === 'result')!;
    assert.match(result.jobId, /^\d+$/);
    const script = readFileSync(result.script, 'utf8');
    assert.ok(!script.includes(PASSWORD) && !script.includes('127.0.0.1'), 'the store URL is not in the script');
    assert.ok(!JSON.stringify(run.lines).includes(PASSWORD) && !run.stderr.includes(PASSWORD), 'nor in the output');
    console.log(`[${at()}] ${name}: submitted job ${result.jobId} (${extra.join(' ')})`);
    return { jobId: result.jobId as string, url, out };
  }

  async function waitJob(jobId: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (slurm.run('squeue', ['-h', '-j', jobId]).trim() !== '') {
      if (Date.now() > end) assert.fail(`job ${jobId} still queued or running after ${timeoutMs / 1000}s:\n${slurm.log()}`);
      await sleep(500);
    }
  }

  /** Each task's log (JSON lines of its worker), by array task. */
  function taskLogs(out: string, jobId: string): Map<string, Array<Record<string, any>>> {
    const logs = new Map<string, Array<Record<string, any>>>();
    for (const f of readdirSync(out)) {
      const m = new RegExp(`-${jobId}_(\\d+)\\.out$`).exec(f);
      if (!m) continue;
      const lines = readFileSync(join(out, f), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      logs.set(`${jobId}_${m[1]}`, lines);
    }
    return logs;
  }

  const doneBy = (lines: Array<Record<string, any>>) => lines.filter((l) => l.type === 'trial-end' && l.state === 'done').map((l) => l.trial as number);

  async function withStore<T>(url: string, f: (s: SweepStore) => T | Promise<T>): Promise<T> {
    const s = await openStoreUrl(url);
    try {
      return await f(s);
    } finally {
      await s.close();
    }
  }

  /** Every trial done, each trained once in all; per task: the trials it finished. */
  async function assertAllDoneOnce(url: string, name: string, logs: Map<string, Array<Record<string, any>>>[]) {
    const trials = await withStore(url, (s) => s.trials(name));
    assert.ok(trials.length > 0);
    assert.deepEqual(trials.filter((t) => t.state !== 'done').map((t) => [t.id, t.state]), [], 'every trial is done');
    const finished = logs.flatMap((m) => [...m.values()].flatMap(doneBy)).sort((a, b) => a - b);
    assert.deepEqual(finished, trials.map((t) => t.id).sort((a, b) => a - b), 'each trial finished by exactly one task');
    for (const t of trials) assert.match(t.workerId ?? '', /^slurm:\d+_\d+@dsxnode:pid \d+$/, 'the worker says job, task and node');
    assert.equal((await withStore(url, (s) => s.getSweep(name)))!.status, 'finished');
    return trials;
  }

  test('--workers 3: an array job of 3 tasks trains every trial exactly once', async () => {
    const { jobId, url, out } = await launch('three', 9, ['--workers', '3']);
    // while the tasks run, no process shows the password in its command line
    for (let i = 0; i < 20 && slurm.run('squeue', ['-h', '-j', jobId]).trim() !== ''; i++) {
      assert.deepEqual(commandLinesWith(PASSWORD), []);
      await sleep(250);
    }
    await waitJob(jobId, 120_000);
    const logs = taskLogs(out, jobId);
    assert.equal(logs.size, 3, `one log per task: ${[...logs.keys()]}`);
    const trials = await assertAllDoneOnce(url, 'three', [logs]);
    assert.ok(trials.every((t) => t.attempts === 1), 'no trial was claimed twice');
    for (const [task, lines] of logs) {
      assert.equal(lines.at(-1)!.type, 'result', `${task} ended with its summary`);
      console.log(`[${at()}] three: task ${task} finished trials ${JSON.stringify(doneBy(lines))}`);
    }
    assert.ok([...logs.values()].filter((l) => doneBy(l).length > 0).length >= 2, 'the tasks shared the work');
  });

  test('scancel of one task mid-trial: its trial goes back to the queue and another task finishes it', async () => {
    // trials of 6 epochs (a second or more each): the tasks are seen in trials together
    // before the sweep runs out
    const { jobId, url, out } = await launch('cancel', 12, ['--workers', '3'], { epochs: 6 });
    // wait until every task is in a trial, then cancel task 1
    const victim = `${jobId}_1`;
    let seen: number | undefined;
    for (const end = Date.now() + 90_000; seen === undefined; await sleep(200)) {
      if (Date.now() > end) assert.fail(`task ${victim} never ran a trial:\n${slurm.log()}`);
      const running = (await withStore(url, (s) => s.trials('cancel'))).filter((t) => t.state === 'running');
      const mine = running.find((t) => t.workerId?.startsWith(`slurm:${victim}@`));
      if (mine && running.length === 3) seen = mine.id;
    }
    const cancelledAt = Date.now();
    slurm.run('scancel', [victim]);
    console.log(`[${at()}] cancel: scancel ${victim} while it trains trial ${seen}`);
    // the worker gives its trial back and exits at once (not after the 60 s heartbeat timeout)
    const log = () => taskLogs(out, jobId).get(victim) ?? [];
    for (const end = Date.now() + 15_000; !log().some((l) => l.type === 'result'); await sleep(100)) {
      if (Date.now() > end) assert.fail(`task ${victim} did not stop within 15 s of scancel: ${JSON.stringify(log().slice(-3))}`);
    }
    const cancelled = log();
    const stopped = cancelled.find((l) => l.type === 'result')!;
    assert.equal(stopped.stopped, 'SIGTERM');
    assert.equal(stopped.released, 1, 'the cancelled worker released its trial');
    const held = cancelled.filter((l) => l.type === 'trial-start').map((l) => l.trial as number).find((id) => !doneBy(cancelled).includes(id))!;
    const now = (await withStore(url, (s) => s.trial(held)))!;
    assert.ok(!now.workerId?.startsWith(`slurm:${victim}@`), `trial ${held} is no longer the cancelled task's (${now.state}, ${now.workerId})`);
    console.log(
      `[${at()}] cancel: ${victim} gave trial ${held} back and exited ${((Date.now() - cancelledAt) / 1000).toFixed(1)} s after scancel; ` +
        `the trial is ${now.state}${now.workerId ? ` by ${now.workerId}` : ''}`,
    );
    await waitJob(jobId, 120_000);
    const logs = taskLogs(out, jobId);
    const trials = await assertAllDoneOnce(url, 'cancel', [logs]);
    const again = trials.find((t) => t.id === held)!;
    assert.equal(again.attempts, 2, 'claimed twice: by the cancelled task, then by another');
    assert.ok(!again.workerId!.startsWith(`slurm:${victim}@`), 'another task finished it');
    for (const [task, lines] of logs) console.log(`[${at()}] cancel: task ${task} finished trials ${JSON.stringify(doneBy(lines))}`);
    console.log(`[${at()}] cancel: trial ${held} finished by ${again.workerId}`);
  });

  test('a task at its time limit is warned, gives its trial back, and a later task finishes it', async () => {
    // one task of one minute, warned 10 s before (Slurm checks limits every 30 s or so, so
    // the warning comes 10 to 40 s before the limit); 300 trials of 6 epochs (a second or
    // more each) outlast it on any machine, and only the given-back one is trained later
    const epochs = 6;
    const { jobId, url, out } = await launch('timeout', 300, ['--workers', '1', '--time', '00:01:00', '--signal', '10'], { epochs });
    await waitJob(jobId, 150_000);
    const first = taskLogs(out, jobId);
    const lines = first.get(`${jobId}_0`)!;
    const stopped = lines.find((l) => l.type === 'result')!;
    assert.equal(stopped.stopped, 'SIGTERM', JSON.stringify(lines.slice(-3)));
    assert.equal(stopped.released, 1, 'the warned worker released its trial');
    const started = lines.filter((l) => l.type === 'trial-start').map((l) => l.trial as number);
    const given = started.find((id) => !doneBy(lines).includes(id))!;
    const mid = (await withStore(url, (s) => s.trial(given)))!;
    assert.equal(mid.state, 'queued', 'the trial is back in the queue, not left running');
    const state = slurm.run('scontrol', ['show', 'job', jobId]);
    // the warned worker gave its trial back and exited 0 by itself: not FAILED, not killed
    assert.match(state, /JobState=COMPLETED\b/, state);
    assert.match(state, /ExitCode=0:0\b/, state);
    console.log(
      `[${at()}] timeout: task ${jobId}_0 finished ${doneBy(lines).length} trials, was warned, gave trial ${given} back ` +
        `(${/JobState=(\S+)/.exec(state)?.[1]} after ${/RunTime=(\S+)/.exec(state)?.[1]} of 00:01:00)`,
    );
    // more workers for the same sweep (the queue is in order: the given-back trial first);
    // once it is done, cancel them (they give their trials back too)
    const second = await launch('timeout', 300, ['--workers', '2', '--resume'], { db: url, epochs });
    for (const end = Date.now() + 90_000; (await withStore(url, (s) => s.trial(given)))!.state !== 'done'; await sleep(250)) {
      if (Date.now() > end) assert.fail(`trial ${given} was not finished by job ${second.jobId}:\n${slurm.log()}`);
    }
    slurm.run('scancel', [second.jobId]);
    await waitJob(second.jobId, 60_000);
    const later = taskLogs(out, second.jobId);
    const again = (await withStore(url, (s) => s.trial(given)))!;
    assert.equal(again.attempts, 2);
    assert.match(again.workerId!, new RegExp(`^slurm:${second.jobId}_\\d+@dsxnode:`), 'a task of the later job finished it');
    const trials = await withStore(url, (s) => s.trials('timeout'));
    assert.deepEqual(trials.filter((t) => t.state !== 'done' && t.state !== 'queued').map((t) => [t.id, t.state]), [], 'none left running');
    const finished = [first, later].flatMap((m) => [...m.values()].flatMap(doneBy)).sort((a, b) => a - b);
    assert.deepEqual(finished, trials.filter((t) => t.state === 'done').map((t) => t.id).sort((a, b) => a - b), 'each done trial finished once');
    for (const [task, l] of later) console.log(`[${at()}] timeout: task ${task} finished trials ${JSON.stringify(doneBy(l))}, then was cancelled`);
    console.log(`[${at()}] timeout: trial ${given} finished by ${again.workerId}`);
  });
});
