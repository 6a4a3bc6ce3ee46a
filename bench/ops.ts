// `npm run bench -- ops [--openblas] [--mkl] [--quick] [--threads=N]`: our SGEMM's GFLOP/s on
// 512^3 and on the GEMM shapes of ResNet-20's 3x3 convs at batch 128 (optionally beside
// OpenBLAS, loaded at run time, and beside MKL, timed by PyTorch in bench/peer/sgemm.py; neither
// is ever a build dependency), and SCC forward+backward time against the same layer run as a
// masked dense 1x1 conv through the same SGEMM (a 256->256 16x16 layer at groups 1-8, and
// MobileNetV1's few-pixel layers: 512 channels at 4x4, 1024 at 2x2). Every figure is the best of repeated runs;
// ratios come from runs made side by side in this run (ours and MKL alternate, shape by shape).
//
// --mkl runs bench/peer/.venv/bin/python (PYTHON=... picks another) with PyTorch's MKL on the
// same thread count. When our kernels are built for AVX2 (DSX_ISA=avx2) MKL is restricted to
// its AVX2 path too (MKL_ENABLE_INSTRUCTIONS=AVX2, unless that variable is already set), so an
// AVX-512 machine can compare the AVX2 paths; --mkl-isa=NAME sets the variable explicitly.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTTY, textTable } from '../src/report/text-table.js';
import { benchScc, benchSgemm, opsInfo, setOpThreads } from '../src/engine/ops.js';
import { buildInfo } from '../src/engine/index.js';

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

// SCC layers on few-pixel planes (co 0.5, Cout = Cin), timed against the same dense 1x1 conv.
const FEW_PIXEL_SCC: { C: number; HW: number; N: number; groups: number }[] = [
  { C: 512, HW: 4, N: 128, groups: 4 },
  { C: 1024, HW: 2, N: 128, groups: 4 },
];

type SccLayer = { N: number; Cin: number; H: number; W: number; Cout: number; groups: number; stride: number };

/** SCC forward+backward of a layer against its MACs' share of the same layer run dense
 * (interleaved in C++): the timings, the ratio, and a table row after its label. */
function sccAgainstDense(l: SccLayer, minSeconds: number) {
  const timing = benchScc({ ...l, minSeconds });
  const ratio = round((timing.sccForward + timing.sccBackward) / ((timing.denseForward + timing.denseBackward) / l.groups), 3);
  const ms = (v: number) => round(v * 1e3, 2);
  const row = [l.stride, ms(timing.sccForward), ms(timing.sccBackward), ms(timing.denseForward), ms(timing.denseBackward), ratio];
  return { timing, ratio, row };
}

function sccTable(title: string, rows: (string | number)[][]): string {
  return textTable(rows, {
    head: [title, 's', 'SCC fwd ms', 'SCC bwd ms', 'dense fwd ms', 'dense bwd ms', 'SCC / (dense/groups)'],
    align: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    tty: isTTY(),
  });
}

function findOpenblas(): string | undefined {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu/openblas-pthread', '/usr/lib64', '/usr/lib'];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const hit = readdirSync(dir).find((f) => /^libopenblas.*\.so(\.\d+)*$/.test(f));
    if (hit) return join(dir, hit);
  }
  return undefined;
}

const here = dirname(fileURLToPath(import.meta.url));

/** MKL through PyTorch in a persistent child (bench/peer/sgemm.py --serve): one shape per request. */
interface MklPeer {
  label: string;
  time(M: number, N: number, K: number, minSeconds: number): Promise<number>;
  close(): void;
}

async function startMkl(threads: number, isa: string | undefined): Promise<MklPeer | string> {
  const python = process.env.PYTHON ?? join(here, 'peer', '.venv', 'bin', 'python');
  if (!existsSync(python))
    return `no ${python}: MKL is timed through PyTorch in a venv (python3 -m venv bench/peer/.venv && bench/peer/.venv/bin/pip install torch; PYTHON=/path/to/python3 picks another)`;
  const script = join(here, 'peer', 'sgemm.py');
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads) };
  if (isa) env.MKL_ENABLE_INSTRUCTIONS = isa;
  // MKL's own banner (MKL_VERBOSE=1) says which MKL it is; on AMD CPUs it names no ISA, so the
  // restriction shows in the timings (README in bench/peer).
  const probe = await new Promise<string>((resolve) => {
    const c = spawn(python, [script, '--probe', '--threads', String(threads)], { env: { ...env, MKL_VERBOSE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
    c.on('error', (e) => resolve(`error: ${e.message}`));
  });
  const banner = probe.split('\n').find((l) => l.startsWith('MKL_VERBOSE oneMKL') || l.startsWith('MKL_VERBOSE Intel'));
  const last = probe.trim().split('\n').pop() ?? '';
  let torchVersion = '?';
  try {
    const j = JSON.parse(last) as { torch: string; mkl: boolean };
    if (!j.mkl) return `${python}: PyTorch ${j.torch} has no MKL`;
    torchVersion = j.torch;
  } catch {
    return `${python} ${script} --probe failed: ${probe.trim().slice(-400)}`;
  }
  const child: ChildProcess = spawn(python, [script, '--serve', '--threads', String(threads)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Interface = createInterface({ input: child.stdout! });
  const queue: ((l: string) => void)[] = [];
  lines.on('line', (l) => queue.shift()?.(l));
  const next = () => new Promise<string>((resolve) => queue.push(resolve));
  const ready = JSON.parse(await next()) as { ready: boolean; threads: number };
  if (ready.threads !== threads) return `PyTorch runs ${ready.threads} threads, not ${threads}`;
  const mklName = banner ? banner.replace(/^MKL_VERBOSE /, '').replace(/ Product build.*$/, '') : 'MKL';
  return {
    label: `${mklName} via PyTorch ${torchVersion}, ${threads} threads, MKL_ENABLE_INSTRUCTIONS=${isa ?? '(unset)'}`,
    async time(M, N, K, minSeconds) {
      const reply = next();
      child.stdin!.write(`${JSON.stringify({ M, N, K, minSeconds })}\n`);
      return (JSON.parse(await reply) as { seconds: number }).seconds;
    },
    close() {
      child.stdin!.end();
      lines.close();
    },
  };
}

const gflops = (m: number, n: number, k: number, s: number) => (2 * m * n * k) / s / 1e9;
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

export async function run(flags: string[]): Promise<object> {
  const quick = flags.includes('--quick');
  const minSeconds = quick ? 0.1 : 0.4;
  const threadsFlag = flags.find((f) => f.startsWith('--threads='));
  if (threadsFlag) setOpThreads(Number(threadsFlag.split('=')[1]));
  const info = opsInfo();
  const cpuIsa = buildInfo().cpuIsa;
  let openblas: string | undefined;
  if (flags.includes('--openblas')) {
    openblas = findOpenblas();
    if (!openblas) console.log('--openblas: no libopenblas.so found (apt-get install libopenblas-dev); skipping it');
  }
  console.log(`SGEMM kernel ${info.sgemmKernel} (CPU kernels built for ${cpuIsa}), ${info.threads} threads${openblas ? `, OpenBLAS ${openblas}` : ''}`);
  let mkl: MklPeer | undefined;
  let mklLabel: string | null = null;
  if (flags.includes('--mkl') || flags.some((f) => f.startsWith('--mkl-isa='))) {
    const isaFlag = flags.find((f) => f.startsWith('--mkl-isa='));
    const isa = isaFlag ? isaFlag.split('=')[1] : (process.env.MKL_ENABLE_INSTRUCTIONS ?? (cpuIsa === 'avx2+fma' ? 'AVX2' : undefined));
    const peer = await startMkl(info.threads, isa);
    if (typeof peer === 'string') console.log(`--mkl: ${peer}; skipping MKL`);
    else {
      mkl = peer;
      mklLabel = peer.label;
      console.log(`MKL: ${peer.label}`);
    }
  }

  const sgemm = [];
  const t1: (string | number)[][] = [];
  // with MKL: rounds alternate ours and MKL on each shape, and each keeps its best (more
  // rounds in a full run: on a shared machine each side needs one undisturbed round)
  const rounds = mkl ? (quick ? 3 : 7) : 1;
  for (const s of SGEMM_SHAPES) {
    let oursS = Infinity;
    let blasS: number | undefined;
    let mklS = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t = benchSgemm({ M: s.M, N: s.N, K: s.K, minSeconds: minSeconds / rounds, openblas });
      oursS = Math.min(oursS, t.ours);
      if (t.openblas !== undefined) blasS = Math.min(blasS ?? Infinity, t.openblas);
      if (mkl) mklS = Math.min(mklS, await mkl.time(s.M, s.N, s.K, minSeconds / rounds));
    }
    const ours = gflops(s.M, s.N, s.K, oursS);
    const row: Record<string, unknown> = { ...s, oursSeconds: oursS, oursGflops: round(ours, 1) };
    const cells: (string | number)[] = [s.name, `${s.M} x ${s.N} x ${s.K}`, round(ours, 1)];
    if (openblas && blasS !== undefined) {
      const theirs = gflops(s.M, s.N, s.K, blasS);
      Object.assign(row, { openblasSeconds: blasS, openblasGflops: round(theirs, 1), ratio: round(ours / theirs) });
      cells.push(round(theirs, 1), round(ours / theirs));
    }
    if (mkl) {
      const theirs = gflops(s.M, s.N, s.K, mklS);
      Object.assign(row, { mklSeconds: mklS, mklGflops: round(theirs, 1), mklRatio: round(ours / theirs, 3) });
      cells.push(round(theirs, 1), round(ours / theirs, 3));
    }
    sgemm.push(row);
    t1.push(cells);
  }
  mkl?.close();
  const head = ['SGEMM shape', 'M x N x K', 'ours GFLOP/s', ...(openblas ? ['OpenBLAS GFLOP/s', 'ours/OpenBLAS'] : []), ...(mkl ? ['MKL GFLOP/s', 'ours/MKL'] : [])];
  console.log(textTable(t1, { head, align: ['left', 'left', ...head.slice(2).map(() => 'right' as const)], tty: isTTY() }));
  if (flags.includes('--sgemm-only')) {
    console.log('targets: ours/OpenBLAS >= 0.70; ours/MKL >= 0.95');
    return { kernel: info.sgemmKernel, isa: cpuIsa, threads: info.threads, openblas: openblas ?? null, mkl: mklLabel, sgemm };
  }

  const [Cin, Cout, H, W, N] = [256, 256, 16, 16, 64];
  const scc = [];
  const t2: (string | number)[][] = [];
  for (const groups of [1, 2, 4, 8]) {
    const D = Cin / groups;
    // overlap 0.5 (s = D/2) for grouped layers; s = D for groups 1 would be the dense conv
    // itself, so groups 1 uses overlap 0.5 too (windows still wrap).
    const stride = Math.max(1, D / 2);
    const { timing, ratio, row } = sccAgainstDense({ N, Cin, H, W, Cout, groups, stride }, minSeconds);
    scc.push({ groups, stride, ...timing, ratio });
    t2.push([`groups ${groups} (D ${D})`, ...row]);
  }
  console.log(sccTable('SCC 256->256 16x16 b64', t2));

  // Few-pixel planes, as MobileNetV1's last stages have them (CIFAR stem: 512 channels at 4x4,
  // 1024 at 2x2; batch 128): planes under a vector take other kernels than the 16x16 layer
  // above, and a slowdown there (once 5-8x on 2x2 planes) shows in no other row.
  const sccFew = [];
  const t3: (string | number)[][] = [];
  for (const l of FEW_PIXEL_SCC) {
    const stride = l.C / l.groups / 2;
    const shape = { N: l.N, Cin: l.C, H: l.HW, W: l.HW, Cout: l.C, groups: l.groups, stride };
    const { timing, ratio, row } = sccAgainstDense(shape, minSeconds);
    sccFew.push({ ...l, stride, ...timing, ratio });
    t3.push([`${l.C}->${l.C} ${l.HW}x${l.HW} b${l.N} groups ${l.groups}`, ...row]);
  }
  console.log(sccTable('SCC few-pixel (MobileNetV1)', t3));
  console.log('targets: SCC / (dense/groups) <= 1.25; ours/OpenBLAS >= 0.70; ours/MKL >= 0.95');
  return { kernel: info.sgemmKernel, isa: cpuIsa, threads: info.threads, openblas: openblas ?? null, mkl: mklLabel, sgemm, scc, sccFewPixel: sccFew };
}
