// `--store URL` selection and `dsxplore worker` on the embedded SQLite store: workers on one
// machine share a file through write transactions, each trial trained once.
// (The PostgreSQL side, many machines, is test/pg-workers.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore, parseStoreUrl, storeUrl, SCHEMA_VERSION } from '../src/store/index.js';
import { UsageError } from '../src/errors.js';
import { addonPath } from '../src/engine/addon.js';

const root = resolve(import.meta.dirname, '..');

function cliArgs(args: string[]): string[] {
  return ['--import', 'tsx', '-e', `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify(args)})))`];
}
function runCli(args: string[]) {
  const r = spawnSync(process.execPath, cliArgs(args), { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('store URLs: sqlite:PATH, postgres://, --db shorthand, $DSXPLORE_STORE, and clear refusals', () => {
  assert.deepEqual(parseStoreUrl('sqlite:results/x.db'), { kind: 'sqlite', path: 'results/x.db' });
  assert.deepEqual(parseStoreUrl('sqlite:///tmp/x.db'), { kind: 'sqlite', path: '/tmp/x.db' });
  assert.deepEqual(parseStoreUrl('postgres://u:p@h:5432/d'), { kind: 'postgres', url: 'postgres://u:p@h:5432/d' });
  assert.equal(parseStoreUrl('postgresql://h/d').kind, 'postgres');
  assert.throws(() => parseStoreUrl('mysql://h/d'), (e: unknown) => e instanceof UsageError && /sqlite:PATH.*postgres:\/\//.test((e as Error).message));
  const saved = process.env.DSXPLORE_STORE;
  try {
    delete process.env.DSXPLORE_STORE;
    assert.equal(storeUrl({ db: 'a.db' }), 'sqlite:a.db');
    assert.match(storeUrl({}), /^sqlite:/);
    process.env.DSXPLORE_STORE = 'postgres://h/env';
    assert.equal(storeUrl({}), 'postgres://h/env');
    assert.equal(storeUrl({ db: 'a.db' }), 'sqlite:a.db', 'a flag wins over the environment');
    assert.equal(storeUrl({ store: 'sqlite:b.db' }), 'sqlite:b.db');
    assert.throws(() => storeUrl({ store: 'sqlite:b.db', db: 'a.db' }), /either --store URL or --db PATH/);
  } finally {
    if (saved === undefined) delete process.env.DSXPLORE_STORE;
    else process.env.DSXPLORE_STORE = saved;
  }
});

test('store migrate, bad --store, and worker without a sweep: exit codes and messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-wk-'));
  try {
    const db = join(dir, 'm.db');
    const r = runCli(['store', 'migrate', '--store', `sqlite:${db}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).to, SCHEMA_VERSION);
    const bad = runCli(['report', '--store', 'mysql://x/y']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a store URL/);
    const none = runCli(['worker', '--db', db]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no unfinished sweep/);
    assert.match(none.stderr, /--enqueue-only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const haveEngine = existsSync(addonPath());

test('two workers on one SQLite file train an enqueued sweep, each trial once', { skip: haveEngine ? false : `native engine not built (${addonPath()})` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-wk-'));
  try {
    const db = join(dir, 'w.db');
    const cfg = join(dir, 'w.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        name: 'local',
        model: 'resnet20',
        dataset: { name: 'synthetic:size=16,classes=4,train=256,test=64', limitTrain: 32, limitTest: 32 },
        recipe: { epochs: 1, batchSize: 16, threads: 1 },
        space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
        search: { kind: 'grid' },
        baselines: false,
      }),
    );
    const q = runCli(['sweep', '--config', cfg, '--store', `sqlite:${db}`, '--enqueue-only', '--json']);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /"queued":6/);
    const ws = [0, 1].map(() => {
      const child = spawn(process.execPath, cliArgs(['worker', '--db', db, '--sweep', 'local', '--device', 'cpu', '--json']), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      return new Promise<{ code: number | null; out: string; err: string }>((res) => child.on('exit', (code) => res({ code, out, err })));
    });
    const done = await Promise.all(ws);
    done.forEach((d) => assert.equal(d.code, 0, d.err));
    const trained = done.map((d) => JSON.parse(d.out.trim().split('\n').at(-1)!).trained as number);
    assert.equal(trained[0]! + trained[1]!, 6);
    const s = await openStore(db);
    const trials = (await s.trials('local'));
    await s.close();
    assert.equal(trials.length, 6);
    assert.ok(trials.every((t) => t.state === 'done' && t.attempts === 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
