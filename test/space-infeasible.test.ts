// A space whose constraints keep no design is a usage error before anything trains: exit
// 2, one line naming the constraint and the cheapest design's cost (counted here from the
// options by brute force), and no sweep recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepConfig } from '../src/config/sweep.js';
import { countFeasible, enumerateGrid, genomeCost, infeasibility, planSweep } from '../src/space/index.js';
import { openStore } from '../src/store/index.js';
import { runCli } from './helpers/cli.js';

const base = {
  name: 'inf',
  model: 'resnet20',
  dataset: { name: 'synthetic' },
  recipe: { epochs: 1 },
  space: { variants: ['dw-pw', 'dw-scc'], cg: [2, 4], co: [0.5], tie: 'stage' },
  search: { kind: 'grid' },
};
const plan = planSweep(parseSweepConfig(base));
const costs = [...enumerateGrid(plan.space)].map((g) => genomeCost(plan.space, g));
const minMacs = Math.min(...costs.map((c) => c.macs));
const maxMacs = Math.max(...costs.map((c) => c.macs));
const minParams = Math.min(...costs.map((c) => c.params));
const fmt = (n: number) => n.toLocaleString('en-US');

test('the CLI refuses maxMacs below the cheapest design with exit 2, before anything is recorded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-inf-'));
  try {
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ ...base, constraints: { maxMacs: minMacs - 1 } }));
    const db = join(dir, 'r.db');
    const r = await runCli(['sweep', '--config', cfg, '--db', db, '--json']);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, new RegExp(`constraints\\.maxMacs = ${fmt(minMacs - 1)}: the cheapest design .*${fmt(minMacs)} MACs`));
    const store = await openStore(db);
    assert.deepEqual(await store.listSweeps(), [], 'no sweep, no trial');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('maxParams, minMacs and bounds that are each met but not together are named too', () => {
  const space = (constraints: Record<string, number>) => planSweep(parseSweepConfig({ ...base, constraints })).space;
  assert.match(infeasibility(space({ maxParams: minParams - 1 }))!, new RegExp(`constraints\\.maxParams = ${fmt(minParams - 1)}.*${fmt(minParams)} params`));
  assert.match(infeasibility(space({ minMacs: maxMacs + 1 }))!, /constraints\.minMacs = .*most expensive design/);
  // each bound met by some design, none by all: the MAC band of the dearest design alone,
  // with fewer params than it has
  const dearest = costs.reduce((a, b) => (b.macs > a.macs ? b : a));
  const band = { minMacs: dearest.macs, maxMacs: dearest.macs, maxParams: dearest.params - 1 };
  assert.ok(minParams <= band.maxParams && costs.filter((c) => c.macs === dearest.macs).every((c) => c.params > band.maxParams));
  const s = space(band);
  assert.match(
    infeasibility(s, countFeasible(s))!,
    new RegExp(`no design meets constraints\\.maxMacs = ${fmt(band.maxMacs)} and constraints\\.minMacs = ${fmt(band.minMacs)} and constraints\\.maxParams = ${fmt(band.maxParams)} together \\(the cheapest design of the space: .*${fmt(minMacs)} MACs`),
  );
  assert.equal(infeasibility(space({ maxMacs: maxMacs })), undefined, 'a feasible space passes');
});
