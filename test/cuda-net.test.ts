// The CUDA backend through the addon: one training step of a small network that uses every
// op matches the CPU step, and repeats bit for bit. Needs a GPU (skipped otherwise); asking
// for CUDA where there is none must fail with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { debugStep } from '../src/engine/index.js';
import { collectDoctorReport } from '../src/engine/doctor.js';
import { assertClose, randomArray } from './helpers/reference.js';
import { tinyResnet } from './net-fixtures.js';

const report = collectDoctorReport();
const hasCuda = report.cuda.available;
const noCuda = hasCuda ? false : 'no CUDA device';

const spec = tinyResnet([3, 12, 12], 5, 8);
const images = randomArray(6 * 3 * 12 * 12, 11);
const labels = new Int32Array([0, 1, 2, 3, 4, 0]);

test('a training step on CUDA matches the CPU step (loss, gradients, BN statistics)', { skip: noCuda }, () => {
  const cpu = debugStep({ spec, images, labels, seed: 5, device: 'cpu' });
  const gpu = debugStep({ spec, images, labels, seed: 5, device: 'cuda' });
  assert.match(gpu.device, /^cuda:0$/);
  assert.ok(Math.abs(gpu.loss - cpu.loss) <= 1e-4 * (1 + Math.abs(cpu.loss)), `loss ${gpu.loss} vs ${cpu.loss}`);
  assert.equal(gpu.correct, cpu.correct);
  assertClose(gpu.grads!, cpu.grads!, { atol: 1e-4, rtol: 1e-3 }, 'grads');
  assertClose(gpu.state, cpu.state, { atol: 1e-5, rtol: 1e-4 }, 'state');
});

test('CUDA steps are deterministic: the same inputs give the same bits', { skip: noCuda }, () => {
  const a = debugStep({ spec, images, labels, seed: 9, device: 'cuda' });
  const b = debugStep({ spec, images, labels, seed: 9, device: 'cuda' });
  assert.equal(a.loss, b.loss);
  assert.deepEqual(a.grads, b.grads);
});

test('asking for CUDA without a usable device fails with the reason', { skip: hasCuda ? 'a CUDA device is present' : false }, () => {
  assert.throws(
    () => debugStep({ spec, images, labels, seed: 5, device: 'cuda' }),
    (err: Error) => {
      assert.match(err.message, /CUDA device 0 is not available/);
      assert.ok(err.message.includes(report.cuda.reason ?? '<no reason>'), err.message);
      return true;
    },
  );
});
