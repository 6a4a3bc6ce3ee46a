// `dsxplore serve`'s HTTP side on loopback, without a browser: the JSON API against the
// report and `pareto export`, bad parameters, methods, paths outside the static folder,
// tokens (with the real CLI in a child process), and a store that is never written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseServeOptions } from '../src/config/serve.js';
import { startServer, type RunningServer } from '../src/serve/server.js';
import { openStore, openStoreForReading, openStoreUrl, type SweepStore } from '../src/store/index.js';
import { parseCsv } from '../src/report/export.js';
import { assertListingIsTrials, buildPage, fillSweep, rawRequest, runCli } from './helpers/serve.js';
import { pgSkip, startPostgres } from './helpers/postgres.js';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'dsx-serve-api-'));
const db = join(dir, 'r.db');
let server: RunningServer;
let store: SweepStore;

const fileHash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

async function getJson(path: string): Promise<{ status: number; json: any; body: string }> {
  const r = await rawRequest(server.port, path);
  return { status: r.status, json: JSON.parse(r.body), body: r.body };
}

before(async () => {
  buildPage();
  const w = await openStore(db);
  await fillSweep(w, 'alpha', { failAt: 2, failMessage: 'CUDA error: out of memory' });
  await fillSweep(w, 'beta', { n: 6, failAt: 99 });
  w.close();
  store = await openStoreForReading(`sqlite:${db}`);
  server = await startServer({ store, host: '127.0.0.1', port: 0 });
});

after(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the API lists sweeps with counts equal to report --json, newest first', async () => {
  const { status, json } = await getJson('/api/sweeps');
  assert.equal(status, 200);
  assert.deepEqual(json.sweeps.map((s: { name: string }) => s.name), ['beta', 'alpha']);
  const rep = await runCli(['report', '--db', db, '--sweep', 'alpha', '--json']);
  assert.equal(rep.code, 0, rep.err);
  const report = JSON.parse(rep.out);
  const alpha = json.sweeps.find((s: { name: string }) => s.name === 'alpha');
  assert.deepEqual(alpha.counts, report.counts);
  assert.equal(alpha.trials, report.trials);
  assert.equal(alpha.counts.failed, 1);
  assert.equal(alpha.model, 'resnet20');

  const one = await getJson('/api/sweeps/alpha');
  assert.equal(one.status, 200);
  assert.deepEqual(one.json.counts, report.counts);
  assert.equal(one.json.config.model, 'resnet20');
  assert.equal(one.json.frontSize, report.front.length);
  assert.equal(one.json.hypervolume, report.hypervolume);
  assert.equal(one.json.eta, null, 'nothing left to run, so no ETA');
  // the curve ends at the report's hypervolume (same reference) and never exceeds it
  const hv = one.json.hypervolumeOverTime as { hypervolume: number; done: number }[];
  assert.equal(hv.at(-1)!.done, report.counts.done);
  assert.ok(Math.abs(hv.at(-1)!.hypervolume - report.hypervolume) < 1e-12);
  for (let i = 1; i < hv.length; i++) assert.ok(hv[i].hypervolume >= hv[i - 1].hypervolume - 1e-12);
});

test('the front API equals pareto export for accuracy against MACs and against params', async () => {
  for (const x of ['macs', 'params']) {
    const ex = await runCli(['pareto', 'export', '--db', db, '--sweep', 'alpha', '--format', 'json', '--objectives', `accuracy,${x}`]);
    assert.equal(ex.code, 0, ex.err);
    const exported = JSON.parse(ex.out);
    const { status, json } = await getJson(`/api/sweeps/alpha/front?x=${x}`);
    assert.equal(status, 200);
    assert.deepEqual(json.objectives, ['accuracy', x]);
    assert.deepEqual(json.front.map(({ trialId: _t, ...row }: { trialId: number }) => row), exported);
    assert.equal(json.points.filter((p: { front: boolean }) => p.front).length, exported.length);
    // each front point opens a done trial of that candidate
    const trials = (await getJson('/api/sweeps/alpha/trials?state=done')).json.trials;
    for (const f of json.front) {
      const t = trials.find((r: { id: number }) => r.id === f.trialId);
      assert.equal(t?.label, f.label);
    }
  }
  assert.deepEqual((await getJson('/api/sweeps/alpha')).json.costs, ['macs', 'params'], 'no latency measured, none offered');
  const csv = await runCli(['pareto', 'export', '--db', db, '--sweep', 'alpha', '--format', 'csv']);
  const [header, ...rows] = parseCsv(csv.out);
  const front = (await getJson('/api/sweeps/alpha/front')).json.front;
  assert.deepEqual(front.map((f: { label: string }) => f.label), rows.map((r) => r[header.indexOf('label')]));
});

test('a sweep that measured latency: its front over accuracy and latency equals pareto export; others answer 400', async () => {
  // a store of its own: latency is cached per spec, so a sweep sharing specs with this one
  // (the baselines) would show their latency too, as the report does
  const timedDb = join(dir, 'timed.db');
  const w = await openStore(timedDb);
  await fillSweep(w, 'timed', { n: 5, failAt: 99, latency: true });
  w.close();
  const timedStore = await openStoreForReading(`sqlite:${timedDb}`);
  const timedServer = await startServer({ store: timedStore, host: '127.0.0.1', port: 0 });
  try {
    await timedFront(timedServer.port, timedDb, timedStore);
  } finally {
    await timedServer.close();
    await timedStore.close();
  }
  const none = await getJson('/api/sweeps/alpha/front?x=latency');
  assert.equal(none.status, 400);
  assert.match(none.json.error, /^query\.x: sweep "alpha" measured no latency .*allowed values here: macs, params$/);
});

async function timedFront(port: number, timedDb: string, timedStore: SweepStore | Awaited<ReturnType<typeof openStoreForReading>>) {
  const getJson = async (path: string) => {
    const r = await rawRequest(port, path);
    return { status: r.status, json: JSON.parse(r.body) };
  };
  const detail = (await getJson('/api/sweeps/timed')).json;
  assert.deepEqual(detail.objectives, ['accuracy', 'macs', 'latency']);
  assert.deepEqual(detail.costs, ['macs', 'params', 'latency']);
  const ex = await runCli(['pareto', 'export', '--db', timedDb, '--sweep', 'timed', '--format', 'json', '--objectives', 'accuracy,latency']);
  assert.equal(ex.code, 0, ex.err);
  const exported = JSON.parse(ex.out) as { latencyMs: number; label: string }[];
  assert.ok(exported.length > 0 && exported.every((r) => r.latencyMs > 0), 'every exported front row carries its measured latency');
  const { status, json } = await getJson('/api/sweeps/timed/front?x=latency');
  assert.equal(status, 200);
  assert.deepEqual(json.objectives, ['accuracy', 'latency']);
  assert.deepEqual(json.front.map(({ trialId: _t, ...row }: { trialId: number }) => row), exported);
  // every compared candidate was measured and carries its own latency (the store's figure)
  const trials = await timedStore.trials('timed');
  assert.ok(trials.every((t) => t.latencyMs! > 0));
  await assertListingIsTrials(timedStore, 'timed');
  assert.equal(json.points.length, new Set(trials.filter((t) => t.state === 'done').map((t) => t.candidateHash)).size);
  for (const p of json.points) {
    const t = trials.find((r) => r.id === p.trialId)!;
    assert.equal(p.latency, t.latencyMs);
    assert.ok(p.latency > 0);
  }
  // each point off the front is dominated by a front member
  const front = json.points.filter((p: { front: boolean }) => p.front);
  for (const p of json.points.filter((q: { front: boolean }) => !q.front)) {
    assert.ok(front.some((f: { accuracy: number; latency: number }) => f.accuracy >= p.accuracy && f.latency <= p.latency), 'a dominated point is dominated');
  }
}

test('trials, a state filter, and one trial with its epoch metrics', async () => {
  const all = (await getJson('/api/sweeps/alpha/trials')).json.trials;
  const failed = (await getJson('/api/sweeps/alpha/trials?state=failed')).json.trials;
  assert.equal(failed.length, 1);
  assert.equal(failed[0].error, 'CUDA error: out of memory');
  assert.equal(all.length, (await store.trials('alpha')).length);
  const done = all.find((t: { state: string }) => t.state === 'done');
  const { status, json } = await getJson(`/api/sweeps/alpha/trials/${done.id}`);
  assert.equal(status, 200);
  assert.equal(json.trial.label, done.label);
  assert.deepEqual(json.epochs, await store.epochMetrics(done.id));
  assert.equal(json.epochs.length, 2);
  assert.equal(json.trial.provenance.version, 'test');
  assert.equal(json.trial.provenance.device, 'cpu');
});

test('bad API parameters get 400 with a one-line JSON error; unknown things 404; never a stack', async () => {
  const cases: [string, number, RegExp][] = [
    ['/api/sweeps/alpha/front?x=flops', 400, /query\.x: allowed values: macs, params, latency/],
    ['/api/sweeps/beta/front?x=latency', 400, /query\.x: sweep "beta" measured no latency/],
    ['/api/sweeps/alpha/trials?state=finished', 400, /allowed values: queued, running, done/],
    ['/api/sweeps/alpha/trials?limit=5', 400, /unknown parameter "limit"/],
    ['/api/sweeps?x=1', 400, /unknown parameter "x"/],
    ['/api/sweeps/alpha/trials/abc', 400, /trial id: must be a positive whole number/],
    ['/api/sweeps/alpha/trials/0', 400, /trial id/],
    ['/api/sweeps/alpha/trials/99999', 404, /has no trial 99999/],
    ['/api/sweeps/beta/trials/1', 404, /sweep "beta" has no trial 1$/],
    ['/api/sweeps/nope', 404, /no sweep named "nope"/],
    ['/api/sweeps/nope/front', 404, /no sweep named/],
    ['/api/nothing', 404, /not found/],
    ['/api/sweeps/alpha/front?x=macs&x=params', 400, /query\.x/],
  ];
  for (const [path, code, message] of cases) {
    const r = await rawRequest(server.port, path);
    assert.equal(r.status, code, path);
    assert.match(String(r.headers['content-type']), /application\/json/, path);
    const body = JSON.parse(r.body);
    assert.match(body.error, message, path);
    assert.doesNotMatch(r.body, /\n|\s+at\s|\.ts:\d|node_modules/, path);
  }
});

test('only GET and HEAD: other methods get 405', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const r = await rawRequest(server.port, '/api/sweeps', { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET, HEAD');
  }
  const head = await rawRequest(server.port, '/api/sweeps', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  const page = await rawRequest(server.port, '/', { method: 'HEAD' });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
});

test("the page's script bundles the page and, shared with the CLI, the states, the variant notation and the number formats", () => {
  // shared, not copied: each of these modules is in the bundle, and nothing else from outside
  // the page (no zod, no node:, no server code)
  const { sources } = JSON.parse(readFileSync(join(root, 'dist/web/app.js.map'), 'utf8')) as { sources: string[] };
  const files = sources.map((s) => relative(root, resolve(root, 'dist/web', s)));
  const shared = ['src/domain/trial-states.ts', 'src/models/notation.ts', 'src/report/format.ts'];
  assert.deepEqual(files.filter((f) => !f.startsWith('src/serve/client/') && !shared.includes(f)), []);
  assert.deepEqual(shared.filter((f) => !files.includes(f)), []);
});

test('paths outside the static folder get 404, encoded and doubled variants included', async () => {
  const paths = [
    '/../package.json',
    '/../../package.json',
    '/%2e%2e/package.json',
    '/%2E%2E/package.json',
    '/%2e%2e%2fpackage.json',
    '/..%2fpackage.json',
    '/..%5cpackage.json',
    '/%252e%252e/package.json',
    '/%252e%252e%252fpackage.json',
    '/....//package.json',
    '/.%2e/.%2e/package.json',
    '/static/../../../package.json',
    '/vendor/uplot/../package.json',
    '/vendor/uplot/../../package.json',
    '/vendor/uplot/..%2f..%2f..%2fpackage.json',
    '/vendor/uplot/%2e%2e/%2e%2e/%2e%2e/package.json',
    '/vendor/uplot/uPlot.esm.js',
    '/vendor/uplot/',
    '/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  ];
  const secrets = [readFileSync(join(root, 'package.json'), 'utf8').slice(0, 40), 'root:x:0:0', '"name": "uplot"'];
  for (const p of paths) {
    const r = await rawRequest(server.port, p);
    assert.equal(r.status, 404, `${p} answered ${r.status}`);
    for (const s of secrets) assert.ok(!r.body.includes(s), `${p} leaked a file`);
  }
  // what is meant to be there is
  assert.equal((await rawRequest(server.port, '/vendor/uplot/uPlot.iife.min.js')).status, 200);
  const script = await rawRequest(server.port, '/app.js');
  assert.equal(script.status, 200);
  assert.match(String(script.headers['content-type']), /javascript/);
  assert.equal((await rawRequest(server.port, '/app.js.map')).status, 200);
  const index = await rawRequest(server.port, '/');
  assert.equal(index.status, 200);
  assert.match(String(index.headers['content-security-policy']), /script-src 'self'/);
});

test('the store is never written: the database file is unchanged and the handle refuses writes', async () => {
  const before = fileHash(db);
  for (const p of ['/api/sweeps', '/api/sweeps/alpha', '/api/sweeps/alpha/trials', '/api/sweeps/alpha/front?x=params']) {
    assert.equal((await rawRequest(server.port, p)).status, 200);
  }
  await assert.rejects(
    async () => store.createSweep({ name: 'gamma', config: {}, configHash: 'x' }),
    /readonly|read-only/i,
  );
  assert.equal(fileHash(db), before);
});

describe('the CLI', () => {
  function startCli(args: string[]): Promise<{ url: string; stop: () => Promise<number | null>; out: () => string }> {
    const code = `import('./src/cli.ts').then(async m => { process.exitCode = await m.main(${JSON.stringify(args)}) })`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`serve printed no URL in 60 s: ${out}${err}`)), 60_000);
      child.stdout.on('data', () => {
        const m = /dsxplore serve: (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          res({ url: m[1], out: () => out, stop: () => (child.kill('SIGTERM'), exited) });
        }
      });
      child.on('exit', (c) => rej(new Error(`serve exited ${c} before printing a URL: ${err}`)));
    });
  }

  test('a non-loopback host gets a generated token; requests without it get 401', async () => {
    const s = await startCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0']);
    try {
      const u = new URL(s.url);
      const token = u.searchParams.get('token');
      assert.ok(token && token.length >= 16, s.url);
      assert.match(s.out(), /token was generated/);
      const port = Number(u.port);
      const none = await rawRequest(port, '/api/sweeps');
      assert.equal(none.status, 401);
      assert.match(JSON.parse(none.body).error, /token is required/);
      assert.equal((await rawRequest(port, '/')).status, 401);
      assert.equal((await rawRequest(port, '/api/sweeps?token=wrong-token-of-some-length')).status, 401);
      assert.equal((await rawRequest(port, '/api/sweeps', { headers: { authorization: 'Bearer nope' } })).status, 401);
      const page = await rawRequest(port, `/?token=${token}`);
      assert.equal(page.status, 200);
      const cookie = String(page.headers['set-cookie']).split(';')[0];
      assert.match(cookie, /^dsxplore_token=/);
      assert.equal((await rawRequest(port, '/app.js', { headers: { cookie } })).status, 200);
      assert.equal((await rawRequest(port, '/api/sweeps', { headers: { authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      assert.equal(await s.stop(), 0, 'SIGTERM stops the server cleanly');
    }
  });

  test('a given token is required on loopback too; usage errors exit 2 with one line', async () => {
    const s = await startCli(['serve', '--db', db, '--port', '0', '--token', 'abcdefghijklmnop-1234']);
    try {
      const port = Number(new URL(s.url).port);
      assert.equal(new URL(s.url).hostname, '127.0.0.1');
      assert.equal((await rawRequest(port, '/api/sweeps')).status, 401);
      assert.equal((await rawRequest(port, '/api/sweeps?token=abcdefghijklmnop-1234')).status, 200);
    } finally {
      await s.stop();
    }
    const cases: [string[], RegExp][] = [
      [['serve', '--db', db, '--port', 'http'], /--port: must be a whole number in 0\.\.65535/],
      [['serve', '--db', db, '--port', '70000'], /--port: must be a whole number in 0\.\.65535/],
      [['serve', '--db', db, '--token', 'short'], /--token: must be 16 to 200 characters/],
      [['serve', '--db', join(dir, 'missing.db'), '--port', '0'], /no results database/],
      [['serve', '--db', db, '--store', 'sqlite:x.db'], /either --store URL or --db PATH/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    assert.equal(parseServeOptions({ host: '127.0.0.1' }).token, undefined);
    assert.equal(parseServeOptions({ host: '::1' }).token, undefined);
    assert.ok(parseServeOptions({ host: '192.168.1.5' }).tokenGenerated);
  });
});

describe('over PostgreSQL', { skip: pgSkip }, () => {
  test('read-only transactions: the API reads the sweep, the handle cannot write', async () => {
    const pgServer = await startPostgres();
    try {
      const url = await pgServer.createDatabase('serve');
      const writer = await openStoreUrl(url);
      await fillSweep(writer, 'shared', { n: 4, failAt: 1, latency: true });
      await writer.close();
      const ro = await openStoreForReading(url);
      const s = await startServer({ store: ro, host: '127.0.0.1', port: 0 });
      try {
        // the listing the API is built from is the whole rows less provenance, latency included
        const listed = await assertListingIsTrials(ro, 'shared');
        assert.ok(listed.some((t) => t.latencyMs! > 0));
        for (const x of ['macs', 'latency']) {
          const r = await rawRequest(s.port, `/api/sweeps/shared/front?x=${x}`);
          assert.equal(r.status, 200);
          const ex = await runCli(['pareto', 'export', '--store', url, '--format', 'json', '--objectives', `accuracy,${x}`]);
          assert.equal(ex.code, 0, ex.err);
          assert.deepEqual(JSON.parse(r.body).front.map((f: { label: string }) => f.label), JSON.parse(ex.out).map((f: { label: string }) => f.label));
        }
        const one = JSON.parse((await rawRequest(s.port, `/api/sweeps/shared/trials/${listed[0].id}`)).body);
        assert.equal(one.trial.provenance.version, 'test', 'one trial comes whole, provenance included');
        await assert.rejects(async () => ro.createSweep({ name: 'nope', config: {}, configHash: 'x' }), /read-only transaction/);
      } finally {
        await s.close();
        await ro.close();
      }
    } finally {
      await pgServer.stop();
    }
  });
});
