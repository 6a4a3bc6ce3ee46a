// Measured latency: `dsxplore latency` on both runtimes, the rank correlation the report
// quotes, and the latency objective of a sweep: each spec measured once per machine,
// cached in the store, found there (not measured again) by a later sweep of the same
// specs, and shown by report, pareto export and pareto plot --x latency; and never timed
// while the sweep's other lanes train (QuietGate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, writeConfig } from './helpers/cli-process.js';
import { spearman } from '../src/pareto/rank-correlation.js';
import { parseCsv } from '../src/report/export.js';
import { openStore } from '../src/store/index.js';
import { ensureLatency, QuietGate } from '../src/sweep/latency.js';
import { specOf } from './helpers/deploy-fixtures.js';

test('Spearman rank correlation: monotone, reversed, ties, too few points', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 400]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])! - 0.8) < 1e-12);
  assert.ok(Math.abs(spearman([1, 1, 2, 3], [1, 2, 3, 4])! - 0.9486832980505138) < 1e-12, 'average ranks for ties');
  assert.equal(spearman([1, 2], [1, 2]), null);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
});

test('dsxplore latency: both runtimes, both batches, median inside its spread, the machine named; bad flags exit 2', async () => {
  const r = await cli(['latency', '--model', 'resnet20', '--variant', 'dw-scc:cg=2,co=0.5', '--batch', '1,4', '--runtime', 'native,onnxruntime', '--reps', '5', '--warmup', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.lines.length, 4);
  assert.deepEqual(r.lines.map((l) => `${l.runtime}@${l.batch}`), ['native@1', 'onnxruntime@1', 'native@4', 'onnxruntime@4']);
  for (const l of r.lines) {
    assert.equal(l.threads, 1);
    assert.equal(l.reps, 5);
    assert.ok(l.medianMs > 0 && l.p10Ms <= l.medianMs && l.medianMs <= l.p90Ms, JSON.stringify(l));
    assert.ok(Math.abs(l.imagesPerSecond - (l.batch * 1000) / l.medianMs) < 1e-6);
    assert.match(l.machine, /hardware threads/);
  }
  const text = await cli(['latency', '--model', 'resnet20', '--reps', '3', '--warmup', '0']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.lines.map((l) => l.text).join('\n'), /machine: .*; 1 thread; median of 3[\s\S]*native\s+1\s+\d/);
  const bad = await cli(['latency', '--model', 'resnet20', '--runtime', 'tensorflow']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--runtime: unknown tensorflow; allowed values: native, onnxruntime/);
  const zero = await cli(['latency', '--model', 'resnet20', '--batch', '0']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--batch: must be whole numbers in 1\.\.65536/);
});

test('latency objective: measured once per spec and machine, cached, reused by a later sweep, reported with the MACs rank correlation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-latency-'));
  try {
    const db = join(dir, 'r.db');
    const body = {
      model: 'resnet20',
      dataset: { name: 'synthetic:size=16,classes=4,train=128,test=64' },
      recipe: { epochs: 1, batchSize: 16, threads: 1 },
      space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.75], tie: 'all' },
      search: { kind: 'grid' },
      baselines: true,
      objectives: ['accuracy', 'latency'],
      keepWeights: 'none',
    };
    const first = await cli(['sweep', '--config', writeConfig(dir, { ...body, name: 'lat-a' }), '--db', db, '--json']);
    assert.equal(first.code, 0, first.stderr);
    let store = await openStore(db);
    const trials = await store.trials('lat-a');
    const specs = new Set(trials.map((t) => t.candidateHash));
    const rows = await store.executor.all<{ spec_hash: string; measured_at: string; runtime: string; batch: number; threads: number }>(
      'SELECT spec_hash, measured_at, runtime, batch, threads FROM latencies ORDER BY spec_hash',
    );
    assert.equal(rows.length, specs.size, 'one measurement per spec');
    assert.deepEqual(new Set(rows.map((r) => r.spec_hash)), specs);
    for (const r of rows) assert.deepEqual([r.runtime, r.batch, r.threads], ['native', 1, 1]);
    for (const t of trials) assert.ok(t.latencyMs! > 0, `trial ${t.id} carries its spec's latency`);
    assert.equal(await store.trialsWithWeights('lat-a').then((s) => s.size), 0, 'keepWeights none keeps nothing');
    await store.close();

    // the same specs in a second sweep: found in the cache, not measured again
    const second = await cli(['sweep', '--config', writeConfig(dir, { ...body, name: 'lat-b', recipe: { ...body.recipe, seed: 1 } }), '--db', db, '--json']);
    assert.equal(second.code, 0, second.stderr);
    store = await openStore(db);
    const again = await store.executor.all<{ spec_hash: string; measured_at: string }>('SELECT spec_hash, measured_at FROM latencies ORDER BY spec_hash');
    assert.deepEqual(again.map((r) => [r.spec_hash, r.measured_at]), rows.map((r) => [r.spec_hash, r.measured_at]));
    // and in-process: a cached spec is not measured
    const t0 = trials[0]!;
    const claimed = await store.executor.one<{ spec: string }>('SELECT spec FROM candidate_specs WHERE hash = ?', [t0.candidateHash]);
    assert.equal(await ensureLatency(store, JSON.parse(claimed!.spec), t0.candidateHash), false);
    await store.close();

    const rep = await cli(['report', '--db', db, '--sweep', 'lat-a', '--json']);
    assert.equal(rep.code, 0, rep.stderr);
    const j = JSON.parse(rep.lines.map((l) => l.text ?? JSON.stringify(l)).join('\n'));
    assert.deepEqual(j.objectives, ['accuracy', 'latency']);
    assert.equal(j.latency.measured, specs.size);
    assert.equal(typeof j.latency.macsRankCorrelation, 'number');
    assert.ok(j.front.every((c: { latency: number }) => c.latency > 0));
    const txt = await cli(['report', '--db', db, '--sweep', 'lat-a']);
    assert.match(txt.lines.map((l) => l.text).join('\n'), /rank correlation of MACs and latency \(Spearman\): -?\d\.\d{3}/);

    const csv = await cli(['pareto', 'export', '--db', db, '--sweep', 'lat-a', '--out', join(dir, 'front.csv')]);
    assert.equal(csv.code, 0, csv.stderr);
    const [header, ...front] = parseCsv(readFileSync(join(dir, 'front.csv'), 'utf8'));
    const col = header!.indexOf('latency_ms');
    assert.ok(col > 0, 'latency_ms column');
    assert.ok(front.every((r) => Number(r[col]) > 0));

    const svg = join(dir, 'lat.svg');
    const plot = await cli(['pareto', 'plot', '--db', db, '--sweep', 'lat-a', '--x', 'latency', '--out', svg]);
    assert.equal(plot.code, 0, plot.stderr);
    assert.match(readFileSync(svg, 'utf8'), /latency per image, ms/);
    assert.match(readFileSync(svg, 'utf8'), /<path class="front"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('latency of a spec is measured by the engine on this machine (sanity: a bigger model is slower)', async () => {
  const { nativeLatency } = await import('../src/deploy/latency.js');
  const small = await nativeLatency(specOf('resnet20', 'dw-scc:cg=4,co=0.5', { inputSize: 16 }), { batch: 1, threads: 1, warmup: 2, reps: 9 });
  const big = await nativeLatency(specOf('resnet56', 'std', { inputSize: 32 }), { batch: 1, threads: 1, warmup: 2, reps: 9 });
  // ~40x the MACs: a margin no scheduler noise on a shared machine closes
  assert.ok(big.medianMs > small.medianMs * 2, `resnet56 std ${big.medianMs} ms vs resnet20 dw-scc at 16x16 ${small.medianMs} ms`);
});

test('QuietGate: a measurement waits for running trainings and holds back new ones', async () => {
  const gate = new QuietGate();
  const log: string[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const train = (id: string, ms: number) =>
    gate.training(async () => {
      log.push(`${id} start`);
      await sleep(ms);
      log.push(`${id} end`);
    });
  const a = train('a', 40);
  const b = train('b', 20);
  await sleep(5);
  const q = gate.quiet(async () => {
    log.push('measure start');
    await sleep(20);
    log.push('measure end');
  });
  await sleep(5);
  const c = train('c', 5); // asked for while the measurement waits: runs after it
  await Promise.all([a, b, q, c]);
  assert.deepEqual(log, ['a start', 'b start', 'b end', 'a end', 'measure start', 'measure end', 'c start', 'c end']);
});
