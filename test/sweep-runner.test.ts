// The sweep runner with a stand-in engine: every candidate trained once, failures recorded
// and survived, diverged passed through, reuse across sweeps, resume after a dead worker,
// and once-only scheduling of successive-halving rungs and NSGA-II generations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepConfig, type SweepConfig } from '../src/config/sweep.js';
import { openStore, type SqlStore } from '../src/store/index.js';
import { runSweep, type SweepEvent } from '../src/sweep/index.js';
import { UsageError } from '../src/errors.js';
import type { TrainRequest, TrainResult } from '../src/engine/types.js';
import type { LoadedDatasets } from '../src/data/index.js';

const tiny = { name: 'x', count: 1, shape: [1, 32, 32] as [number, number, number], classes: 10, images: new Uint8Array(1024), labels: new Uint8Array(1), mean: [0.5], std: [0.25] };
const loadData = (): LoadedDatasets => ({ train: tiny, test: { ...tiny, name: 'x/test' } });

function config(extra: Record<string, unknown> = {}): SweepConfig {
  return parseSweepConfig({
    name: 'runner-test',
    model: 'resnet20',
    dataset: { name: 'mnist' },
    recipe: { epochs: 1 },
    space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
    search: { kind: 'random', n: 3, seed: 1 },
    ...extra,
  });
}

/** Accuracy a pure function of the spec (its JSON length and epochs), so reruns agree. */
function fakeAccuracy(req: TrainRequest): number {
  const s = JSON.stringify(req.spec);
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return 0.5 + (h % 1000) / 4000 + req.recipe.epochs / 100;
}

function fakeTrain(calls: TrainRequest[], opts: { fail?: (r: TrainRequest) => boolean; diverge?: (r: TrainRequest) => boolean } = {}) {
  return async (req: TrainRequest): Promise<TrainResult> => {
    calls.push(req);
    if (opts.fail?.(req)) throw new Error('native: out of memory in conv2d (injected)');
    const acc = fakeAccuracy(req);
    const diverged = opts.diverge?.(req) ?? false;
    return {
      status: diverged ? 'diverged' : 'done',
      message: diverged ? 'loss became NaN at epoch 1, batch 3' : undefined,
      device: 'cpu',
      threads: 1,
      params: 1,
      testAccuracy: diverged ? NaN : acc,
      testLoss: 1 - acc,
      trainLoss: 1 - acc,
      trainAccuracy: acc,
      epochs: Array.from({ length: req.recipe.epochs }, (_, i) => ({ epoch: i + 1, lr: 0.1, trainLoss: 1, trainAccuracy: acc, testAccuracy: acc, seconds: 0.01 })),
      seconds: 0.01,
      imagesPerSecond: 100,
    };
  };
}

function withDb<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-runner-'));
  return fn(join(dir, 'r.db')).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function onePerCandidate(store: SqlStore, sweep: string) {
  const trials = (await store.trials(sweep));
  const keys = trials.map((t) => `${t.candidateHash}/${t.rung}/${t.seed}`);
  assert.equal(new Set(keys).size, keys.length, 'no candidate is queued twice at one rung and seed');
  return trials;
}

test('a random sweep trains every candidate and every baseline once and finishes', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const calls: TrainRequest[] = [];
    const events: SweepEvent[] = [];
    const cfg = config();
    const inner = fakeTrain(calls);
    const slow = async (req: TrainRequest) => {
      await new Promise((r) => setTimeout(r, 5));
      return inner(req);
    };
    const summary = await runSweep({ store, config: cfg, train: slow, loadData, onEvent: (e) => events.push(e) });
    const trials = await onePerCandidate(store, cfg.name);
    const baselines = trials.filter((t) => t.baseline).map((t) => t.label).sort();
    assert.deepEqual(baselines, ['dw-gpw:cg=2', 'dw-gpw:cg=4', 'dw-gpw-shuffle:cg=2', 'dw-gpw-shuffle:cg=4', 'dw-pw', 'gc-shuffle:g=2', 'gc-shuffle:g=4', 'std'].sort());
    assert.equal(trials.filter((t) => !t.baseline).length, 3);
    assert.ok(trials.every((t) => t.state === 'done' && t.accuracy !== null && t.device === 'cpu'));
    assert.equal(calls.length, trials.length, 'one training per trial');
    assert.equal(new Set(calls.map((c) => JSON.stringify(c.spec))).size, trials.length);
    assert.ok(calls.every((c) => c.recipe.seed === 0 && c.recipe.epochs === 1));
    assert.equal(summary.trained, trials.length);
    assert.equal(summary.counts.done, trials.length);
    assert.equal((await store.getSweep(cfg.name))!.status, 'finished');
    const plan = events.find((e) => e.type === 'plan');
    assert.ok(plan && plan.type === 'plan');
    assert.equal(plan.spaceSize, 6n);
    assert.equal(plan.feasible, 6n);
    // provenance of a result: config, spec, seed, device, version, timings
    const t = trials[0]!;
    const prov = t.provenance!;
    for (const k of ['dsxplore', 'configHash', 'specHash', 'seed', 'recipe', 'device', 'startedAt', 'finishedAt']) assert.ok(k in prov, k);
    assert.equal(prov.specHash, t.candidateHash);
    assert.equal((await store.epochMetrics(t.id)).length, 1);
    // the best so far is reported with the final progress
    const last = [...events].reverse().find((e) => e.type === 'trial-end');
    assert.ok(last && last.type === 'trial-end' && last.progress.finished === trials.length);
    assert.equal(last.progress.etaSeconds, null, 'no ETA once nothing is left, as on the dashboard');
    assert.deepEqual(last.progress.best, { label: summary.best!.label, accuracy: Math.max(...trials.map((t) => t.accuracy!)), macs: summary.best!.macs });
    const ends = events.filter((e) => e.type === 'trial-end');
    const mid = ends[Math.floor(ends.length / 2)]!;
    assert.ok(mid.type === 'trial-end' && mid.progress.etaSeconds! > 0, 'an ETA while work is left');
    store.close();
  }));

test('a failing candidate is recorded as failed with its error and the sweep goes on; diverged passes through', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const calls: TrainRequest[] = [];
    const cfg = config({ baselines: false, search: { kind: 'random', n: 4, seed: 2 } });
    let n = 0;
    const failWhich = new Set<number>([1]);
    const divergeWhich = new Set<number>([2]);
    const order = new Map<string, number>();
    const idx = (r: TrainRequest) => {
      const k = JSON.stringify(r.spec);
      if (!order.has(k)) order.set(k, n++);
      return order.get(k)!;
    };
    const summary = await runSweep({
      store,
      config: cfg,
      loadData,
      train: fakeTrain(calls, { fail: (r) => failWhich.has(idx(r)), diverge: (r) => divergeWhich.has(idx(r)) }),
    });
    const trials = (await store.trials(cfg.name));
    assert.equal(trials.length, 4);
    assert.deepEqual(trials.map((t) => t.state), ['done', 'failed', 'diverged', 'done']);
    assert.match(trials[1]!.error!, /out of memory in conv2d/);
    assert.match(trials[2]!.error!, /NaN/);
    assert.equal(trials[2]!.accuracy, null);
    assert.equal(summary.failed, 1);
    assert.equal((await store.getSweep(cfg.name))!.status, 'finished');
    store.close();
  }));

test('a second sweep with the same recipe trains nothing twice; a different recipe trains again', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const first: TrainRequest[] = [];
    await runSweep({ store, config: config({ name: 'one' }), train: fakeTrain(first), loadData });
    const second: TrainRequest[] = [];
    // same candidates and recipe under a new name (threads differ: speed, not meaning)
    const s2 = await runSweep({ store, config: config({ name: 'two', recipe: { epochs: 1, threads: 1 } }), train: fakeTrain(second), loadData });
    assert.equal(second.length, 0, 'nothing trained again');
    assert.equal(s2.reused, first.length);
    const one = new Map((await store.trials('one')).map((t) => [t.candidateHash, t]));
    for (const t of (await store.trials('two'))) {
      assert.equal(t.state, 'done');
      assert.equal(t.reusedFrom, one.get(t.candidateHash)!.id);
      assert.equal(t.accuracy, one.get(t.candidateHash)!.accuracy);
    }
    const third: TrainRequest[] = [];
    await runSweep({ store, config: config({ name: 'three', recipe: { epochs: 1, lr: 0.05 } }), train: fakeTrain(third), loadData });
    assert.equal(third.length, first.length, 'another learning rate is another experiment');
    store.close();
  }));

test('an existing name needs --resume, and --resume refuses a changed config', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    await runSweep({ store, config: config(), train: fakeTrain([]), loadData });
    await assert.rejects(
      runSweep({ store, config: config(), train: fakeTrain([]), loadData }),
      (e: unknown) => e instanceof UsageError && /--resume/.test((e as Error).message) && /change "name"/.test((e as Error).message),
    );
    await assert.rejects(
      runSweep({ store, config: config({ recipe: { epochs: 2 } }), resume: true, train: fakeTrain([]), loadData }),
      (e: unknown) => e instanceof UsageError && /changed/.test((e as Error).message),
    );
    const again: TrainRequest[] = [];
    const s = await runSweep({ store, config: config(), resume: true, train: fakeTrain(again), loadData });
    assert.equal(again.length, 0, 'resuming a finished sweep trains nothing');
    assert.equal(s.counts.done, (await store.trials('runner-test')).length);
    store.close();
  }));

test('a grid larger than --max-candidates is refused before anything is written', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    await assert.rejects(
      runSweep({ store, config: config({ search: { kind: 'grid' } }), maxCandidates: 5, train: fakeTrain([]), loadData }),
      (e: unknown) => e instanceof UsageError && /max-candidates/.test((e as Error).message),
    );
    assert.equal((await store.getSweep('runner-test')), undefined);
    store.close();
  }));

test('resume after a dead worker: its running trial is trained again, finished ones are kept', () =>
  withDb(async (path) => {
    const cfg = config({ baselines: false, search: { kind: 'random', n: 5, seed: 3 } });
    const a = await openStore(path);
    const firstCalls: TrainRequest[] = [];
    let hang!: () => void;
    const hung = new Promise<void>((r) => (hang = r));
    const inner = fakeTrain(firstCalls);
    // the first process trains two candidates, then "dies" inside the third training
    void runSweep({
      store: a,
      config: cfg,
      loadData,
      heartbeatMs: 50,
      train: (req) => {
        if (firstCalls.length === 2) {
          hang();
          return new Promise<TrainResult>(() => {});
        }
        return inner(req);
      },
    });
    await hung;
    const before = (await a.trials(cfg.name));
    assert.deepEqual(before.map((t) => t.state).sort(), ['done', 'done', 'queued', 'queued', 'running']);
    const doneBefore = before.filter((t) => t.state === 'done');
    // while it hangs, its heartbeat timer keeps the trial alive
    const running = before.find((t) => t.state === 'running')!;
    await new Promise((r) => setTimeout(r, 200));
    assert.ok((await a.trial(running.id))!.heartbeatAt! > running.heartbeatAt!, 'heartbeats advance during training');

    const b = await openStore(path);
    const secondCalls: TrainRequest[] = [];
    const events: SweepEvent[] = [];
    await runSweep({ store: b, config: cfg, resume: true, loadData, train: fakeTrain(secondCalls), onEvent: (e) => events.push(e) });
    const after = await onePerCandidate(b, cfg.name);
    assert.ok(after.every((t) => t.state === 'done'));
    assert.equal(secondCalls.length, 3, 'the interrupted trial and the two queued ones');
    for (const d of doneBefore) assert.deepEqual((await b.trial(d.id)), d, 'finished trials are untouched');
    const plan = events.find((e) => e.type === 'plan');
    assert.ok(plan?.type === 'plan' && plan.requeued === 1 && plan.resumed);
    assert.equal(after.find((t) => t.id === running.id)!.attempts, 2);
    // the old worker lost the trial: its heartbeats no longer land
    assert.equal(await a.heartbeat(running.id, before.find((t) => t.id === running.id)!.workerId!), false);
    b.close();
    a.close();
  }));

test('successive halving promotes by Pareto rank, keeps the baselines, and schedules each rung once', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const calls: TrainRequest[] = [];
    const cfg = config({ recipe: {}, search: { kind: 'random', n: 6, seed: 1 }, multiFidelity: { rungs: [1, 3], eta: 3 } });
    await runSweep({ store, config: cfg, train: fakeTrain(calls), loadData });
    const trials = await onePerCandidate(store, cfg.name);
    const r0 = trials.filter((t) => t.rung === 0);
    const r1 = trials.filter((t) => t.rung === 1);
    assert.equal(r0.filter((t) => !t.baseline).length, 6);
    assert.equal(r1.filter((t) => !t.baseline).length, 2, 'floor(6/3) contenders climb');
    assert.equal(r1.filter((t) => t.baseline).length, r0.filter((t) => t.baseline).length, 'every baseline climbs');
    assert.ok(r0.every((t) => t.epochs === 1) && r1.every((t) => t.epochs === 3));
    // promotion follows Pareto rank (accuracy up, MACs down): no candidate left behind
    // dominates one that climbed
    const contenders = r0.filter((t) => !t.baseline);
    const up = new Set(r1.map((t) => t.candidateHash));
    const dominates = (o: (typeof contenders)[number], me: (typeof contenders)[number]) =>
      o.accuracy! >= me.accuracy! && o.macs <= me.macs && (o.accuracy! > me.accuracy! || o.macs < me.macs);
    for (const me of contenders.filter((t) => up.has(t.candidateHash))) {
      const beaten = contenders.filter((o) => !up.has(o.candidateHash) && dominates(o, me));
      assert.deepEqual(beaten.map((o) => o.label), [], `${me.label} climbed though dominated by candidates left behind`);
    }
    const rounds = await store.executor.all('SELECT kind, idx FROM rounds ORDER BY kind, idx');
    assert.deepEqual(rounds, [{ kind: 'round', idx: 0 }, { kind: 'rung@0', idx: 1 }]);
    assert.equal(calls.length, trials.length);
    // the pruner's decisions are recorded: one per rung-0 candidate, the promoted ones
    // exactly those that climbed, ranked 0..5 among the contenders
    const decisions = await store.prunerDecisions(cfg.name);
    assert.equal(decisions.length, r0.length);
    assert.ok(decisions.every((d) => d.round === 0 && d.rung === 0));
    assert.deepEqual(new Set(decisions.filter((d) => d.promoted).map((d) => d.candidateHash)), up);
    const halving = decisions.filter((d) => d.pruner === 'successive-halving');
    assert.deepEqual(halving.map((d) => d.rank), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(halving.map((d) => d.promoted), [true, true, false, false, false, false]);
    assert.ok(decisions.filter((d) => d.pruner === 'baseline').every((d) => d.promoted && d.rank === null));
    store.close();
  }));

test('lowerRungSeeds: the ranking rungs train the first seed only, the last rung every seed; listed baselines only', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const calls: TrainRequest[] = [];
    const cfg = config({
      recipe: {},
      search: { kind: 'random', n: 6, seed: 1 },
      seeds: [3, 7],
      baselines: ['dw-pw', 'dw-gpw:cg=4'],
      multiFidelity: { rungs: [1, 3], eta: 3, lowerRungSeeds: 1 },
    });
    await runSweep({ store, config: cfg, train: fakeTrain(calls), loadData });
    const trials = await onePerCandidate(store, cfg.name);
    const r0 = trials.filter((t) => t.rung === 0);
    const r1 = trials.filter((t) => t.rung === 1);
    assert.deepEqual([...new Set(r0.map((t) => t.seed))], [3], 'rung 0: the first seed only');
    assert.equal(r0.length, 6 + 2);
    assert.deepEqual([...new Set(r1.map((t) => t.seed))].sort(), [3, 7], 'last rung: every seed');
    assert.equal(r1.length, (2 + 2) * 2, 'floor(6/3) contenders and both baselines, two seeds each');
    assert.deepEqual([...new Set(trials.filter((t) => t.baseline).map((t) => t.label))].sort(), ['dw-gpw:cg=4', 'dw-pw']);
    assert.equal(calls.length, trials.length);
    store.close();
  }));

test('an evolutionary sweep runs every generation exactly once', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const calls: TrainRequest[] = [];
    const cfg = config({
      baselines: false,
      space: { variants: ['dw-scc'], cg: [1, 2, 4, 8], co: [0.25, 0.5, 0.75], tie: 'stage' },
      search: { kind: 'evolutionary', population: 4, generations: 2, seed: 5 },
    });
    await runSweep({ store, config: cfg, train: fakeTrain(calls), loadData });
    const trials = await onePerCandidate(store, cfg.name);
    const byRound = [0, 1, 2].map((r) => trials.filter((t) => t.round === r).length);
    assert.deepEqual(byRound, [4, 4, 4]);
    const rounds = await store.executor.all("SELECT idx FROM rounds WHERE kind = 'round' ORDER BY idx");
    assert.deepEqual(rounds, [{ idx: 0 }, { idx: 1 }, { idx: 2 }]);
    assert.equal(calls.length, 12);
    store.close();
  }));

test('a setup that cannot train at all stops the sweep before any trial is written off', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const cfg = config({ baselines: false });
    const ten = { ...tiny, count: 10, images: new Uint8Array(10 * 1024), labels: new Uint8Array(10) };
    const loadTen = (): LoadedDatasets => ({ train: ten, test: ten });
    const calls: TrainRequest[] = [];
    const broken = async (req: TrainRequest): Promise<TrainResult> => {
      calls.push(req);
      throw new Error('CUDA is not available in this build');
    };
    await assert.rejects(
      runSweep({ store, config: cfg, loadData: loadTen, train: broken, preflight: true, device: 'cuda' }),
      /training does not start \(device cuda\): CUDA is not available.*--resume/s,
    );
    assert.equal(calls.length, 1, 'one tiny step, then stop');
    assert.equal(calls[0]!.train.count, 2, 'the check uses a couple of images, not the training set');
    assert.deepEqual(await store.counts(cfg.name), { queued: 3, running: 0, done: 0, failed: 0, pruned: 0, diverged: 0 });
    // fixed: the resumed sweep trains everything
    const ok: TrainRequest[] = [];
    const s = await runSweep({ store, config: cfg, loadData, train: fakeTrain(ok), resume: true, preflight: true });
    assert.equal(s.counts.done, 3);
    assert.equal(ok.length, 4, 'the check, then three trials');
    store.close();
  }));

test('constraints are applied before training: the plan reports what they keep, and an empty space is refused', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const events: SweepEvent[] = [];
    const calls: TrainRequest[] = [];
    // cg=4 designs cost less than cg=2 ones; a bound between them keeps the cg=4 half
    const probe = config({ baselines: false, search: { kind: 'grid' } });
    const { planSweep } = await import('../src/space/index.js');
    const macs = planSweep(probe).search.initial().map((c) => c.macs).sort((a, b) => a - b);
    const bound = (macs[0]! + macs[macs.length - 1]!) / 2;
    const cfg = config({ baselines: false, search: { kind: 'grid' }, constraints: { maxMacs: bound } });
    await runSweep({ store, config: cfg, train: fakeTrain(calls), loadData, onEvent: (e) => events.push(e) });
    const plan = events.find((e) => e.type === 'plan');
    assert.ok(plan?.type === 'plan');
    assert.equal(plan.spaceSize, 6n);
    assert.equal(plan.feasible, BigInt(macs.filter((m) => m <= bound).length));
    assert.ok(plan.feasible > 0n && plan.feasible < 6n);
    assert.ok((await store.trials(cfg.name)).every((t) => t.macs <= bound));
    assert.equal(calls.length, Number(plan.feasible));

    const none = config({ name: 'none', baselines: false, constraints: { maxMacs: 1 } });
    await assert.rejects(runSweep({ store, config: none, train: fakeTrain([]), loadData }), /no feasible candidate: no design meets constraints\.maxMacs = 1: the cheapest design/);
    assert.equal((await store.getSweep('none')), undefined, 'nothing written');
    store.close();
  }));

test('evolution with successive halving: each generation climbs its rungs before the next is bred', () =>
  withDb(async (path) => {
    const store = await openStore(path);
    const calls: TrainRequest[] = [];
    const cfg = config({
      baselines: false,
      recipe: {},
      space: { variants: ['dw-scc'], cg: [1, 2, 4, 8], co: [0.25, 0.5, 0.75], tie: 'stage' },
      search: { kind: 'evolutionary', population: 4, generations: 1, seed: 9 },
      multiFidelity: { rungs: [1, 2], eta: 2 },
    });
    await runSweep({ store, config: cfg, train: fakeTrain(calls), loadData });
    const trials = await onePerCandidate(store, cfg.name);
    const shape = [0, 1].map((r) => [0, 1].map((k) => trials.filter((t) => t.round === r && t.rung === k).length));
    assert.deepEqual(shape, [[4, 2], [4, 2]]);
    // generation 1 was bred only after generation 0 had finished both rungs
    const firstOfGen1 = Math.min(...trials.filter((t) => t.round === 1).map((t) => t.id));
    assert.ok(trials.filter((t) => t.round === 0).every((t) => t.id < firstOfGen1));
    const rounds = await store.executor.all('SELECT kind, idx FROM rounds ORDER BY created_at, kind');
    assert.deepEqual(rounds.map((r: any) => `${r.kind}:${r.idx}`).sort(), ['round:0', 'round:1', 'rung@0:1', 'rung@1:1']);
    store.close();
  }));
