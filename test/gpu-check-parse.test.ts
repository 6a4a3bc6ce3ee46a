// native/test/gpu-check-parse.sh decides whether a GPU run of cuda_check proves the CUDA path
// (gpu-check.sh reads its verdict). Here it reads recorded cuda_check output: passing runs on
// backends whose names hold colons (`cuda:0`), and each way a run can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(import.meta.dirname, '..', 'native', 'test', 'gpu-check-parse.sh');

/** Runs the parser on `lines` as a log file; returns its exit status and output. */
function parse(lines: string[]): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-gpu-parse-'));
  try {
    const log = join(dir, 'cuda_ops.log');
    writeFileSync(log, lines.join('\n') + '\n');
    const r = spawnSync('bash', [script, log], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// As cuda_check prints them on an H100 (trimmed: the per-check lines are many).
const passing = [
  'build: cuda yes, archs [75,80,90], cuBLAS /usr/local/cuda/lib64/libcublas.so.12',
  'device: 0: NVIDIA H100 80GB HBM3 (sm_90, 79 GiB, 132 SMs), probe kernel ok',
  'cuda:0: cuda:0 backend vs CPU backend (GEMM: cublas (/usr/local/cuda/lib64/libcublas.so.12, FP32 math))',
  '  sgemm cublas 64x64x64 nn                           C        max err  1.19e-07 (tol 1e-05)    0.0213 ms  ok',
  'cuda:0: 143 checks, 0 failed',
  'cuda:0: whole networks vs CPU, batch 8, 3 SGD steps (lr 0.002, momentum 0.9, wd 5e-4); tolerances: loss 2e-03, first gradients 1e-04, state 2e-02',
  '  parity resnet20-dw-scc        max loss diff 1.20e-06  max state diff 3.10e-05 (layer3.weight)',
  'cuda:0: 16 network checks, 0 failed',
  'cuda_check: op checks passed, network checks passed',
];

test('a passing run on cuda:0 reads as PASS with its counts', () => {
  const r = parse(passing);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /checks=143 failed=0 net_checks=16 net_failed=0/);
  assert.match(r.out, /verdict: PASS/);
});

test('backend names with several colons or none are read the same way', () => {
  for (const name of ['cuda', 'cuda:1', 'cuda:0:mig:2']) {
    const r = parse(passing.map((l) => l.replaceAll('cuda:0:', `${name}:`)));
    assert.equal(r.status, 0, `${name}: ${r.out}`);
    assert.match(r.out, /checks=143 failed=0 net_checks=16 net_failed=0/);
  }
});

test('failed op checks, failed network checks and a thrown check read as FAIL', () => {
  const cases: Array<[string[], RegExp]> = [
    [passing.map((l) => l.replace('143 checks, 0 failed', '143 checks, 3 failed')), /3 of 143 op checks failed/],
    [passing.map((l) => l.replace('16 network checks, 0 failed', '16 network checks, 1 failed')), /1 of 16 network checks failed/],
    [
      [...passing.slice(0, 4), '  conv: threw: CUDA error: an illegal memory access was encountered   FAIL', 'cuda:0: 90 checks, 1 failed', ...passing.slice(5)],
      /1 of 90 op checks failed/,
    ],
  ];
  for (const [lines, why] of cases) {
    const r = parse(lines);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, why);
  }
});

test('a run that stops early, checks nothing or finds no device reads as FAIL', () => {
  const cases: Array<[string[], RegExp]> = [
    [passing.slice(0, 4), /printed no op check count/],
    [passing.slice(0, 6), /network checks did not finish/],
    [passing.map((l) => l.replace('143 checks', '0 checks')), /ran 0 op checks/],
    [['build: cuda yes, archs [90], cuBLAS not used', 'skip: no CUDA device (no driver)'], /no usable CUDA device/],
    // a count indented as a check line is not the summary
    [['  cuda:0: 143 checks, 0 failed', '  cuda:0: 16 network checks, 0 failed'], /printed no op check count/],
  ];
  for (const [lines, why] of cases) {
    const r = parse(lines);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, why);
  }
});
