// `npm run bench -- ops [--openblas] [--quick]`: our SGEMM's GFLOP/s on 512^3 and on the
// GEMM shapes of ResNet-20's 3x3 convs at batch 128 (optionally beside OpenBLAS, loaded at
// run time, never a build dependency), and SCC forward+backward time against the same layer
// run as a masked dense 1x1 conv through the same SGEMM. Every figure is the best of repeated
// runs timed in C++; ratios come from runs made side by side in this process.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isTTY, textTable } from '../src/report/text-table.js';
import { benchScc, benchSgemm, opsInfo, setOpThreads } from '../src/engine/ops.js';

const SGEMM_SHAPES: { name: string; M: number; N: number; K: number }[] = [
  { name: 'square 512^3', M: 512, N: 512, K: 512 },
  // forward im2col GEMM of a 3x3 conv: M = Cout, K = Cin*9, N = batch*Ho*Wo (batch 128)
  { name: 'resnet20 stage1 3x3 16->16 @32x32', M: 16, N: 128 * 32 * 32, K: 16 * 9 },
  { name: 'resnet20 stage2 3x3 32->32 @16x16', M: 32, N: 128 * 16 * 16, K: 32 * 9 },
  { name: 'resnet20 stage3 3x3 64->64 @8x8', M: 64, N: 128 * 8 * 8, K: 64 * 9 },
  // per-image GEMMs, as the CPU conv runs them (one image per thread)
  { name: 'per image 3x3 64->64 @8x8', M: 64, N: 64, K: 576 },
  { name: 'per image 3x3 16->16 @32x32', M: 16, N: 1024, K: 144 },
];

function findOpenblas(): string | undefined {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu/openblas-pthread', '/usr/lib64', '/usr/lib'];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const hit = readdirSync(dir).find((f) => /^libopenblas.*\.so(\.\d+)*$/.test(f));
    if (hit) return join(dir, hit);
  }
  return undefined;
}

const gflops = (m: number, n: number, k: number, s: number) => (2 * m * n * k) / s / 1e9;
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

export async function run(flags: string[]): Promise<object> {
  const quick = flags.includes('--quick');
  const minSeconds = quick ? 0.1 : 0.4;
  const threadsFlag = flags.find((f) => f.startsWith('--threads='));
  if (threadsFlag) setOpThreads(Number(threadsFlag.split('=')[1]));
  const info = opsInfo();
  let openblas: string | undefined;
  if (flags.includes('--openblas')) {
    openblas = findOpenblas();
    if (!openblas) console.log('--openblas: no libopenblas.so found (apt-get install libopenblas-dev); skipping it');
  }
  console.log(`SGEMM kernel ${info.sgemmKernel}, ${info.threads} threads${openblas ? `, OpenBLAS ${openblas}` : ''}`);

  const sgemm = [];
  const t1: (string | number)[][] = [];
  for (const s of SGEMM_SHAPES) {
    const t = benchSgemm({ M: s.M, N: s.N, K: s.K, minSeconds, openblas });
    const ours = gflops(s.M, s.N, s.K, t.ours);
    const row: Record<string, unknown> = { ...s, oursSeconds: t.ours, oursGflops: round(ours, 1) };
    const cells: (string | number)[] = [s.name, `${s.M} x ${s.N} x ${s.K}`, round(ours, 1)];
    if (openblas && t.openblas !== undefined) {
      const theirs = gflops(s.M, s.N, s.K, t.openblas);
      Object.assign(row, { openblasSeconds: t.openblas, openblasGflops: round(theirs, 1), ratio: round(ours / theirs) });
      cells.push(round(theirs, 1), round(ours / theirs));
    }
    sgemm.push(row);
    t1.push(cells);
  }
  console.log(textTable(t1, { head: ['SGEMM shape', 'M x N x K', 'ours GFLOP/s', ...(openblas ? ['OpenBLAS GFLOP/s', 'ours/OpenBLAS'] : [])], align: ['left', 'left', 'right', 'right', 'right'], tty: isTTY() }));

  const scc = [];
  const [Cin, Cout, H, W, N] = [256, 256, 16, 16, 64];
  const t2: (string | number)[][] = [];
  for (const groups of [1, 2, 4, 8]) {
    const D = Cin / groups;
    // overlap 0.5 (s = D/2) for grouped layers; s = D for groups 1 would be the dense conv
    // itself, so groups 1 uses overlap 0.5 too (windows still wrap).
    const stride = Math.max(1, D / 2);
    const t = benchScc({ N, Cin, H, W, Cout, groups, stride, minSeconds });
    const sccTotal = t.sccForward + t.sccBackward;
    const denseTotal = t.denseForward + t.denseBackward;
    const ratio = sccTotal / (denseTotal / groups);
    scc.push({ groups, stride, ...t, ratio: round(ratio, 3) });
    const ms = (v: number) => round(v * 1e3, 2);
    t2.push([`groups ${groups} (D ${D})`, stride, ms(t.sccForward), ms(t.sccBackward), ms(t.denseForward), ms(t.denseBackward), round(ratio, 3)]);
  }
  console.log(
    textTable(t2, {
      head: ['SCC 256->256 16x16 b64', 's', 'SCC fwd ms', 'SCC bwd ms', 'dense fwd ms', 'dense bwd ms', 'SCC / (dense/groups)'],
      align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
      tty: isTTY(),
    }),
  );
  console.log('targets: SCC / (dense/groups) <= 1.25; ours/OpenBLAS >= 0.70');
  return { kernel: info.sgemmKernel, threads: info.threads, openblas: openblas ?? null, sgemm, scc };
}
