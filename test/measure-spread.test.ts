// scripts/measure-spread.ts end to end on synthetic data: it trains the two designs with the
// config's seeds in the given store, reports each design's seed range and the widest as the
// spread, judges it against --max-spread, and refuses bad input with exit code 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStoreForReading } from '../src/store/index.js';

const root = resolve(import.meta.dirname, '..');

function script(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/measure-spread.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
}

test('measure-spread trains dw-gpw and dw-scc with every seed and reports their widest seed range', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-spread-test-'));
  try {
    const config = join(dir, 'tiny.json');
    writeFileSync(
      config,
      JSON.stringify({
        name: 'tiny',
        model: 'resnet20',
        dataset: { name: 'synthetic:size=16,classes=4,train=128,test=64', limitTrain: 64 },
        recipe: { batchSize: 16, threads: 1 },
        space: { variants: ['dw-scc'], cg: [2, 4], co: [0, 0.5], tie: 'all' },
        search: { kind: 'grid' },
        multiFidelity: { rungs: [1, 2], lowerRungSeeds: 1 },
        seeds: [0, 1],
      }),
    );
    const db = join(dir, 's.db');
    const r = script(['--config', config, '--db', db, '--cg', '4', '--co', '0.5', '--jobs', '1', '--max-spread', '100']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
    assert.equal(out.sweep, 'tiny-spread');
    assert.equal(out.epochs, 2, 'the last rung\'s epochs');
    assert.deepEqual(out.designs.map((d: { label: string }) => d.label).sort(), ['dw-gpw:cg=4', 'dw-scc:cg=4,co=0.5']);
    // against the store: every design trained with both seeds, the ranges and spread recomputed
    const store = await openStoreForReading(`sqlite:${db}`);
    const trials = await store.trials('tiny-spread');
    await store.close();
    assert.equal(trials.length, 4);
    assert.ok(trials.every((t) => t.state === 'done' && t.epochs === 2));
    let widest = 0;
    for (const d of out.designs as { label: string; seeds: number[]; range: number }[]) {
      const accs = trials.filter((t) => t.label === d.label).map((t) => t.accuracy! * 100);
      assert.deepEqual(d.seeds, [0, 1]);
      assert.ok(Math.abs(d.range - (Math.max(...accs) - Math.min(...accs))) < 0.006, d.label);
      widest = Math.max(widest, d.range);
    }
    assert.equal(out.spread, widest);
    assert.equal(out.ok, true);
    assert.ok(out.spread > 0, 'two seeds of a tiny training differ, so the limit below is a real check');
    // a tighter limit than the measured spread fails the check (without training again)
    const tight = script(['--config', config, '--db', db, '--cg', '4', '--co', '0.5', '--max-spread', String(out.spread / 2)]);
    assert.equal(tight.status, 1, tight.stderr);
    assert.equal(JSON.parse(tight.stdout.trim().split('\n').at(-1)!).ok, false);
    const bad = script(['--config', config, '--co', '0']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--co must be in \(0, 1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
