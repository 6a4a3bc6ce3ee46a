// The roofline's measurements (bench/roofline.ts): the ceilings' loops do what they claim,
// and the executor's profile, exposed as data by netProfile, covers every op of a network
// and accounts for the measured step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import { benchCopy, benchPeak, benchSgemm, setOpThreads } from '../src/engine/ops.js';
import { profileNet } from '../src/engine/profile.js';
import { tinyResnet } from './net-fixtures.js';
import { randomArray } from './helpers/reference.js';

const THREADS = Math.min(2, os.availableParallelism());

test('the bandwidth copy moves exactly the bytes it claims: the destination equals the source', () => {
  setOpThreads(THREADS);
  // an odd length, so the threads' slices are uneven
  const src = randomArray(1_000_003, 7);
  const dst = new Float32Array(src.length).fill(-1);
  const r = benchCopy(src, dst);
  assert.equal(r.threads, THREADS);
  for (let i = 0; i < src.length; i++) if (dst[i] !== src[i]) assert.fail(`dst[${i}] = ${dst[i]}, src[${i}] = ${src[i]}`);
  assert.throws(() => benchCopy(src, new Float32Array(3)), /same length/);
});

test("the FMA peak loop runs the ISA this CPU has and beats our SGEMM's GFLOP/s at 256^3 on the same threads", () => {
  setOpThreads(THREADS);
  const peak = benchPeak({ minSeconds: 0.3 });
  const t = benchSgemm({ M: 256, N: 256, K: 256, minSeconds: 0.3 });
  const sgemm = (2 * 256 ** 3) / t.ours / 1e9;
  assert.equal(peak.threads, THREADS);
  assert.ok(peak.gflops > sgemm, `peak ${peak.gflops.toFixed(1)} GFLOP/s, SGEMM ${sgemm.toFixed(1)} GFLOP/s`);
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  const needs: Record<string, string[]> = { avx512: ['avx512f'], 'avx2+fma': ['avx2', 'fma'], scalar: [] };
  assert.ok(peak.isa in needs, `unknown ISA path ${peak.isa}`);
  for (const f of needs[peak.isa]!) assert.ok(flags.includes(f), `the peak ran ${peak.isa}, the CPU lacks ${f}`);
});

const spec = tinyResnet([3, 32, 32], 10, 16);
const STEPS = 3;

test('the training profile covers every layer and sums to the measured step within 30%', async () => {
  const p = await profileNet(spec, { mode: 'train', batch: 32, threads: THREADS, warmup: 1, steps: STEPS });
  assert.equal(p.layers.length, spec.layers.length);
  assert.equal(p.stepSeconds.length, STEPS);
  spec.layers.forEach((l, i) => {
    const t = p.layers[i]!;
    // a relu or add the executor fuses into its BN's or tail's step has no calls of its own
    if (t.forwardCalls === 0) assert.ok(l.op === 'relu' || l.op === 'add', `${l.name} (${l.op}) was never timed`);
    else assert.equal(t.forwardCalls, STEPS, `${l.name} forward calls`);
  });
  assert.equal(p.sgd.backwardCalls, STEPS);
  // the per-step rows add up to the totals: layers, then clearing, then SGD
  assert.equal(p.stepLayerSeconds.length, STEPS);
  const totals = [...p.layers.map((t) => t.forward + t.backward), p.clear.backward, p.sgd.backward];
  totals.forEach((total, k) => {
    const sum = p.stepLayerSeconds.reduce((s, row) => s + row[k]!, 0);
    assert.ok(Math.abs(sum - total) <= 1e-9 + 1e-9 * total, `column ${k}: steps add to ${sum}, total ${total}`);
  });
  // what the profile times is inside the step; the loss and the timer calls are not: on a
  // shared machine a preemption between two ops costs untimed time, hence 30%
  const timed = p.layers.reduce((s, t) => s + t.forward + t.backward, 0) + p.clear.backward + p.sgd.backward;
  const wall = p.stepSeconds.reduce((a, b) => a + b, 0);
  assert.ok(timed <= wall * (1 + 1e-9), `timed ${timed} s in steps of ${wall} s`);
  assert.ok(timed >= 0.7 * wall, `timed ${timed} s of steps of ${wall} s`);
});

test('unfused, every layer has its own forward and backward; inference times forwards only', async () => {
  process.env.DSXPLORE_NO_FUSION = '1';
  try {
    const p = await profileNet(spec, { mode: 'train', batch: 4, threads: THREADS, warmup: 0, steps: 2 });
    spec.layers.forEach((l, i) => {
      assert.equal(p.layers[i]!.forwardCalls, 2, `${l.name} forward calls`);
      assert.equal(p.layers[i]!.backwardCalls, 2, `${l.name} backward calls`);
    });
  } finally {
    delete process.env.DSXPLORE_NO_FUSION;
  }
  const inf = await profileNet(spec, { mode: 'infer', batch: 4, threads: THREADS, warmup: 1, steps: 5 });
  const timed = inf.layers.reduce((s, t) => s + t.forward, 0);
  assert.ok(inf.layers.every((t) => t.backwardCalls === 0 && (t.forwardCalls === 0 || t.forwardCalls === 5)));
  assert.equal(inf.sgd.backwardCalls, 0);
  const wall = inf.stepSeconds.reduce((a, b) => a + b, 0);
  assert.ok(timed <= wall * (1 + 1e-9) && timed >= 0.5 * wall, `timed ${timed} s of forwards of ${wall} s`);
});
