// `dsxplore train` and `dsxplore evaluate` end to end on a small synthetic dataset: JSON
// lines when piped, the result fields, --save then evaluate --load reproducing the
// accuracy, usage errors (exit 2) and a diverged run (exit 1). Needs the native addon
// (npm run build:native, or DSXPLORE_ADDON pointing at a build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countTotals } from '../src/cost/index.js';
import { buildModel } from '../src/models/index.js';
import { saveCheckpoint } from '../src/engine/checkpoint.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cliUrl = pathToFileURL(join(root, 'src', 'cli.ts')).href;
const runner = `const { main } = await import(${JSON.stringify(cliUrl)}); process.exitCode = await main(process.argv.slice(1));`;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', runner, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines };
}

const DATA = 'synthetic:size=8,classes=3,train=384,test=150,noise=1.2';

test('train --save, then evaluate --load reproduces the accuracy', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'model.dsx');
  const tr = cli([
    'train', '--model', 'resnet20', '--variant', 'dw-scc:cg=2,co=0.5', '--dataset', DATA,
    '--epochs', '1', '--batch-size', '32', '--lr', '0.05', '--threads', '2', '--device', 'cpu', '--json', '--save', file,
  ]);
  assert.equal(tr.code, 0, tr.stderr);
  const types = tr.lines.map((l) => l.type);
  assert.equal(types[0], 'start');
  assert.ok(types.includes('progress'));
  assert.ok(types.includes('epoch'));
  const res = tr.lines.at(-1)!;
  assert.equal(res.type, 'result');
  assert.equal(res.status, 'done');
  for (const k of ['testAccuracy', 'trainLoss', 'params', 'macs', 'seconds', 'imagesPerSecond']) {
    assert.equal(typeof res[k], 'number', `${k} in ${JSON.stringify(res)}`);
  }
  assert.ok(res.testAccuracy >= 0 && res.testAccuracy <= 1);
  assert.ok(res.imagesPerSecond > 0 && res.seconds > 0);
  assert.equal(res.epochs.length, 1);
  assert.equal(typeof res.epochs[0].trainLoss, 'number');
  assert.equal(typeof res.epochs[0].seconds, 'number');
  // the reported cost is the analytic cost of the spec the engine trained, and they agree
  const spec = buildModel('resnet20', { inChannels: 3, inputSize: 8, classes: 3, variants: { kind: 'dw-scc', cg: 2, co: 0.5 } });
  assert.equal(res.params, countTotals(spec).params);
  assert.equal(res.macs, countTotals(spec).macs);
  assert.equal(res.engineParams, res.params);
  assert.equal(res.saved, file);

  // piped without --json: still JSON lines
  const ev = cli(['evaluate', '--load', file, '--threads', '2', '--device', 'cpu']);
  assert.equal(ev.code, 0, ev.stderr);
  const out = ev.lines.at(-1)!;
  assert.equal(out.type, 'result');
  assert.equal(out.count, 150);
  // same weights, same data, same normalisation: identical predictions
  assert.equal(out.testAccuracy, res.testAccuracy);
  // the loss may differ only by summation order (stated tolerance 1e-5 relative)
  assert.ok(Math.abs(out.testLoss - res.testLoss) <= 1e-5 * Math.abs(res.testLoss), `${out.testLoss} vs ${res.testLoss}`);
});

test('usage errors exit 2 with a message naming the flag', () => {
  const bad = cli(['train', '--model', 'resnet20', '--dataset', DATA, '--epochs', '1', '--lr', '-3']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--lr: must be a number > 0 \(got -3\)/);
  const model = cli(['train', '--model', 'resnet21', '--dataset', DATA, '--epochs', '1']);
  assert.equal(model.code, 2);
  assert.match(model.stderr, /unknown model "resnet21"/);
  const data = cli(['train', '--model', 'resnet20', '--dataset', 'imagenet', '--epochs', '1']);
  assert.equal(data.code, 2);
  assert.match(data.stderr, /unknown dataset "imagenet"; expected one of: mnist, fashion-mnist, cifar10, synthetic/);
  const dev = cli(['train', '--model', 'resnet20', '--dataset', DATA, '--epochs', '1', '--device', 'tpu']);
  assert.equal(dev.code, 2);
  assert.match(dev.stderr, /--device: must be auto, cpu, cuda or cuda:N/);
  const load = cli(['evaluate', '--load', join(tmpdir(), 'dsx-no-such-file.dsx')]);
  assert.equal(load.code, 2);
  assert.match(load.stderr, /no such file/);
});

test('evaluate refuses a checkpoint whose weights do not fit its spec', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'short.dsx');
  const spec = buildModel('resnet20', { inChannels: 3, inputSize: 8, classes: 3, variants: { kind: 'dw-pw' } });
  saveCheckpoint(file, { spec, dataset: { name: DATA, mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] } }, new Float32Array(10));
  const r = cli(['evaluate', '--load', file, '--device', 'cpu']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /holds 10 values but its model spec needs \d+/);
});

test('a diverging run ends with status diverged, a message, and exit code 1', () => {
  const r = cli([
    'train', '--model', 'resnet20', '--dataset', 'synthetic:size=8,classes=3,train=128,test=32',
    '--epochs', '1', '--batch-size', '32', '--lr', '1e9', '--threads', '2', '--device', 'cpu', '--json',
  ]);
  assert.equal(r.code, 1);
  const res = r.lines.at(-1)!;
  assert.equal(res.type, 'result');
  assert.equal(res.status, 'diverged');
  assert.equal(typeof res.message, 'string');
  assert.match(r.stderr, /training diverged/);
});

test('--validation holds images out: per-epoch accuracy on them, test accuracy at the end', () => {
  const r = cli([
    'train', '--model', 'resnet20', '--variant', 'dw-pw', '--dataset', DATA, '--validation', '64', '--limit-train', '128',
    '--limit-test', '50', '--epochs', '1', '--batch-size', '32', '--threads', '2', '--device', 'cpu', '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const start = r.lines[0]!;
  assert.equal(start.train, 128);
  assert.equal(start.validation, 64);
  assert.equal(start.test, 50);
  const res = r.lines.at(-1)!;
  assert.equal(res.status, 'done');
  assert.equal(typeof res.validationAccuracy, 'number');
  assert.equal(res.validationAccuracy, res.epochs[0].testAccuracy);
  // test accuracy over 50 images is a multiple of 1/50
  assert.ok(Math.abs(res.testAccuracy * 50 - Math.round(res.testAccuracy * 50)) < 1e-9);
  assert.equal(res.testImages, 50);
});

test('train --decay-bn-bias reaches the recipe (its option key differs from the recipe field)', () => {
  const r = cli([
    'train', '--model', 'resnet20', '--dataset', 'synthetic:size=8,classes=3,train=16,test=8', '--epochs', '1',
    '--batch-size', '8', '--threads', '1', '--device', 'cpu', '--decay-bn-bias', '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = r.lines.find((l) => l.type === 'result');
  assert.equal(result?.recipe?.decayBnAndBias, true, r.stdout.slice(-500));
});

