// `dsxplore sweep` as a user runs it, in child processes: refusals with exit code 2, and
// crash safety — kill -9 in the middle of training, then --resume finishes the sweep with
// every candidate trained exactly once and nothing that had finished lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore } from '../src/store/index.js';
import { addonPath } from '../src/engine/addon.js';

const root = resolve(import.meta.dirname, '..');

function cliScript(args: string[]): string[] {
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify(args)})))`;
  return ['--import', 'tsx', '-e', code];
}

function runCli(args: string[]) {
  const r = spawnSync(process.execPath, cliScript(args), { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(dir: string, body: Record<string, unknown>): string {
  const path = join(dir, `${String(body.name)}.json`);
  writeFileSync(path, JSON.stringify(body, null, 2));
  return path;
}

const base = {
  model: 'resnet20',
  // small images keep each trial to a second or two; 8 batches leave time to kill mid-trial
  dataset: { name: 'synthetic:size=16,classes=4,train=256,test=128', limitTrain: 128 },
  recipe: { epochs: 1, batchSize: 16, threads: 1 },
  space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
  search: { kind: 'grid' },
  baselines: false,
};

test('usage errors exit with code 2 and say what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cli-'));
  try {
    const db = join(dir, 'r.db');
    const grid = writeConfig(dir, { ...base, name: 'big', space: { ...base.space, tie: 'stage' } });
    const r1 = runCli(['sweep', '--config', grid, '--db', db, '--max-candidates', '10', '--json']);
    assert.equal(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, /more than 10 candidates/);
    assert.match(r1.stderr, /--max-candidates/);

    const r2 = runCli(['sweep', '--config', grid, '--db', db, '--max-candidates', 'ten']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--max-candidates must be a whole number/);

    const bad = writeConfig(dir, { ...base, name: 'bad', search: { kind: 'annealing' } });
    const r3 = runCli(['sweep', '--config', bad, '--db', db]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /search\.kind/);

    // a sweep of that name already exists: refuse without --resume
    const taken = writeConfig(dir, { ...base, name: 'taken' });
    const store = await openStore(db);
    await store.createSweep({ name: 'taken', config: {}, configHash: 'x' });
    await store.close();
    const r4 = runCli(['sweep', '--config', taken, '--db', db, '--json']);
    assert.equal(r4.code, 2, r4.stderr);
    assert.match(r4.stderr, /already exists/);
    assert.match(r4.stderr, /--resume/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const haveEngine = existsSync(addonPath());

test('kill -9 during training, then --resume: every candidate trained exactly once, nothing finished lost', { skip: haveEngine ? false : `native engine not built (${addonPath()})` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-kill-'));
  try {
    const db = join(dir, 'r.db');
    const cfg = writeConfig(dir, { ...base, name: 'crash' });
    const args = ['sweep', '--config', cfg, '--db', db, '--json'];

    // first run: kill -9 once two trials have finished and the third is training
    const child = spawn(process.execPath, cliScript(args), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let ended = 0;
    let killed = false;
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exit = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const ev = JSON.parse(line) as { type: string };
        if (ev.type === 'trial-end') ended++;
        if (ev.type === 'progress' && ended >= 2 && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    const how = await exit;
    assert.equal(how, 'SIGKILL', `the first run should be killed mid-training, it ended with ${how}: ${stderr}`);

    const s1 = await openStore(db);
    const before = (await s1.trials('crash'));
    await s1.close();
    const states = before.map((t) => t.state).sort();
    assert.deepEqual(states, ['done', 'done', 'queued', 'queued', 'queued', 'running']);
    const doneBefore = before.filter((t) => t.state === 'done');
    const interrupted = before.find((t) => t.state === 'running')!;

    const r = runCli([...args, '--resume']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    assert.equal(lines.find((l) => l.type === 'plan')!.requeued, 1);
    const result = lines.find((l) => l.type === 'result')!;
    assert.equal(result.trained, 4, 'the interrupted trial and the three queued ones');

    const s2 = await openStore(db);
    const after = (await s2.trials('crash'));
    assert.equal(after.length, 6);
    assert.ok(after.every((t) => t.state === 'done'), JSON.stringify(after.map((t) => t.state)));
    assert.equal(new Set(after.map((t) => t.candidateHash)).size, 6, 'each candidate once');
    for (const d of doneBefore) assert.deepEqual((await s2.trial(d.id)), d, 'a finished trial is untouched by the resume');
    const again = (await s2.trial(interrupted.id))!;
    assert.equal(again.attempts, 2);
    assert.equal((await s2.epochMetrics(again.id)).length, 1);
    assert.equal((await s2.getSweep('crash'))!.status, 'finished');
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
