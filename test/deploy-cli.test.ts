// From sweep to device, as a user runs it: a short MNIST sweep keeps every trial's weights
// in the store; `pareto export --weights` writes the front's checkpoints; `evaluate --load`
// and ONNX Runtime on the exported graph agree on the test accuracy; keepWeights "front"
// drops the dominated candidates' weights; and bad input (unknown trial, a trial without
// weights, truncated or corrupted files, a missing directory) exits 1 or 2 naming the
// trial or file, writing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { cli, writeConfig } from './helpers/cli-process.js';
import { loadDataset } from '../src/data/index.js';
import { decodeCheckpoint } from '../src/engine/checkpoint.js';
import { openStore } from '../src/store/index.js';
import { summarize } from '../src/report/summary.js';

// one short training (about 10 s on one thread) that reaches ~60% on MNIST
const recipe = { epochs: 1, batchSize: 32, threads: 1, lr: 0.05, warmupEpochs: 0.1, nesterov: true };
const space = { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' };

/** Correct predictions of an ONNX model on the first `n` MNIST test images, fed as pixels
 * in [0,1] (already padded to 32x32 by the loader, as the graph expects). */
async function onnxAccuracy(file: string, n: number): Promise<number> {
  const { test: data } = loadDataset('mnist', { limitTest: n });
  const [c, h, w] = data.shape;
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    let correct = 0;
    const batch = 100;
    for (let first = 0; first < data.count; first += batch) {
      const m = Math.min(batch, data.count - first);
      const px = new Float32Array(m * c * h * w);
      for (let i = 0; i < px.length; i++) px[i] = data.images[first * c * h * w + i]! / 255;
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', px, [m, c, h, w]) });
      const logits = out[session.outputNames[0]!]!.data as Float32Array;
      const classes = logits.length / m;
      for (let i = 0; i < m; i++) {
        let best = 0;
        for (let k = 1; k < classes; k++) if (logits[i * classes + k]! > logits[i * classes + best]!) best = k;
        if (best === data.labels[first + i]) correct++;
      }
    }
    return correct / data.count;
  } finally {
    await session.release();
  }
}

test('sweep -> pareto export --weights -> export --load: ONNX Runtime accuracy equals evaluate --load; bad input refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-deploy-'));
  try {
    const db = join(dir, 'r.db');
    const limitTest = 300;
    const cfg = writeConfig(dir, {
      name: 'mnist-deploy',
      model: 'resnet20',
      dataset: { name: 'mnist', limitTrain: 2000, limitTest },
      recipe,
      space,
      search: { kind: 'grid' },
      baselines: false,
    });
    const sweep = await cli(['sweep', '--config', cfg, '--db', db, '--json']);
    assert.equal(sweep.code, 0, sweep.stderr);

    // every finished trial holds its weights, as a checkpoint of its own spec
    const store = await openStore(db);
    const trials = await store.trials('mnist-deploy');
    assert.equal(trials.length, 1);
    for (const t of trials) {
      assert.equal(t.state, 'done');
      const w = await store.trialWeights(t.id);
      assert.ok(w, `trial ${t.id} has weights`);
      const ck = decodeCheckpoint(w!.checkpoint);
      assert.equal(ck.header.dataset.name, 'mnist');
      assert.equal((ck.header.metrics as { trial: number }).trial, t.id);
    }
    await store.close();

    // the front's weights as files
    const wdir = join(dir, 'front');
    const missingDir = await cli(['pareto', 'export', '--db', db, '--weights', wdir]);
    assert.equal(missingDir.code, 2);
    assert.match(missingDir.stderr, /front: no such directory/);
    assert.ok(!existsSync(wdir));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(wdir);
    const pe = await cli(['pareto', 'export', '--db', db, '--weights', wdir, '--format', 'json']);
    assert.equal(pe.code, 0, pe.stderr);
    const files = readdirSync(wdir).filter((f) => f.endsWith('.dsx'));
    assert.ok(files.length >= 1, 'at least one front checkpoint');
    const file = join(wdir, files[0]!);

    // evaluate --load on those weights, and ONNX Runtime on their export: same accuracy
    const ev = await cli(['evaluate', '--load', file, '--limit-test', String(limitTest), '--threads', '1', '--json']);
    assert.equal(ev.code, 0, ev.stderr);
    const evAccuracy = ev.lines.find((l) => l.type === 'result')!.testAccuracy as number;
    assert.ok(evAccuracy > 0.5, `a trained model (accuracy ${evAccuracy})`);
    const onnxFile = join(dir, 'model.onnx');
    const ex = await cli(['export', '--load', file, '--out', onnxFile, '--json']);
    assert.equal(ex.code, 0, ex.stderr);
    const ortAccuracy = await onnxAccuracy(onnxFile, limitTest);
    assert.equal(ortAccuracy, evAccuracy, 'ONNX Runtime and evaluate --load classify the same images correctly');

    // a trial straight from the store
    const fromTrial = join(dir, 'trial.onnx');
    const et = await cli(['export', '--trial', String(trials[0]!.id), '--db', db, '--out', fromTrial]);
    assert.equal(et.code, 0, et.stderr);
    assert.match(et.lines[0]!.text, /wrote .*trial\.onnx: resnet20 from trial \d+/);
    assert.ok((await onnxAccuracy(fromTrial, 100)) > 0.5);

    // bad input: nothing is written, the message names the trial or the file
    const out = join(dir, 'bad.onnx');
    const unknown = await cli(['export', '--trial', '999', '--db', db, '--out', out]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no trial 999 in/);
    const bytes = readFileSync(file);
    const truncated = join(dir, 'truncated.dsx');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    const t1 = await cli(['export', '--load', truncated, '--out', out]);
    assert.equal(t1.code, 2);
    assert.match(t1.stderr, /truncated\.dsx is not a usable dsxplore checkpoint: truncated weights/);
    const corrupted = join(dir, 'corrupted.dsx');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] ^= 0xff;
    writeFileSync(corrupted, flipped);
    const t2 = await cli(['export', '--load', corrupted, '--out', out]);
    assert.equal(t2.code, 2);
    assert.match(t2.stderr, /corrupted\.dsx .*checksum/);
    const t3 = await cli(['export', '--load', file, '--out', join(dir, 'nowhere', 'm.onnx')]);
    assert.equal(t3.code, 2);
    assert.match(t3.stderr, /nowhere does not exist/);
    for (const r of [unknown, t1, t2, t3]) assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(out));
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keepWeights "front": once the sweep ends only the front keeps its weights; exporting a dropped trial exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-deploy-front-'));
  try {
    const db = join(dir, 'r.db');
    const cfg = writeConfig(dir, {
      name: 'front-only',
      model: 'resnet20',
      dataset: { name: 'synthetic:size=16,classes=4,train=256,test=128' },
      recipe: { epochs: 1, batchSize: 16, threads: 1 },
      space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'all' },
      search: { kind: 'grid' },
      baselines: true,
      keepWeights: 'front',
    });
    const sweep = await cli(['sweep', '--config', cfg, '--db', db, '--json']);
    assert.equal(sweep.code, 0, sweep.stderr);
    const store = await openStore(db);
    const trials = await store.trials('front-only');
    const s = summarize('front-only', trials, ['accuracy', 'macs']);
    const front = new Set(s.front.map((c) => c.hash));
    const kept = await store.trialsWithWeights('front-only');
    assert.ok(front.size >= 1 && front.size < trials.length, `a front (${front.size}) smaller than the sweep (${trials.length})`);
    for (const t of trials) {
      assert.equal(kept.has(t.id), front.has(t.candidateHash) && t.state === 'done', `trial ${t.id} ${t.label}`);
    }
    await store.close();
    const dropped = trials.find((t) => !front.has(t.candidateHash))!;
    const out = join(dir, 'm.onnx');
    const r = await cli(['export', '--trial', String(dropped.id), '--db', db, '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`trial ${dropped.id} \\(.*\\) has no weights`));
    assert.ok(!existsSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
