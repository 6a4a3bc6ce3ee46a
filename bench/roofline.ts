// `npm run bench -- roofline [--batch=128] [--infer-batch=1,64] [--threads=N] [--only=TEXT] [--quick] [--json]`:
// how far each network runs from what this machine allows, op family by op family.
//
// Ceilings, measured first in the same process on the same threads: the FMA peak of a
// register-only loop (native/src/addon_bench.cc, on the vector ISA the build compiled for)
// and a streaming copy's bandwidth (bytes read + written, buffers far above the last-level
// cache); each is the sum over threads of each thread's best short round, so a noisy
// machine lowers them less than it lowers a long window.
// Bound: per layer, max(FLOPs / peak, minimum bytes / bandwidth) (src/cost/roofline.ts), for
// training (forward + backward, plus the SGD update) and inference (the forward); a family's
// bound and the network's are sums of their layers' bounds.
// Measured: the executor's profile (every step synchronised and timed, engine/profile.ts) of
// a few training steps and inference forwards on synthetic data, per layer (the median over
// the steps), grouped the same way; the network's measured time is a step's median wall
// time. Reached = bound / measured: 100% is the machine's limit. BN, ReLU and add share a
// row because the executor runs them fused (a fused step's time lands on one of its
// layers), and a BN+ReLU folded into the conv that reads it is timed in that conv's row.
import os from 'node:os';
import { isTTY, textTable } from '../src/report/text-table.js';
import { buildModel, parseVariant } from '../src/models/index.js';
import type { ModelSpec } from '../src/models/spec.js';
import {
  boundSeconds,
  networkBoundSeconds,
  networkWork,
  opFamily,
  type Ceilings,
  type NetworkWork,
  type OpFamily,
  type Work,
} from '../src/cost/roofline.js';
import { benchPeak, benchStream, setOpThreads } from '../src/engine/ops.js';
import { profileNet, type NetProfile } from '../src/engine/profile.js';

const NETWORKS = [
  { model: 'resnet20', variant: 'std' },
  { model: 'resnet20', variant: 'dw-pw' },
  { model: 'resnet20', variant: 'dw-gpw:cg=4' },
  { model: 'resnet20', variant: 'dw-scc:cg=2,co=0.5' },
  { model: 'resnet20', variant: 'dw-scc:cg=8,co=0.5' },
  { model: 'mobilenetv1', variant: 'dw-scc:cg=4,co=0.5' },
];

/** Table rows: families, with BN and ReLU/add together (the executor fuses them). */
const ROWS: { key: string; label: string; families: OpFamily[] }[] = [
  { key: 'conv', label: 'conv (dense)', families: ['conv'] },
  { key: 'depthwise', label: 'depthwise', families: ['depthwise'] },
  { key: 'scc', label: 'scc', families: ['scc'] },
  { key: 'grouped1x1', label: 'grouped 1x1 + shuffle', families: ['grouped1x1'] },
  { key: 'bn-eltwise', label: 'bn + relu/add', families: ['bn', 'eltwise'] },
  { key: 'pool', label: 'pool', families: ['pool'] },
  { key: 'linear', label: 'linear', families: ['linear'] },
];

interface Cell {
  measuredSeconds: number;
  /** null where there is nothing the machine must do (gradient clearing, the rest) */
  boundSeconds: number | null;
  flops: number;
  bytes: number;
  /** bound / measured */
  reached: number | null;
  /** the share of the bound that is memory-bound layers' (the rest: compute-bound) */
  memoryShare: number | null;
}

interface ModeResult {
  mode: 'train' | 'infer';
  batch: number;
  steps: number;
  rows: Record<string, Cell>;
  network: Cell;
}

function flagValue(flags: string[], name: string): string | undefined {
  return flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function positive(flags: string[], name: string, dflt: number, zeroOk = false): number {
  const v = flagValue(flags, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) {
    console.error(`--${name} must be a ${zeroOk ? 'non-negative' : 'positive'} integer, got "${v}"`);
    process.exit(2);
  }
  return n;
}

const cell = (measured: number, bound: number | null, flops = 0, bytes = 0, memorySeconds = 0): Cell => ({
  measuredSeconds: measured,
  boundSeconds: bound,
  flops,
  bytes,
  reached: bound === null || measured <= 0 ? null : bound / measured,
  memoryShare: bound === null || bound <= 0 ? null : memorySeconds / bound,
});

/** Bounds of several passes summed, with the memory-bound part kept apart. */
function boundSum(works: Work[], c: Ceilings) {
  let seconds = 0,
    memory = 0,
    flops = 0,
    bytes = 0;
  for (const w of works) {
    const b = boundSeconds(w, c);
    seconds += b.seconds;
    if (b.by === 'memory') memory += b.seconds;
    flops += w.flops;
    bytes += w.bytes;
  }
  return { seconds, memory, flops, bytes };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One profile set against the bounds of the same network: each layer's time, and the
 * step's, is the median over the timed steps (a step preempted on a shared machine is one
 * outlier, not a share of the mean). */
function attribute(spec: ModelSpec, work: NetworkWork, p: NetProfile, c: Ceilings): ModeResult {
  const mode = p.mode === 'train' ? 'training' : 'inference';
  const steps = p.stepSeconds.length;
  const L = spec.layers.length;
  const at = (k: number) => median(p.stepLayerSeconds.map((row) => row[k]!));
  const rows: Record<string, Cell> = {};
  for (const row of ROWS) {
    let measured = 0;
    const works: Work[] = [];
    spec.layers.forEach((layer, i) => {
      if (!row.families.includes(opFamily(layer))) return;
      measured += at(i);
      works.push(work.layers[i]![mode]);
    });
    const b = boundSum(works, c);
    if (measured > 0 || b.seconds > 0) rows[row.key] = cell(measured, b.seconds, b.flops, b.bytes, b.memory);
  }
  const wall = median(p.stepSeconds);
  if (p.mode === 'train') {
    const clear = at(L);
    const sgd = at(L + 1);
    const b = boundSum([work.update], c);
    rows.update = cell(sgd, b.seconds, b.flops, b.bytes, b.memory);
    rows.clear = cell(clear, null);
  }
  // the loss, and whatever the profile does not time: per step, its wall time less what
  // the profile timed in it (so the rows' medians need not add up to the network's)
  const untimed = p.stepSeconds.map((w, k) => w - p.stepLayerSeconds[k]!.reduce((a, b) => a + b, 0));
  rows.rest = cell(Math.max(0, median(untimed)), null);
  const all = boundSum([...work.layers.map((l) => l[mode]), ...(p.mode === 'train' ? [work.update] : [])], c);
  // the network's bound is the cost model's (networkBoundSeconds): the same sum
  const bound = networkBoundSeconds(work, c, mode);
  return { mode: p.mode, batch: p.batch, steps, rows, network: cell(wall, bound, all.flops, all.bytes, all.memory) };
}

const ROW_LABELS: Record<string, string> = {
  ...Object.fromEntries(ROWS.map((r) => [r.key, r.label])),
  update: 'sgd update',
  clear: 'clear grads',
  rest: 'untimed (loss, gaps)',
};

function ms(s: number): string {
  return s >= 0.1 ? (s * 1e3).toFixed(0) : s >= 0.001 ? (s * 1e3).toFixed(2) : (s * 1e3).toFixed(3);
}

function render(name: string, modes: ModeResult[]): string {
  const keys = [...Object.keys(ROW_LABELS)].filter((k) => modes.some((m) => m.rows[k]));
  const line = (label: string, get: (m: ModeResult) => Cell | undefined) => [
    label,
    ...modes.flatMap((m) => {
      const c = get(m);
      if (!c) return ['', '', ''];
      return [
        ms(c.measuredSeconds),
        c.boundSeconds === null ? '-' : `${ms(c.boundSeconds)} ${c.memoryShare !== null && c.memoryShare >= 0.5 ? 'm' : 'c'}`,
        c.reached === null ? '-' : `${(100 * c.reached).toFixed(c.reached < 0.1 ? 1 : 0)}%`,
      ];
    }),
  ];
  const rows = keys.map((k) => line(ROW_LABELS[k]!, (m) => m.rows[k]));
  rows.push(line('network', (m) => m.network));
  const head = [name, ...modes.flatMap((m) => [`${m.mode} b${m.batch} ms`, 'bound ms', 'reached'])];
  return textTable(rows, { head, align: ['left', ...head.slice(1).map(() => 'right' as const)], tty: isTTY() });
}

export async function run(flags: string[]): Promise<object> {
  const quick = flags.includes('--quick');
  const json = flags.includes('--json');
  const say = (s: string) => (json ? process.stderr.write(`${s}\n`) : console.log(s));
  const batch = positive(flags, 'batch', 128);
  const threadsAsked = positive(flags, 'threads', os.availableParallelism(), true);
  const inferBatches = (flagValue(flags, 'infer-batch') ?? '1,64').split(',').map(Number);
  if (inferBatches.some((b) => !Number.isInteger(b) || b < 1)) {
    console.error(`--infer-batch must be positive integers separated by commas, got "${flagValue(flags, 'infer-batch')}"`);
    process.exit(2);
  }
  const only = flagValue(flags, 'only');
  const networks = NETWORKS.filter((n) => !only || `${n.model} ${n.variant}`.includes(only));
  if (networks.length === 0) {
    console.error(`--only=${only} matches none of: ${NETWORKS.map((n) => `${n.model} ${n.variant}`).join(', ')}`);
    process.exit(2);
  }

  const threads = setOpThreads(threadsAsked);
  const minSeconds = quick ? 0.2 : 1;
  const peak = benchPeak({ minSeconds });
  const stream = benchStream({ minSeconds });
  const ceilings: Ceilings = { gflops: peak.gflops, gbs: stream.gbs };
  const ridge = ceilings.gflops / ceilings.gbs;
  say(
    `ceilings (${threads} thread(s)): FMA peak ${peak.gflops.toFixed(1)} GFLOP/s (${peak.isa} register loop), ` +
      `copy ${stream.gbs.toFixed(1)} GB/s (read + write, ${(stream.bufferBytes / 2 ** 20).toFixed(0)} MiB buffers); ` +
      `ridge ${ridge.toFixed(1)} FLOP/byte`,
  );
  const trainSteps = quick ? 1 : 5;
  const results = [];
  for (const n of networks) {
    const spec = buildModel(n.model, { variants: parseVariant(n.variant), inChannels: 3, inputSize: 32, classes: 10 });
    const modes: ModeResult[] = [];
    const train = await profileNet(spec, { mode: 'train', batch, threads, warmup: 1, steps: trainSteps });
    modes.push(attribute(spec, networkWork(spec, batch), train, ceilings));
    for (const b of inferBatches) {
      const steps = quick ? 3 : b <= 8 ? 50 : 5;
      const p = await profileNet(spec, { mode: 'infer', batch: b, threads, warmup: b <= 8 ? 5 : 1, steps });
      modes.push(attribute(spec, networkWork(spec, b), p, ceilings));
    }
    const name = `${n.model} ${n.variant}`;
    say(`\n${render(name, modes)}`);
    results.push({ model: n.model, variant: n.variant, input: [3, 32, 32], modes });
  }
  say(
    '\nreached = bound / measured; bound = max(FLOPs / peak, minimum bytes / bandwidth) per layer, summed ' +
      '(c: mostly compute-bound layers, m: mostly memory-bound). ' +
      'Fusions skip traffic the bound counts, so the bn + relu/add row can pass 100%: a BN+ReLU folded into ' +
      'its reader is timed in the reader\'s row (in inference it has no step of its own).',
  );
  const result = {
    threads,
    quick,
    ceilings: { isa: peak.isa, gflops: peak.gflops, gbs: stream.gbs, bufferBytes: stream.bufferBytes, ridgeFlopsPerByte: ridge },
    networks: results,
  };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  return result;
}
