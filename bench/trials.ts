// `npm run bench -- trials [--quickstart-limit=N] [--pairs=N]`: what training each trial in
// a child process (src/sweep/trial-process.ts) costs against training it in the sweep's
// own process, measured side by side and alternating (the machine may be busy).
//
//  1. Per trial, on a tiny synthetic trial (ResNet-20, 16x16, 16 images, one step): the
//     wall time of one trial in this process (engine and data already loaded), in a warm
//     child (the lane's process kept from the trial before), and in a fresh child (fork,
//     Node and the addon start, the data loads): the two differences are the per-trial
//     overhead with the child kept per lane and with a child per trial.
//     With dist/ built (`npm run build:ts`), a fresh child is also timed from there, as
//     `bin/dsxplore` starts it (plain Node, no TypeScript loader).
//  2. A sweep: configs/quickstart.json (12 ResNet-20s on MNIST) with its training images cut
//     to --quickstart-limit (default 1000, a tenth) and its test images in proportion, so
//     that both forms fit in minutes, run in this process and with children, --pairs times
//     each, alternating. The overhead (children minus in-process) does not grow with the
//     images, so it is also stated as a share of the full quickstart's wall time, estimated
//     from the in-process runs.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseSweepConfig, type SweepConfig } from '../src/config/sweep.js';
import { planSweep } from '../src/space/index.js';
import { openStore } from '../src/store/index.js';
import { runSweep } from '../src/sweep/index.js';
import { trialRecipe } from '../src/sweep/identity.js';
import { LocalTrials, engineTrain, loadSweepData, type TrialExecutor, type TrialJob } from '../src/sweep/trial-job.js';
import { ChildTrials } from '../src/sweep/trial-process.js';

const root = resolve(import.meta.dirname, '..');
const flag = (args: string[], name: string, dflt: number) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function tinyJob(): TrialJob {
  const config = parseSweepConfig({
    name: 'bench-trials',
    model: 'resnet20',
    dataset: { name: 'synthetic:size=16,classes=4,train=64,test=16', limitTrain: 16, limitTest: 16 },
    recipe: { epochs: 1, batchSize: 16, threads: 1 },
    space: { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' },
    search: { kind: 'grid' },
    baselines: false,
  });
  const c = planSweep(config).search.initial()[0]!;
  return {
    config,
    trial: { id: 1, label: c.label, candidateHash: c.hash },
    spec: c.spec,
    recipe: trialRecipe(config, 1, 0),
    device: 'cpu',
    preflight: false,
  };
}

async function timed(exec: TrialExecutor, job: TrialJob): Promise<number> {
  const t0 = performance.now();
  await exec.run(job, { progress: () => {} });
  return (performance.now() - t0) / 1000;
}

async function perTrial(reps: number) {
  const job = tinyJob();
  const local = new LocalTrials(() => loadSweepData(job.config, () => {}), engineTrain);
  const warm = new ChildTrials({ onWarning: () => {} });
  await timed(local, job); // the addon and the data, loaded once
  await timed(warm, job); // the lane's child, started once
  const t = { inProcess: [] as number[], warmChild: [] as number[], freshChild: [] as number[] };
  for (let i = 0; i < reps; i++) {
    t.inProcess.push(await timed(local, job));
    t.warmChild.push(await timed(warm, job));
    const fresh = new ChildTrials({ onWarning: () => {} });
    t.freshChild.push(await timed(fresh, job));
    fresh.close();
  }
  warm.close();
  const m: Record<string, number> = { inProcess: median(t.inProcess), warmChild: median(t.warmChild), freshChild: median(t.freshChild) };
  const dist = join(root, 'dist/sweep/trial-process.js');
  if (existsSync(dist)) {
    const { ChildTrials: DistChildTrials } = (await import(pathToFileURL(dist).href)) as typeof import('../src/sweep/trial-process.js');
    const fromDist: number[] = [];
    for (let i = 0; i < reps; i++) {
      const fresh = new DistChildTrials({ onWarning: () => {} });
      fromDist.push(await timed(fresh, job));
      fresh.close();
    }
    m.freshChildFromDist = median(fromDist);
    Object.assign(t, { freshChildFromDist: fromDist });
  }
  return {
    reps,
    medianSeconds: m,
    overheadWarm: m.warmChild! - m.inProcess!,
    overheadFresh: m.freshChild! - m.inProcess!,
    ...(m.freshChildFromDist !== undefined ? { overheadFreshFromDist: m.freshChildFromDist - m.inProcess! } : {}),
    samples: t,
  };
}

/** CPU seconds of this process and of its children that have ended (Linux: /proc/self/stat,
 * in clock ticks of 1/100 s). On a busy machine they vary far less than wall time. */
function cpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14-17 of proc(5) (utime, stime, cutime, cstime); f[0] is field 3
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0) / 100;
}

async function sweepOnce(config: SweepConfig, inProcess: boolean): Promise<{ wall: number; cpu: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-bench-trials-'));
  const store = await openStore(join(dir, 'b.db'));
  try {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    const s = await runSweep({ store, config, device: 'cpu', preflight: true, ...(inProcess ? { train: engineTrain } : {}) });
    const wall = (performance.now() - t0) / 1000;
    if (s.failed) throw new Error(`a trial failed: ${JSON.stringify(s.counts)}`);
    // the children, killed as the sweep ended, are reaped (and counted) in a moment
    await new Promise((r) => setTimeout(r, 500));
    return { wall, cpu: cpuSeconds() - c0 };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<object> {
  const per = await perTrial(flag(args, 'reps', 5));
  const f = (x: number) => `${(1000 * x).toFixed(0)} ms`;
  console.log(
    `tiny trial, median of ${per.reps}: in process ${f(per.medianSeconds.inProcess!)}, warm child ${f(per.medianSeconds.warmChild!)}, ` +
      `fresh child ${f(per.medianSeconds.freshChild!)}; overhead ${f(per.overheadWarm)} (kept child), ${f(per.overheadFresh)} (child per trial)` +
      (per.overheadFreshFromDist !== undefined ? `, ${f(per.overheadFreshFromDist)} (child per trial, from dist/)` : ''),
  );
  const limit = flag(args, 'quickstart-limit', 1000);
  const pairs = flag(args, 'pairs', 2);
  if (pairs === 0) return { perTrial: per };
  const raw = JSON.parse(readFileSync(join(root, 'configs/quickstart.json'), 'utf8')) as { dataset: { limitTrain: number; limitTest: number } };
  const scale = limit / raw.dataset.limitTrain;
  const limitTest = Math.max(1, Math.round(raw.dataset.limitTest * scale));
  const config = parseSweepConfig({ ...raw, dataset: { ...raw.dataset, limitTrain: limit, limitTest } });
  const wall = { inProcess: [] as number[], children: [] as number[] };
  const cpu = { inProcess: [] as number[], children: [] as number[] };
  for (let i = 0; i < pairs; i++) {
    for (const inProcess of i % 2 === 0 ? [true, false] : [false, true]) {
      const s = await sweepOnce(config, inProcess);
      (inProcess ? wall.inProcess : wall.children).push(s.wall);
      (inProcess ? cpu.inProcess : cpu.children).push(s.cpu);
      console.log(
        `quickstart, limitTrain ${limit}, limitTest ${limitTest}, ${inProcess ? 'in process' : 'children  '}: ` +
          `${s.wall.toFixed(2)} s wall, ${s.cpu.toFixed(2)} CPU s`,
      );
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cpuOverhead = mean(cpu.children) - mean(cpu.inProcess);
  console.log(
    `quickstart (limitTrain ${limit}): CPU seconds children/in-process ${(mean(cpu.children) / mean(cpu.inProcess)).toFixed(3)}, ` +
      `overhead ${cpuOverhead.toFixed(2)} CPU s`,
  );
  const overhead = mean(wall.children) - mean(wall.inProcess);
  // training and evaluation scale with the images; the fixed part (planning, the store,
  // loading the data) is scaled too, which makes the estimate of the full run a little high
  const fullEstimate = mean(wall.inProcess) / scale;
  const sweep = {
    limitTrain: limit,
    limitTest,
    pairs,
    wall,
    cpu,
    cpuRatio: mean(cpu.children) / mean(cpu.inProcess),
    cpuOverheadSeconds: cpuOverhead,
    ratio: mean(wall.children) / mean(wall.inProcess),
    overheadSeconds: overhead,
    fullQuickstartEstimateSeconds: fullEstimate,
    overheadShareOfFullQuickstart: overhead / fullEstimate,
  };
  console.log(
    `quickstart (limitTrain ${limit}): children/in-process ${sweep.ratio.toFixed(3)}, overhead ${overhead.toFixed(2)} s; ` +
      `against the full quickstart (~${fullEstimate.toFixed(0)} s here): ${(100 * sweep.overheadShareOfFullQuickstart).toFixed(1)}%`,
  );
  return { perTrial: per, sweep };
}
