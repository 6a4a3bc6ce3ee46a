// The dashboard's derived numbers: hypervolume over time (kept incrementally) against a
// recomputation from scratch at every step, the ETA, and the per-sweep cache over a real
// SQLite store that another handle writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizedHypervolume } from '../src/pareto/objectives.js';
import { candidateResults, summarize } from '../src/report/summary.js';
import { SweepCache } from '../src/serve/cache.js';
import { hypervolumeOverTime } from '../src/serve/views.js';
import { secondsPerWork, sweepEtaSeconds } from '../src/report/sweep-eta.js';
import { openStore, openStoreForReading } from '../src/store/index.js';
import type { TrialRow } from '../src/domain/rows.js';
import { createRng } from '../src/space/rng.js';
import { fillSweep } from './helpers/serve.js';

function trial(i: number, over: Partial<TrialRow>): TrialRow {
  return {
    id: i + 1,
    sweep: 's',
    candidateHash: `c${i}`,
    label: `c${i}`,
    baseline: false,
    variants: [],
    macs: 1000,
    flops: 2000,
    params: 100,
    state: 'done',
    epochs: 3,
    rung: 0,
    seed: 0,
    accuracy: 0.5,
    trainLoss: null,
    seconds: 1,
    device: 'cpu',
    error: null,
    ...over,
  };
}

test('hypervolume over time equals a from-scratch recomputation after every finished trial', () => {
  for (const seed of [1, 2, 3]) {
    const rng = createRng(seed);
    const trials: TrialRow[] = [];
    for (let i = 0; i < 60; i++) {
      // 20 candidates, up to 3 seeds each, costs and accuracies with ties; some at a lower fidelity
      const c = rng.int(20);
      trials.push(
        trial(i, {
          candidateHash: `c${c}`,
          label: `c${c}`,
          seed: rng.int(3),
          macs: 1000 * (1 + (c % 7)),
          params: 100 * (1 + (c % 5)),
          latencyMs: 1 + (c % 4),
          accuracy: 0.5 + 0.05 * rng.int(8),
          epochs: i % 9 === 4 ? 1 : 3,
          finishedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        }),
      );
    }
    for (const objectives of [['accuracy', 'macs'], ['accuracy', 'macs', 'params'], ['accuracy', 'latency'], ['accuracy', 'macs', 'latency']] as const) {
      const summary = summarize('s', trials, [...objectives]);
      const curve = hypervolumeOverTime(trials, summary, 1000);
      const counted = trials.filter((t) => t.epochs === 3);
      assert.equal(curve.at(-1)!.done, counted.length);
      assert.ok(summary.hypervolume > 0);
      assert.ok(Math.abs(curve.at(-1)!.hypervolume - summary.hypervolume) < 1e-12, `seed ${seed}, ${objectives}`);
      for (const point of curve) {
        const { candidates } = candidateResults(counted.slice(0, point.done));
        const expected = normalizedHypervolume(candidates, [...objectives], summary.reference);
        assert.ok(Math.abs(point.hypervolume - expected) < 1e-12, `seed ${seed}, after ${point.done}: ${point.hypervolume} vs ${expected}`);
      }
      const sampled = hypervolumeOverTime(trials, summary, 10);
      assert.equal(sampled.length, 10);
      assert.deepEqual(sampled.at(-1), curve.at(-1));
    }
  }
});

test('ETA: the work left (MACs x epochs) at the pace finished trials trained, divided among the trials running', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const near = (got: number | null, want: number, what = '') => assert.ok(got !== null && Math.abs(got - want) < 1e-9 * want, `${what} ${got} vs ${want}`);
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
  // two trained trials: 1000 MACs x 3 epochs in 20 s, 3000 x 3 in 40 s: 60 s for 12,000 work
  const trials = [
    trial(0, { startedAt: iso(0), finishedAt: iso(20) }),
    trial(1, { macs: 3000, startedAt: iso(1000), finishedAt: iso(1040) }),
    // a copy of an earlier result took no time and must not set the pace
    trial(2, { startedAt: iso(1040), finishedAt: iso(1040), reusedFrom: 1 }),
    trial(3, { state: 'running', accuracy: null, macs: 2000, startedAt: iso(1040) }),
    trial(4, { state: 'queued', accuracy: null, macs: 2000 }),
  ];
  near(secondsPerWork(trials), 60 / 12_000);
  // left: 2 x 2000 x 3 = 12,000 work = 60 s, one trial running; the 1000 s between the two
  // sittings is not part of the pace
  near(sweepEtaSeconds(trials), 60);
  near(sweepEtaSeconds(trials, { parallel: 2 }), 30, 'two lanes share the work');
  const two = [...trials.slice(0, 4), { ...trials[4]!, state: 'running' as const, startedAt: iso(1041) }];
  near(sweepEtaSeconds(two), 30, 'two trials running (another worker) share it too');
  // trials to come at the mean work of the sweep's five (1000, 3000, 1000, 2000, 2000 x 3)
  near(sweepEtaSeconds(trials, { moreTrials: 5 }), 60 + (5 * 5400) / 200);
  near(sweepEtaSeconds(trials, { secondsPerWork: 0.01 }), 120, "the caller's own pace wins");
  assert.equal(sweepEtaSeconds(trials.slice(0, 3)), null, 'nothing left');
  assert.equal(sweepEtaSeconds(trials.slice(2)), null, 'nothing trained yet to measure the pace');
});

test('the cache reads the trials again when a writer changes the sweep, and not otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-serve-cache-'));
  const db = join(dir, 'r.db');
  const writer = await openStore(db);
  try {
    await fillSweep(writer, 'live', { n: 3, failAt: 99 });
    const reader = await openStoreForReading(`sqlite:${db}`);
    const cache = new SweepCache(reader);
    const sweep = (await reader.getSweep('live'))!;
    const a = await cache.get(sweep);
    const b = await cache.get(sweep);
    assert.equal(b, a, 'an unchanged sweep is served from the same copy');
    assert.equal(await a.memo('x', () => 'first'), 'first');
    assert.equal(await b.memo('x', () => 'second'), 'first');
    // requests that come while a value is computed share it; a failure is not kept
    let made = 0;
    const slow = () => new Promise<string>((res) => setTimeout(() => res(`v${++made}`), 10));
    assert.deepEqual(await Promise.all([a.memo('y', slow), b.memo('y', slow)]), ['v1', 'v1']);
    await assert.rejects(
      a.memo('z', () => {
        throw new Error('store gone');
      }),
      /store gone/,
    );
    assert.equal(await a.memo('z', () => 'retried'), 'retried');
    // a writer queues and finishes one more trial
    const { planSweep } = await import('../src/space/index.js');
    const { parseSweepConfig } = await import('../src/config/sweep.js');
    const cfg = parseSweepConfig({ name: 'more', model: 'resnet20', dataset: { name: 'synthetic' }, space: { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' }, search: { kind: 'grid' }, baselines: false });
    const [candidate] = planSweep(cfg).search.initial();
    await writer.enqueue('live', [{ candidate, rung: 0, round: 0, epochs: 2, seed: 9, recipeHash: 'r-live' }]);
    const c = await cache.get(sweep);
    assert.notEqual(c.stamp, a.stamp);
    assert.equal(c.counts.queued, 1);
    assert.equal(c.trials.length, a.trials.length + 1);
    assert.equal(await c.memo('x', () => 'recomputed'), 'recomputed');
    await reader.close();
  } finally {
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
