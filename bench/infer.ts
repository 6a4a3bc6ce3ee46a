// `npm run bench -- infer [--threads=N] [--repeat=N] [--quick]`: inference latency at batch 1
// and batch 64, our engine against ONNX Runtime running our exported graph of the same
// network, with the same number of threads, side by side in one run (each network and
// batch: ours, then ONNX Runtime, alternating --repeat times; the figure is the median of
// the per-run medians). Target: ours at or below ONNX Runtime for every network, at batch 1
// and at batch 64 (README, Performance). ONNX Runtime picks its kernels for the CPU at run
// time and has no switch to restrict them, so on an AVX-512 machine a DSX_ISA=avx2 build of
// ours runs against ONNX Runtime's AVX-512 kernels: the line under the table says so.
import { isTTY, textTable } from '../src/report/text-table.js';
import { buildModel, parseVariant } from '../src/models/index.js';
import { countTotals } from '../src/cost/index.js';
import { measureLatency, machineDescription, type Runtime } from '../src/deploy/latency.js';
import { buildInfo } from '../src/engine/index.js';

const NETWORKS = [
  { model: 'resnet20', variant: 'std' },
  { model: 'resnet20', variant: 'dw-pw' },
  { model: 'resnet20', variant: 'dw-scc:cg=2,co=0.5' },
  { model: 'mobilenetv1', variant: 'dw-scc:cg=4,co=0.5' },
];
const BATCHES = [1, 64];

function flag(flags: string[], name: string, dflt: number): number {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : dflt;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function run(flags: string[]): Promise<object> {
  const threads = flag(flags, 'threads', 1);
  const repeat = flag(flags, 'repeat', 3);
  const quick = flags.includes('--quick');
  const rows = [];
  for (const n of NETWORKS) {
    const spec = buildModel(n.model, { variants: parseVariant(n.variant), inChannels: 3, inputSize: 32, classes: 10 });
    for (const batch of BATCHES) {
      const opts = { batch, threads, warmup: batch === 1 ? 20 : 3, reps: quick ? 5 : batch === 1 ? 100 : 15 };
      const runs: Record<Runtime, number[]> = { native: [], onnxruntime: [] };
      const spreads: Record<Runtime, [number, number][]> = { native: [], onnxruntime: [] };
      for (let r = 0; r < repeat; r++) {
        for (const rt of ['native', 'onnxruntime'] as Runtime[]) {
          const m = await measureLatency(spec, rt, opts);
          runs[rt].push(m.medianMs);
          spreads[rt].push([m.p10Ms, m.p90Ms]);
        }
      }
      const ours = median(runs.native);
      const ort = median(runs.onnxruntime);
      const target = 1.0;
      rows.push({
        model: n.model,
        variant: n.variant,
        batch,
        threads,
        macs: countTotals(spec).macs,
        oursMs: ours,
        onnxRuntimeMs: ort,
        ratio: ours / ort,
        target,
        met: ours / ort <= target,
        oursRunsMs: runs.native,
        onnxRuntimeRunsMs: runs.onnxruntime,
        oursSpreadMs: spreads.native,
        onnxRuntimeSpreadMs: spreads.onnxruntime,
        reps: opts.reps,
        warmup: opts.warmup,
      });
      const last = rows[rows.length - 1]!;
      console.log(`${n.model} ${n.variant} batch ${batch}: ours ${ours.toFixed(3)} ms, ONNX Runtime ${ort.toFixed(3)} ms, ratio ${last.ratio.toFixed(2)}`);
    }
  }
  const table: (string | number)[][] = [];
  for (const r of rows) {
    table.push([
      `${r.model} ${r.variant}`,
      r.batch,
      (r.macs / 1e6).toFixed(1) + 'M',
      r.oursMs.toFixed(3),
      r.onnxRuntimeMs.toFixed(3),
      r.ratio.toFixed(2),
      `<= ${r.target.toFixed(2)}: ${r.met ? 'met' : 'MISSED'}`,
    ]);
  }
  console.log(`threads: ${threads}; median of ${repeat} alternating runs, each the median of its repetitions; ${machineDescription()}`);
  console.log(
    textTable(table, {
      head: ['network', 'batch', 'MACs', 'ours ms', 'ONNX Runtime ms', 'ours/ORT', 'target'],
      align: ['left', 'right', 'right', 'right', 'right', 'right', 'left'],
      tty: isTTY(),
    }),
  );
  const b = buildInfo();
  if (b.isaTarget !== 'native')
    console.log(
      `ours ran kernels built for ${b.cpuIsa} (DSX_ISA=${b.isaTarget}); ONNX Runtime chose its own kernels for this CPU (it has no switch to restrict them)`,
    );
  return { threads, repeat, isa: { ours: b.cpuIsa, dsxIsa: b.isaTarget }, rows };
}
