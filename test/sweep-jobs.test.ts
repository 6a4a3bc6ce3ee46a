// `sweep --jobs N`: N trials train at once (a child process each), each claimed exactly once, with
// the same results as one at a time (same seeds, same threads per trial); and an injected
// device fault (DSXPLORE_FAULT_OP) fails the trials whose op it names, by name, while the
// process and the sweep go on. Real CLI processes on the real engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore } from '../src/store/index.js';
import { addonPath } from '../src/engine/addon.js';
import type { TrialRow } from '../src/domain/rows.js';

const root = resolve(import.meta.dirname, '..');
const haveEngine = existsSync(addonPath());
const skip = haveEngine ? false : `native engine not built (${addonPath()})`;

function runCli(args: string[], env: Record<string, string> = {}) {
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify(args)})))`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const config = {
  model: 'resnet20',
  dataset: { name: 'synthetic:size=16,classes=4,train=256,test=128', limitTrain: 128 },
  recipe: { epochs: 1, batchSize: 16 },
  space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.75], tie: 'all' },
  search: { kind: 'grid' },
  baselines: false,
};

async function trialsOf(db: string): Promise<TrialRow[]> {
  const store = await openStore(db);
  try {
    const sweeps = await store.listSweeps();
    return await store.trials(sweeps[0]!.name);
  } finally {
    await store.close();
  }
}

test('sweep --jobs 2 --threads 1 overlaps two trials and matches --jobs 1', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-jobs-'));
  try {
    const cfg = join(dir, 'jobs.json');
    writeFileSync(cfg, JSON.stringify({ ...config, name: 'jobs' }));
    const runs: Record<string, TrialRow[]> = {};
    for (const jobs of ['2', '1']) {
      const db = join(dir, `jobs${jobs}.db`);
      const r = runCli(['sweep', '--config', cfg, '--db', db, '--device', 'cpu', '--jobs', jobs, '--threads', '1', '--json']);
      assert.equal(r.code, 0, r.stderr);
      runs[jobs] = await trialsOf(db);
    }
    const two = runs['2']!;
    assert.equal(two.length, 4);
    for (const t of two) {
      assert.equal(t.state, 'done', `${t.label}: ${t.error}`);
      assert.equal(t.attempts, 1, `${t.label} claimed once`);
      const prov = t.provenance as Record<string, unknown>;
      assert.equal(prov.threads, 1);
      assert.equal(prov.device, 'cpu');
      assert.equal(prov.deviceReason, 'requested --device cpu');
    }
    // two trials ran at the same time: their [started, finished] intervals overlap
    const span = (t: TrialRow) => [Date.parse(t.startedAt!), Date.parse(t.finishedAt!)] as const;
    let overlapping = 0;
    for (let i = 0; i < two.length; i++)
      for (let j = i + 1; j < two.length; j++) {
        const [a0, a1] = span(two[i]!);
        const [b0, b1] = span(two[j]!);
        if (Math.max(a0, b0) < Math.min(a1, b1)) overlapping++;
      }
    assert.ok(overlapping >= 1, `no two trials overlapped: ${JSON.stringify(two.map(span))}`);
    // same seeds, same threads per trial: the same numbers, bit for bit
    const byLabel = new Map(runs['1']!.map((t) => [t.label, t]));
    for (const t of two) {
      const u = byLabel.get(t.label)!;
      assert.equal(t.accuracy, u.accuracy, t.label);
      assert.equal(t.trainLoss, u.trainLoss, t.label);
      assert.equal(t.testLoss, u.testLoss, t.label);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an injected device fault fails its trials by op name; the process and the sweep go on', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-fault-'));
  try {
    const cfg = join(dir, 'fault.json');
    const db = join(dir, 'fault.db');
    // the std baseline (no SCC) is queued first, so the start-up check passes; the dw-scc
    // candidates then fail in their first backward SCC
    writeFileSync(cfg, JSON.stringify({ ...config, name: 'fault', baselines: true, space: { ...config.space, cg: [2], co: [0.5] } }));
    const r = runCli(['sweep', '--config', cfg, '--db', db, '--device', 'cpu', '--threads', '1', '--json'], {
      DSXPLORE_FAULT_OP: 'scc_backward',
    });
    assert.equal(r.signal, null, 'the process was not killed');
    assert.equal(r.code, 0, r.stderr);
    const trials = await trialsOf(db);
    const failed = trials.filter((t) => t.state === 'failed');
    const done = trials.filter((t) => t.state === 'done');
    assert.ok(failed.length >= 1, JSON.stringify(trials.map((t) => [t.label, t.state])));
    assert.ok(done.length >= 1, 'the sweep went on past the failure');
    for (const t of failed) assert.match(t.error ?? '', /scc_backward/);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.failed, failed.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
