// Reproducibility of a committed study: a front candidate of
// configs/study-resnet20.json, trained at reduced size by `dsxplore sweep`, is trained
// again by scripts/rerun-front.ts (which calls `dsxplore train` with the recorded recipe,
// data, thread count and seed), and the test accuracy and the final training and test
// losses must come out identical bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStoreForReading } from '../src/store/index.js';
import { cli, writeConfig } from './helpers/cli-process.js';

const root = resolve(import.meta.dirname, '..');
const FASHION = '/usr/share/datasets/fashion-mnist';
const study = JSON.parse(readFileSync(join(root, 'configs', 'study-resnet20.json'), 'utf8')) as Record<string, any>;

test(
  'a front candidate of study-resnet20, rerun with the same build, threads and seed, reproduces its accuracy and loss exactly',
  { timeout: 600_000, skip: existsSync(FASHION) ? false : `Fashion-MNIST not installed at ${FASHION} (apt-get install dataset-fashion-mnist)` },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsx-repro-'));
    try {
      const db = join(dir, 'r.db');
      // the study at reduced size: two epochs on 1536 images, two SCC settings (the cheaper
      // one is on the front whatever the accuracies) and the equal-MACs grouped baseline,
      // one thread, seed 0; the recipe otherwise the study's own
      const limitTrain = 1536;
      const limitTest = 500;
      const { multiFidelity: _rungs, ...single } = study;
      const reduced = {
        ...single,
        name: 'repro',
        dataset: { name: 'fashion-mnist', limitTrain, limitTest },
        recipe: { ...study.recipe, epochs: 2, threads: 1 },
        space: { variants: ['dw-scc'], cg: [2, 4], co: [0.5], tie: 'all' },
        search: { kind: 'grid' },
        seeds: [0],
        baselines: ['dw-gpw:cg=2'],
      };
      const sweep = await cli(['sweep', '--config', writeConfig(dir, reduced), '--db', db, '--json']);
      assert.equal(sweep.code, 0, sweep.stderr);

      const store = await openStoreForReading(`sqlite:${db}`);
      const trials = await store.trials('repro');
      await store.close();
      assert.equal(trials.length, 3);
      assert.ok(trials.every((t) => t.state === 'done'), JSON.stringify(trials.map((t) => [t.label, t.state, t.error])));
      // scripts/rerun-front.ts: the most accurate SCC design on the front, its first seed,
      // trained again by `dsxplore train` with the recipe, data and threads it recorded
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/rerun-front.ts', '--db', db], {
        cwd: root,
        encoding: 'utf8',
        timeout: 300_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
      assert.match(out.label, /^dw-scc/, 'an SCC design is picked when one is on the front');
      const original = trials.find((t) => t.label === out.label && t.seed === 0)!;
      assert.equal(original.provenance?.threads, 1);
      assert.equal(out.threads, 1);
      assert.match(out.command, /--threads 1/);
      assert.match(out.command, new RegExp(`--limit-train ${limitTrain} --limit-test ${limitTest}`));
      // compared here with the store's own rows, not only by the script
      assert.equal(out.rerun.accuracy, original.accuracy, `accuracy of ${out.label}: rerun ${out.rerun.accuracy}, study ${original.accuracy}`);
      assert.equal(out.rerun.trainLoss, original.trainLoss, `final training loss: rerun ${out.rerun.trainLoss}, study ${original.trainLoss}`);
      assert.equal(out.rerun.testLoss, original.testLoss);
      assert.equal(out.identical, true);
      // a trial that learned, not a constant: its training loss fell below chance (ln 10)
      assert.ok(original.trainLoss! < Math.log(10) - 0.05, `the reduced trial learned (train loss ${original.trainLoss}, accuracy ${original.accuracy})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
