// `npm run bench -- train [--peer] [--quick] [--repeat=N] [--threads=N] [--batch=N] [--only=TEXT]`: CPU training
// throughput (images/s, steady state) and peak memory of the issue-7 networks, each trained
// in a child process of its own so that its resident-set high-water mark is its own. With
// --peer, bench/peer/torch_train.py trains the same network with PyTorch right after ours
// (side by side, one network at a time) and the table shows ours/PyTorch.
//
// Method: the network trains on synthetic uint8 images (a pool of a few batches, cycled
// epoch after epoch, no augmentation, constant lr) through the engine's public train(). The
// engine's progress callback reports the step count and the seconds since training began,
// both taken in C++ after a step finished, at most every 0.25 s. The first `warmup` steps
// are discarded; the rest is cut at progress reports into windows of at least
// `windowBatches` steps, and images/s is the median over windows of steps*batch/seconds.
// Peak memory is process.resourceUsage().maxRSS of the child (Node, tsx and the addon
// included); the child's RSS just before training is recorded as its baseline.
//
// This file is also the child: `node --import tsx bench/train.ts --child '<json>'` trains
// one network and prints one JSON line.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { isTTY, textTable } from '../src/report/text-table.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD_FLAG = '--dsx-train-child';

/** The networks the training benchmark compares with the PyTorch peer. */
const NETWORKS: { model: string; variant: string }[] = [
  { model: 'resnet20', variant: 'std' },
  { model: 'resnet20', variant: 'dw-pw' },
  { model: 'resnet20', variant: 'dw-scc:cg=2,co=0.5' },
  { model: 'vgg16', variant: 'dw-scc:cg=4,co=0.5' },
];
const INPUT_CHANNELS = [1, 3];
const SIZE = 32;
const CLASSES = 10;
const LR = 0.01;
const POOL_BATCHES = 4;

interface ChildConfig {
  model: string;
  variant: string;
  channels: number;
  batch: number;
  threads: number;
  warmup: number;
  windows: number;
  windowBatches: number;
}

/** One network's figures, ours or PyTorch's (bench/peer/torch_train.py prints the same keys). */
export interface RunRow {
  engine: string;
  model: string;
  variant: string;
  input: string;
  batch: number;
  threads: number;
  params: number;
  warmupBatches: number;
  windowBatches: number;
  windowImagesPerSecond: number[];
  imagesPerSecond: number;
  peakRssMiB: number;
  baselineRssMiB: number;
  seconds: number;
  [extra: string]: unknown;
}

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Deterministic random bytes (xorshift32), so runs see the same data. */
function randomBytes(n: number, seed: number, mod = 256): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x >>> 8) % mod;
  }
  return out;
}

// ------------------------------------------------------------------ child: one network

async function child(cfg: ChildConfig): Promise<RunRow> {
  const { train, paramCount } = await import('../src/engine/index.js');
  const { buildModel, parseVariant } = await import('../src/models/index.js');
  const { countCost } = await import('../src/cost/index.js');
  const spec = buildModel(cfg.model, {
    inChannels: cfg.channels,
    inputSize: SIZE,
    classes: CLASSES,
    variants: parseVariant(cfg.variant),
  });
  const B = cfg.batch;
  const count = POOL_BATCHES * B;
  const shape: [number, number, number] = [cfg.channels, SIZE, SIZE];
  const data = {
    name: 'bench/random',
    count,
    shape,
    classes: CLASSES,
    images: randomBytes(count * cfg.channels * SIZE * SIZE, 1),
    labels: randomBytes(count, 2, CLASSES),
    mean: Array<number>(cfg.channels).fill(0.5),
    std: Array<number>(cfg.channels).fill(0.25),
  };
  const empty = { ...data, name: 'bench/none', count: 0, images: new Uint8Array(0), labels: new Uint8Array(0) };
  const totalSteps = cfg.warmup + cfg.windows * cfg.windowBatches;
  const epochs = Math.ceil(totalSteps / POOL_BATCHES);
  const reports: { step: number; elapsed: number }[] = [];
  const baselineRss = process.memoryUsage().rss / 2 ** 20;
  const result = await train({
    spec,
    recipe: {
      epochs,
      batchSize: B,
      lr: LR,
      momentum: 0.9,
      nesterov: false,
      weightDecay: 5e-4,
      decayBnAndBias: false,
      schedule: { kind: 'constant' },
      warmupEpochs: 0,
      seed: 0,
      threads: cfg.threads,
      augment: { cropPadding: 0, flip: false },
    },
    train: data,
    test: empty,
    device: 'cpu',
    evalLastOnly: true,
    onProgress: (p) => reports.push({ step: (p.epoch - 1) * p.batches + p.batch, elapsed: p.elapsed }),
  });
  if (result.status !== 'done') throw new Error(`${cfg.model} ${cfg.variant}: training ${result.status}: ${result.message}`);
  const peakRss = process.resourceUsage().maxRSS / 1024; // KiB -> MiB

  // windows between progress reports, after the warm-up steps
  const windows: number[] = [];
  let start = reports.find((r) => r.step === cfg.warmup) ?? reports.find((r) => r.step > cfg.warmup);
  for (const r of reports) {
    if (!start || r.step <= start.step) continue;
    if (r.step - start.step >= cfg.windowBatches) {
      windows.push(((r.step - start.step) * B) / (r.elapsed - start.elapsed));
      start = r;
    }
  }
  return {
    engine: 'dsxplore',
    device: result.device,
    model: cfg.model,
    variant: cfg.variant,
    input: `${cfg.channels}x${SIZE}x${SIZE}`,
    batch: B,
    threads: result.threads,
    params: countCost(spec).params,
    engineParams: paramCount(spec),
    warmupBatches: cfg.warmup,
    windowBatches: cfg.windowBatches,
    windowImagesPerSecond: windows.map((v) => round(v)),
    imagesPerSecond: round(median(windows)),
    wholeRunImagesPerSecond: round(result.imagesPerSecond),
    peakRssMiB: round(peakRss),
    baselineRssMiB: round(baselineRss),
    finalLoss: round(result.trainLoss, 4),
    seconds: round(result.seconds, 3),
  };
}

// ------------------------------------------------------------------ parent

/** The run with the highest images/s, carrying the highest peak memory of all runs. */
function best(runs: RunRow[]): RunRow {
  const top = runs.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
  const peak = Math.max(...runs.map((r) => r.peakRssMiB));
  return { ...top, peakRssMiB: peak, repeats: runs.length };
}

function lastJsonLine(stdout: string): unknown {
  const lines = stdout.trim().split('\n').filter((l) => l.trim().startsWith('{'));
  if (!lines.length) throw new Error('no JSON line on stdout');
  return JSON.parse(lines[lines.length - 1]!);
}

function runOurs(cfg: ChildConfig): RunRow {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(cfg)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 2 ** 20,
  });
  if (r.status !== 0) throw new Error(`ours: ${cfg.model} ${cfg.variant} ${cfg.channels}ch failed (exit ${r.status ?? r.signal})`);
  return lastJsonLine(r.stdout) as RunRow;
}

function runPeer(cfg: ChildConfig, python: string): RunRow {
  const script = join(here, 'peer', 'torch_train.py');
  const args = [
    script,
    '--model', cfg.model,
    '--variant', cfg.variant,
    '--channels', String(cfg.channels),
    '--size', String(SIZE),
    '--classes', String(CLASSES),
    '--batch', String(cfg.batch),
    '--threads', String(cfg.threads),
    '--lr', String(LR),
    '--warmup', String(cfg.warmup),
    '--windows', String(cfg.windows),
    '--window-batches', String(cfg.windowBatches),
    '--pool-batches', String(POOL_BATCHES),
  ];
  const r = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`PyTorch peer: ${cfg.model} ${cfg.variant} ${cfg.channels}ch failed (exit ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ''})`);
  return lastJsonLine(r.stdout) as RunRow;
}

function flagValue(flags: string[], name: string): number | undefined {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  if (!f) return undefined;
  const v = Number(f.slice(name.length + 3));
  if (!Number.isInteger(v) || v < 0) {
    console.error(`--${name} must be an integer >= 0, got "${f.slice(name.length + 3)}"`);
    process.exit(2);
  }
  return v;
}

export async function run(flags: string[]): Promise<object> {
  const quick = flags.includes('--quick');
  const peer = flags.includes('--peer');
  const threads = flagValue(flags, 'threads') || os.cpus().length;
  const batch = flagValue(flags, 'batch') || 128;
  const only = flags.find((f) => f.startsWith('--only='))?.slice(7); // e.g. --only=vgg16 (substring of "model variant")
  const python = process.env.PYTHON ?? 'python3';
  const warmup = quick ? 2 : 3;
  const windows = quick ? 3 : 5;
  const windowBatches = quick ? 2 : 4;
  const repeat = flagValue(flags, 'repeat') || 1;
  const method =
    `each network trained in its own child process on synthetic uint8 images (${POOL_BATCHES} batches cycled, ` +
    `no augmentation, SGD lr ${LR} momentum 0.9 wd 5e-4 on conv/linear weights, constant lr), batch ${batch}, ` +
    `${threads} threads; ${warmup} warm-up steps discarded, then ${windows} windows of ${windowBatches} steps; ` +
    `images/s = median over windows of steps*batch/seconds` +
    (repeat > 1 ? `, best of ${repeat} alternating runs of ours and PyTorch (peak memory: highest of them)` : '') +
    ` (ours: step counts and seconds from the engine's ` +
    `progress reports, taken in C++; PyTorch: perf_counter around each step); peak memory = maxRSS of the ` +
    `training process (runtime included: Node+tsx+addon for ours, Python+torch for PyTorch), ` +
    `"+train" = peak minus the RSS just before training. PyTorch SCC = dense 1x1 conv with a fixed 0/1 band ` +
    `mask multiplied into the weight every forward.`;
  console.log(`method: ${method}`);
  if (peer) console.log(`peer: ${python} bench/peer/torch_train.py (run after ours, network by network)`);

  const rows: Record<string, unknown>[] = [];
  const head = peer
    ? ['network', 'input', 'params ours / torch', 'ours img/s', 'torch img/s', 'ours/torch', 'target',
       ...(repeat > 1 ? [`median ratio (${repeat} runs)`] : []), 'ours peak MiB (+train)', 'torch peak MiB (+train)']
    : ['network', 'input', 'params', 'ours img/s', 'windows', 'peak MiB (+train)'];
  const table: (string | number)[][] = [];
  for (const net of NETWORKS) {
    for (const channels of INPUT_CHANNELS) {
      const name = `${net.model} ${net.variant}`;
      if (only && !name.includes(only)) continue;
      const cfg: ChildConfig = { ...net, channels, batch, threads, warmup, windows, windowBatches };
      // ours and PyTorch alternate `repeat` times; the best median of each side is kept, the
      // least disturbed by other load on the machine; peak memory is the highest seen
      const oursRuns: RunRow[] = [];
      const torchRuns: RunRow[] = [];
      process.stderr.write(`  ${name} ${channels}x${SIZE}x${SIZE}:`);
      for (let r = 0; r < repeat; r++) {
        const o = runOurs(cfg);
        oursRuns.push(o);
        process.stderr.write(` ours ${o.imagesPerSecond} img/s`);
        if (o.params !== o.engineParams) {
          console.error(`\n  WARNING: countCost params ${o.params} != engine paramCount ${String(o.engineParams)}`);
        }
        if (!peer) continue;
        const t = runPeer(cfg, python);
        torchRuns.push(t);
        process.stderr.write(`, PyTorch ${t.imagesPerSecond} img/s;`);
      }
      process.stderr.write('\n');
      const ours = best(oursRuns);
      const mem = (r: RunRow) => `${r.peakRssMiB} (+${round(r.peakRssMiB - r.baselineRssMiB)})`;
      if (!peer) {
        rows.push({ model: net.model, variant: net.variant, input: ours.input, ours, ...(repeat > 1 ? { oursRuns } : {}) });
        table.push([name, ours.input, ours.params, ours.imagesPerSecond, ours.windowImagesPerSecond.join(' '), mem(ours)]);
        continue;
      }
      const torch = best(torchRuns);
      const ratio = round(ours.imagesPerSecond / torch.imagesPerSecond, 2);
      // Best-of-N on each side lets one lucky run decide a row on a noisy machine; the ratio
      // of the medians over the same runs is the steadier figure.
      const medianRatio = round(
        median(oursRuns.map((r) => r.imagesPerSecond)) / median(torchRuns.map((r) => r.imagesPerSecond)),
        2,
      );
      const target = net.variant.startsWith('dw-') ? 2.0 : 0.8;
      const paramsMatch = ours.params === torch.params;
      if (!paramsMatch) console.error(`  WARNING: params differ: ours ${ours.params}, PyTorch ${torch.params}`);
      const memOk = ours.peakRssMiB <= torch.peakRssMiB;
      rows.push({
        model: net.model,
        variant: net.variant,
        input: ours.input,
        ours,
        pytorch: torch,
        ...(repeat > 1 ? { oursRuns, pytorchRuns: torchRuns } : {}),
        paramsMatch,
        ratio,
        ...(repeat > 1 ? { medianRatio } : {}),
        target,
        speedTargetMet: ratio >= target,
        peakMemoryRatio: round(ours.peakRssMiB / torch.peakRssMiB, 2),
        memoryTargetMet: memOk,
      });
      table.push([
        name,
        ours.input,
        `${ours.params} / ${torch.params}${paramsMatch ? '' : ' (!)'}`,
        ours.imagesPerSecond,
        torch.imagesPerSecond,
        `${ratio}x`,
        `${ratio >= target ? 'ok' : 'MISS'} >=${target}x`,
        ...(repeat > 1 ? [`${medianRatio}x`] : []),
        mem(ours),
        `${mem(torch)}${memOk ? '' : ' (ours higher)'}`,
      ]);
    }
  }
  console.log(textTable(table, { head, align: head.map((_, i) => (i < 2 ? 'left' : 'right')), tty: isTTY() }));
  if (peer) console.log('targets: ours/PyTorch >= 2.0x for dw-* networks, >= 0.8x for std; peak memory no more than PyTorch\'s');
  return { method, quick, batch, threads, peer, networks: rows };
}

// ------------------------------------------------------------------ child entry

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv[2] === CHILD_FLAG) {
  try {
    const row = await child(JSON.parse(process.argv[3]!) as ChildConfig);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  }
}
