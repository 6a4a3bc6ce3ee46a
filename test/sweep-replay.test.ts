// Tabular replay: a table of finished trials (built here by a sweep with a stand-in
// engine) answers a second sweep's trials by spec and epochs; a design the table lacks
// stops the replay before anything is recorded; rungs read their own epochs; a replay
// repeats exactly; report works on the replayed store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepConfig, type SweepConfig } from '../src/config/sweep.js';
import { openStore, openStoreForReading } from '../src/store/index.js';
import { ReplayTable, runSweep } from '../src/sweep/index.js';
import { UsageError } from '../src/errors.js';
import type { TrainRequest, TrainResult } from '../src/engine/types.js';
import type { LoadedDatasets } from '../src/data/index.js';
import { runCli } from './helpers/cli.js';

const tiny = { name: 'x', count: 1, shape: [1, 32, 32] as [number, number, number], classes: 10, images: new Uint8Array(1024), labels: new Uint8Array(1), mean: [0.5], std: [0.25] };
const loadData = (): LoadedDatasets => ({ train: tiny, test: { ...tiny, name: 'x/test' } });

const SPACE = { variants: ['dw-scc'], cg: [2, 4], co: [0.5], tie: 'stage' };

function config(extra: Record<string, unknown> = {}): SweepConfig {
  return parseSweepConfig({
    name: 'replay',
    model: 'resnet20',
    dataset: { name: 'mnist' },
    recipe: { epochs: 2 },
    space: SPACE,
    baselines: false,
    search: { kind: 'random', n: 6, seed: 1 },
    ...extra,
  });
}

/** Accuracy per epoch a function of the spec, the epoch and the seed: every recorded
 * seed and epoch differs, so a lookup is identified by its value. */
function fakeTrain(req: TrainRequest): Promise<TrainResult> {
  const s = JSON.stringify(req.spec);
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  const acc = (e: number) => 0.5 + (h % 997) / 4000 + e / 50 + req.recipe.seed / 1000;
  const n = req.recipe.epochs;
  return Promise.resolve({
    status: 'done',
    device: 'cpu',
    threads: 1,
    params: 1,
    testAccuracy: acc(n),
    testLoss: 1 - acc(n),
    trainLoss: 1 - acc(n),
    trainAccuracy: acc(n),
    epochs: Array.from({ length: n }, (_, i) => ({ epoch: i + 1, lr: 0.1, trainLoss: 1, trainAccuracy: acc(i + 1), testAccuracy: acc(i + 1), testLoss: 1, seconds: 0.5 })),
    seconds: 0.5 * n,
    imagesPerSecond: 100,
  });
}

async function withTable<T>(fn: (dir: string, table: string) => Promise<T>, space: Record<string, unknown> = SPACE): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-replay-'));
  try {
    const table = join(dir, 'table.db');
    const store = await openStore(table);
    await runSweep({
      store,
      config: config({ name: 'table', space, search: { kind: 'grid' }, seeds: [0, 1] }),
      train: fakeTrain,
      loadData,
    });
    await store.close();
    return await fn(dir, table);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function replay(table: string, out: string, cfg: SweepConfig) {
  const t = await ReplayTable.open(await openStoreForReading(table), table);
  const store = await openStore(out);
  try {
    const summary = await runSweep({ store, config: cfg, replay: t, train: () => Promise.reject(new Error('replay must not train')) });
    return { summary, trials: await store.trials(cfg.name) };
  } finally {
    await store.close();
    await t.close();
  }
}

test('a replayed trial is one recorded seed of the same design at the same epochs, with its provenance', () =>
  withTable(async (dir, table) => {
    const src = await openStoreForReading(table);
    const recorded = (await src.trials('table')).filter((t) => t.state === 'done');
    await src.close();
    const { summary, trials } = await replay(table, join(dir, 'out.db'), config());
    assert.equal(summary.replayed?.trials, 6);
    assert.equal(trials.length, 6);
    for (const t of trials) {
      assert.equal(t.state, 'done');
      assert.equal(t.epochs, 2);
      const p = await (async () => {
        const s = await openStoreForReading(join(dir, 'out.db'));
        try {
          return (await s.trial(t.id))!.provenance!;
        } finally {
          await s.close();
        }
      })();
      assert.equal(p.replay, `replayed from ${table}`);
      const source = recorded.find((r) => r.id === p.sourceTrial)!;
      assert.equal(source.candidateHash, t.candidateHash, 'looked up by spec identity');
      assert.equal(source.epochs, 2);
      assert.equal(t.accuracy, source.accuracy);
      assert.equal(t.seconds, source.seconds, 'the recorded training time counts as spent');
    }
  }));

test('a candidate missing from the table is a usage error naming it, before anything is recorded', () =>
  withTable(
    async (dir, table) => {
      const out = join(dir, 'out.db');
      // the grid has cg=4 designs the table (cg 2 only) lacks
      await assert.rejects(replay(table, out, config({ search: { kind: 'grid' } })), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /--replay .*table\.db: the table has no finished trial of .*dw-scc:cg=4/);
        return true;
      });
      const store = await openStore(out);
      assert.deepEqual(await store.listSweeps(), [], 'no sweep was created');
      await store.close();
      // through the CLI: exit 2, one line
      const cfgPath = join(dir, 'grid.json');
      writeFileSync(cfgPath, JSON.stringify({ ...config({ search: { kind: 'grid' } }), name: 'cli-grid' }));
      const r = await runCli(['sweep', '--config', cfgPath, '--replay', table, '--db', join(dir, 'cli.db'), '--json']);
      assert.equal(r.code, 2);
      assert.match(r.err, /^dsxplore: --replay .*dw-scc:cg=4/);
      assert.equal(r.err.trim().split('\n').length, 1);
    },
    { ...SPACE, cg: [2] },
  ));

test('successive-halving rungs replay their own epoch count; a replay repeats exactly; another seed draws other seeds', () =>
  withTable(async (dir, table) => {
    const mf = config({ recipe: {}, multiFidelity: { rungs: [1, 2], eta: 2 }, search: { kind: 'random', n: 8, seed: 3 } });
    const a = await replay(table, join(dir, 'a.db'), mf);
    const rung0 = a.trials.filter((t) => t.rung === 0);
    const rung1 = a.trials.filter((t) => t.rung === 1);
    assert.equal(rung0.length, 8);
    assert.equal(rung1.length, 4, 'the best half climbed');
    assert.ok(rung0.every((t) => t.epochs === 1) && rung1.every((t) => t.epochs === 2));
    const src = await openStoreForReading(table);
    const recorded = (await src.trials('table')).filter((t) => t.state === 'done');
    for (const t of rung0) {
      // the table holds 2-epoch trainings: rung 0 reads the accuracy after epoch 1 of one
      const after1 = await Promise.all(recorded.filter((r) => r.candidateHash === t.candidateHash).map(async (r) => (await src.epochMetrics(r.id))[0]!.testAccuracy));
      assert.ok(after1.includes(t.accuracy!), `${t.label}: ${t.accuracy} is an epoch-1 accuracy of the table`);
    }
    await src.close();
    const b = await replay(table, join(dir, 'b.db'), mf);
    assert.deepEqual(
      b.trials.map((t) => [t.candidateHash, t.rung, t.accuracy]),
      a.trials.map((t) => [t.candidateHash, t.rung, t.accuracy]),
      'the same config replays the same results',
    );
    const c = await replay(table, join(dir, 'c.db'), config({ search: { kind: 'grid' }, space: SPACE }));
    const d = await replay(table, join(dir, 'd.db'), config({ search: { kind: 'grid' }, space: SPACE, name: 'other' }));
    assert.deepEqual(c.trials.map((t) => t.accuracy), d.trials.map((t) => t.accuracy), 'a grid (seed 0) replays alike');
    const e = await replay(table, join(dir, 'e.db'), config({ search: { kind: 'random', n: 8, seed: 9 } }));
    const f = await replay(table, join(dir, 'f.db'), config({ search: { kind: 'random', n: 8, seed: 10 } }));
    const acc = (xs: typeof e.trials) => new Map(xs.map((t) => [t.candidateHash, t.accuracy]));
    const ea = acc(e.trials);
    const fa = acc(f.trials);
    const differ = [...ea].filter(([h, v]) => fa.get(h) !== v).length;
    assert.ok(differ > 0, 'another search seed picks other recorded seeds');
  }));

test('report and pareto export read a replayed store as any other', () =>
  withTable(async (dir, table) => {
    const out = join(dir, 'out.db');
    const cfgPath = join(dir, 'r.json');
    writeFileSync(cfgPath, JSON.stringify({ ...config(), name: 'cli-replay' }));
    const r = await runCli(['sweep', '--config', cfgPath, '--replay', table, '--db', out, '--json']);
    assert.equal(r.code, 0, r.err);
    const last = JSON.parse(r.out.trim().split('\n').at(-1)!);
    assert.equal(last.replayed.trials, 6);
    const rep = await runCli(['report', '--db', out, '--json']);
    assert.equal(rep.code, 0, rep.err);
    assert.ok(JSON.parse(rep.out).front.length >= 1);
    const csv = await runCli(['pareto', 'export', '--db', out]);
    assert.equal(csv.code, 0, csv.err);
    assert.match(csv.out, /^label,hash/);
  }));
