// `npm run bench -- search [--table=DB] [--replays=30] [--json] [--svg=FILE]`: how many
// trainings and epochs each search strategy needs to find a good front, measured by
// replaying it on a tabular benchmark (`dsxplore sweep --replay`, src/sweep/replay.ts)
// with seeds 0..replays-1.
//
// Strategies: random, evolutionary (NSGA-II) and model (EHVI over an accuracy model), each
// alone and with successive halving (rungs: 1 epoch and the table's epochs, eta 3), all
// through the real sweep runner on an in-memory store; and, as the peer, Optuna's
// NSGAIISampler and TPESampler(multivariate=True) driven in Python over the same table
// (bench/peer/optuna_search.py; the table's designs, options and recorded accuracies are
// handed to it as JSON), when bench/peer/.venv has Optuna (bench/peer/README.md).
//
// The measure: after each trial (in the order trials finished), the hypervolume of the
// designs evaluated at full fidelity so far, taken over their TRUE accuracy (the table's
// mean over its seeds) and MACs, as a share of the hypervolume of every design in the
// table. Reference point: the table's worst true accuracy and its largest MACs (the nadir;
// MACs normalised as in src/pareto/objectives.ts). A replay's recorded accuracy is one seed, chosen with the replay's seed:
// the strategies see seed noise, the yardstick does not. For each strategy and each target
// (90, 95, 99 %): median and interquartile range over replays of the trainings and the
// epochs spent until the target was first reached; a replay that never reaches it counts
// as not reached and is listed as such.
//
// Without --table, a synthetic table is built in seconds (ResNet-20 on Fashion-MNIST
// shapes, tie = stage, 6 options per stage = 216 designs, 2 seeds, 3 epochs with a
// learning curve; accuracy a seeded additive function of the options and log-MACs plus
// seed noise): it shows the harness works, not how the strategies compare on real data.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSweepConfig, type SweepConfig } from '../src/config/sweep.js';
import { normalizedHypervolume } from '../src/pareto/objectives.js';
import { createRng, enumerateGrid, genomeLabel, genomeVariants, makeCandidate, planSweep, type Genome } from '../src/space/index.js';
import { openStore, openStoreForReading } from '../src/store/index.js';
import { ReplayTable, runSweep, StopControl } from '../src/sweep/index.js';
import type { TrainRequest, TrainResult } from '../src/engine/types.js';
import type { SweepRow, TrialRow } from '../src/domain/rows.js';

const here = dirname(fileURLToPath(import.meta.url));
const TARGETS = [0.9, 0.95, 0.99] as const;

interface Design {
  hash: string;
  genome: Genome;
  options: string[];
  macs: number;
  /** the table's mean accuracy over its seeds at full fidelity */
  truth: number;
  /** recorded accuracy per seed at full fidelity */
  seeds: number[];
}

interface Table {
  path: string;
  sweep: SweepRow;
  config: SweepConfig;
  epochs: number;
  designs: Design[];
  byHash: Map<string, Design>;
  units: { name: string; options: string[] }[];
  /** the hypervolume's reference point: the table's worst true accuracy and largest MACs */
  reference: { accuracy: number; macs: number };
  frontHv: number;
}

/** One replay: the trials as they finished. */
interface Trace {
  steps: { hash: string; epochs: number; top: boolean }[];
}

interface StrategyResult {
  strategy: string;
  replays: number;
  targets: {
    share: number;
    reached: number;
    trainings: { median: number | null; q1: number | null; q3: number | null };
    epochs: { median: number | null; q1: number | null; q3: number | null };
  }[];
  /** median share of the true-front hypervolume against epochs spent (for the SVG) */
  curve: { epochs: number; share: number }[];
}

function flag(flags: string[], name: string): string | undefined {
  const f = flags.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (f === undefined) return undefined;
  return f.includes('=') ? f.slice(f.indexOf('=') + 1) : '';
}

// ---------------------------------------------------------------- the table

/** The synthetic table of the harness's own check (see the header). */
async function syntheticTable(dir: string): Promise<string> {
  const config = parseSweepConfig({
    name: 'synthetic-table',
    model: 'resnet20',
    dataset: { name: 'fashion-mnist' },
    recipe: { epochs: 3 },
    space: { variants: ['dw-gpw', 'dw-scc'], cg: [2, 4, 8], co: [0.5], tie: 'stage' },
    search: { kind: 'grid' },
    seeds: [0, 1],
    baselines: false,
    keepWeights: 'none',
  });
  const plan = planSweep(config);
  const rng = createRng(2026, 1);
  const effects = plan.space.units.map((u) => u.options.map(() => (rng.next() - 0.5) * 0.04));
  const genomeOf = new Map<string, Genome>();
  for (const g of enumerateGrid(plan.space)) genomeOf.set(makeCandidate(plan.access, genomeVariants(plan.space, g), '').hash, g);
  const train = async (req: TrainRequest): Promise<TrainResult> => {
    const hash = plan.access.hash(req.spec);
    const g = genomeOf.get(hash)!;
    const macs = plan.access.cost(req.spec).macs;
    const noise = createRng(req.recipe.seed, 7, ...g);
    const final = 0.78 + 0.05 * Math.log2(macs / 2e6) + g.reduce((s, o, u) => s + effects[u]![o]!, 0);
    const epochs = Array.from({ length: req.recipe.epochs }, (_, i) => {
      // a learning curve whose early epochs keep most of the ranking
      const acc = final - 0.06 / (i + 1) + 0.06 / req.recipe.epochs + (noise.next() - 0.5) * 0.012;
      return { epoch: i + 1, lr: 0.1, trainLoss: 1, trainAccuracy: acc, testAccuracy: acc, testLoss: 1, seconds: 1 };
    });
    const last = epochs.at(-1)!.testAccuracy;
    return { status: 'done', device: 'synthetic', threads: 1, params: 0, testAccuracy: last, testLoss: 1, trainLoss: 1, trainAccuracy: last, epochs, seconds: epochs.length, imagesPerSecond: 0 };
  };
  const path = join(dir, 'synthetic-table.db');
  const store = await openStore(path);
  try {
    // the stand-in trains on nothing: a one-image placeholder satisfies the runner
    const none = { name: 'synthetic-table', count: 1, shape: [1, 32, 32] as [number, number, number], classes: 10, images: new Uint8Array(1024), labels: new Uint8Array(1), mean: [0.5], std: [0.25] };
    await runSweep({ store, config, train, loadData: () => ({ train: none, test: none }) });
  } finally {
    await store.close();
  }
  return path;
}

async function readTable(path: string): Promise<Table> {
  const store = await openStoreForReading(path);
  try {
    const sweeps = await store.listSweeps();
    if (sweeps.length === 0) throw new Error(`${path}: no sweeps`);
    const trials: TrialRow[] = [];
    const sizes = new Map<string, number>();
    for (const s of sweeps) {
      const ts = await store.trials(s.name);
      sizes.set(s.name, ts.length);
      trials.push(...ts);
    }
    // the space is the largest sweep's (a table may hold a pilot beside its grid)
    const sweep = sweeps.reduce((a, b) => (sizes.get(b.name)! > sizes.get(a.name)! ? b : a));
    const config = parseSweepConfig(sweep.config, `the config of sweep ${sweep.name}`);
    const done = trials.filter((t) => t.state === 'done' && t.accuracy !== null && !t.baseline);
    const epochs = Math.max(...done.map((t) => t.epochs));
    const plan = planSweep({ ...config, constraints: {} });
    const designs: Design[] = [];
    for (const g of enumerateGrid(plan.space)) {
      const c = makeCandidate(plan.access, genomeVariants(plan.space, g), genomeLabel(plan.space, g));
      const seeds = done.filter((t) => t.candidateHash === c.hash && t.epochs === epochs).map((t) => t.accuracy!);
      if (seeds.length === 0) continue;
      designs.push({
        hash: c.hash,
        genome: g,
        options: g.map((o, u) => plan.space.units[u]!.options[o]!.label),
        macs: c.macs,
        truth: seeds.reduce((s, a) => s + a, 0) / seeds.length,
        seeds,
      });
    }
    // the nadir point: the worst design adds nothing, so the share measures the region
    // between the worst and the best designs (with accuracy 0 as reference, any one design
    // above 80 % would hold most of the front's area, and 90 % would mean nothing)
    const reference = { accuracy: Math.min(...designs.map((d) => d.truth)), macs: Math.max(...designs.map((d) => d.macs)) };
    const frontHv = normalizedHypervolume(designs.map((d) => ({ accuracy: d.truth, macs: d.macs, params: 0 })), ['accuracy', 'macs'], reference);
    return {
      path,
      sweep,
      config,
      epochs,
      designs,
      byHash: new Map(designs.map((d) => [d.hash, d])),
      units: plan.space.units.map((u) => ({ name: u.name, options: u.options.map((o) => o.label) })),
      reference,
      frontHv,
    };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------- strategies

interface Strategy {
  name: string;
  /** a replay config for seed `seed`, or the Optuna sampler */
  search?: (n: number, seed: number) => Record<string, unknown>;
  halving?: boolean;
  optuna?: 'nsga2' | 'tpe';
}

const STRATEGIES: Strategy[] = [
  { name: 'random', search: (n, seed) => ({ kind: 'random', n, seed }) },
  { name: 'evolutionary', search: (n, seed) => evolutionary(n, seed) },
  { name: 'model', search: (n, seed) => ({ kind: 'model', n, seed }) },
  // synchronous halving trains its whole pool at rung 1 before anything reaches full
  // fidelity: over the whole table that is 1 epoch per design, first. A pool of a third of
  // the table is what a user with a budget would give it.
  { name: 'random + halving', search: (n, seed) => ({ kind: 'random', n: Math.ceil(n / 3), seed }), halving: true },
  { name: 'evolutionary + halving', search: (n, seed) => evolutionary(n, seed), halving: true },
  { name: 'model + halving', search: (n, seed) => ({ kind: 'model', n, seed }), halving: true },
  { name: 'optuna NSGAIISampler', optuna: 'nsga2' },
  { name: 'optuna TPESampler(multivariate)', optuna: 'tpe' },
];

function evolutionary(n: number, seed: number) {
  const population = Math.max(8, Math.round(Math.sqrt(n)));
  return { kind: 'evolutionary', population, generations: Math.max(1, Math.ceil(n / population) - 1), seed };
}

/** One replay through the sweep runner; stops once the last target is reached. */
async function replayOnce(table: Table, replay: ReplayTable, s: Strategy, seed: number): Promise<Trace> {
  const n = table.designs.length;
  const raw: Record<string, unknown> = {
    ...(table.sweep.config as Record<string, unknown>),
    name: `bench-${seed}`,
    search: s.search!(n, seed),
    seeds: [0],
    baselines: false,
    constraints: {},
  };
  const recipe = { ...((raw.recipe as Record<string, unknown>) ?? {}) };
  if (s.halving) {
    delete recipe.epochs;
    raw.multiFidelity = { rungs: [1, table.epochs], eta: 3 };
  } else {
    recipe.epochs = table.epochs;
    delete raw.multiFidelity;
  }
  raw.recipe = recipe;
  const config = parseSweepConfig(raw);
  const store = await openStore(':memory:');
  const steps: Trace['steps'] = [];
  const stop = new StopControl(true);
  const seen: { accuracy: number; macs: number; params: number }[] = [];
  const target = TARGETS.at(-1)! * table.frontHv;
  try {
    await runSweep({
      store,
      config,
      replay,
      stop,
      onEvent: (e) => {
        if (e.type !== 'trial-end') return;
        const top = e.trial.epochs === table.epochs;
        steps.push({ hash: e.trial.candidateHash, epochs: e.trial.epochs, top });
        const d = table.byHash.get(e.trial.candidateHash);
        if (top && d) {
          seen.push({ accuracy: d.truth, macs: d.macs, params: 0 });
          if (normalizedHypervolume(seen, ['accuracy', 'macs'], table.reference) >= target - 1e-12) stop.request('SIGTERM');
        }
      },
    });
  } finally {
    await store.close();
  }
  return { steps };
}

/** The Optuna replays, from the peer script: one line per seed with the designs in order. */
function optunaReplays(table: Table, sampler: 'nsga2' | 'tpe', replays: number, dir: string): Trace[] | string {
  const python = process.env.PYTHON ?? join(here, 'peer', '.venv', 'bin', 'python');
  if (!existsSync(python)) return `no ${python}; see bench/peer/README.md (python3 -m venv bench/peer/.venv && bench/peer/.venv/bin/pip install optuna)`;
  const spec = join(dir, 'table.json');
  if (!existsSync(spec)) {
    writeFileSync(
      spec,
      JSON.stringify({
        units: table.units,
        designs: table.designs.map((d) => ({ hash: d.hash, options: d.options, macs: d.macs, truth: d.truth, seeds: d.seeds })),
        frontHv: table.frontHv,
        reference: table.reference,
        target: TARGETS.at(-1),
      }),
    );
  }
  const r = spawnSync(python, [join(here, 'peer', 'optuna_search.py'), '--table', spec, '--sampler', sampler, '--replays', String(replays), '--trials', String(2 * table.designs.length)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 2 ** 20,
  });
  if (r.status !== 0) return `optuna_search.py ${sampler} failed (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').at(-1)}`;
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { order: string[] })
    .map((x) => ({ steps: x.order.map((hash) => ({ hash, epochs: table.epochs, top: true })) }));
}

// ---------------------------------------------------------------- figures

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function summary(xs: (number | null)[]) {
  const got = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  // a replay that never reached the target is worse than any that did: medians and
  // quartiles are taken with it at +Infinity, and are null where they land on one
  const all = [...got, ...xs.filter((x) => x === null).map(() => Infinity)];
  const q = (p: number) => {
    const v = quantile(all, p);
    return Number.isFinite(v) ? v : null;
  };
  return { median: q(0.5), q1: q(0.25), q3: q(0.75) };
}

/** HV share after each step of a trace, with the trainings and epochs spent. */
function progress(table: Table, trace: Trace): { trainings: number; epochs: number; share: number }[] {
  const seen: { accuracy: number; macs: number; params: number }[] = [];
  const out: { trainings: number; epochs: number; share: number }[] = [];
  let epochs = 0;
  let hv = 0;
  const have = new Set<string>();
  trace.steps.forEach((s, i) => {
    epochs += s.epochs;
    const d = table.byHash.get(s.hash);
    if (s.top && d && !have.has(s.hash)) {
      have.add(s.hash);
      seen.push({ accuracy: d.truth, macs: d.macs, params: 0 });
      hv = normalizedHypervolume(seen, ['accuracy', 'macs'], table.reference);
    }
    out.push({ trainings: i + 1, epochs, share: hv / table.frontHv });
  });
  return out;
}

function evaluate(table: Table, name: string, traces: Trace[]): StrategyResult {
  const runs = traces.map((t) => progress(table, t));
  const targets = TARGETS.map((share) => {
    const hit = runs.map((r) => r.find((p) => p.share >= share - 1e-12) ?? null);
    return {
      share,
      reached: hit.filter(Boolean).length,
      trainings: summary(hit.map((h) => h?.trainings ?? null)),
      epochs: summary(hit.map((h) => h?.epochs ?? null)),
    };
  });
  const maxEpochs = Math.max(...runs.map((r) => r.at(-1)?.epochs ?? 0));
  const curve: StrategyResult['curve'] = [];
  const step = Math.max(1, Math.ceil(maxEpochs / 200));
  for (let e = 0; e <= maxEpochs; e += step) {
    const at = runs.map((r) => {
      let v = 0;
      for (const p of r) if (p.epochs <= e) v = p.share;
      else break;
      // a replay that stopped after its last target keeps its share
      return v;
    });
    at.sort((a, b) => a - b);
    curve.push({ epochs: e, share: quantile(at, 0.5) });
  }
  return { strategy: name, replays: traces.length, targets, curve };
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#6baed6', '#fdae6b', '#74c476', '#9467bd', '#8c564b'];

function svg(results: StrategyResult[], title: string): string {
  const W = 760;
  const H = 420;
  const L = 60;
  const R = 230;
  const T = 40;
  const B = 50;
  const maxE = Math.max(1, ...results.flatMap((r) => r.curve.map((p) => p.epochs)));
  const lo = 0.5;
  const x = (e: number) => L + ((W - L - R) * e) / maxE;
  const y = (s: number) => T + (H - T - B) * (1 - (Math.max(lo, Math.min(1, s)) - lo) / (1 - lo));
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${L}" y="22" font-size="14">${esc(title)}</text>`);
  for (const s of [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1]) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(s).toFixed(1)}" y2="${y(s).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(y(s) + 4).toFixed(1)}" text-anchor="end">${Math.round(s * 100)}%</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const e = (maxE * i) / 5;
    out.push(`<text x="${x(e).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${Math.round(e)}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">epochs trained (median over replays)</text>`);
  out.push(`<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">share of the true front's hypervolume</text>`);
  results.forEach((r, i) => {
    const pts = r.curve.map((p) => `${x(p.epochs).toFixed(1)},${y(p.share).toFixed(1)}`).join(' ');
    const dash = r.strategy.includes('halving') ? ' stroke-dasharray="5,3"' : '';
    out.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.8"${dash} points="${pts}"/>`);
    out.push(`<line x1="${W - R + 12}" x2="${W - R + 36}" y1="${T + 10 + i * 18}" y2="${T + 10 + i * 18}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${W - R + 42}" y="${T + 14 + i * 18}">${esc(r.strategy)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function cell(s: { median: number | null; q1: number | null; q3: number | null }): string {
  const f = (v: number | null) => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(1));
  return `${f(s.median)} [${f(s.q1)}-${f(s.q3)}]`;
}

export async function run(flags: string[]): Promise<object> {
  const replays = Number(flag(flags, 'replays') ?? 30);
  if (!Number.isInteger(replays) || replays < 1) throw new Error(`--replays must be a whole number >= 1, got ${flag(flags, 'replays')}`);
  const json = flags.includes('--json');
  const dir = mkdtempSync(join(tmpdir(), 'dsx-bench-search-'));
  try {
    const given = flag(flags, 'table');
    const tablePath = given || (await syntheticTable(dir));
    const table = await readTable(tablePath);
    const log = (s: string) => (json ? process.stderr.write(`${s}\n`) : console.log(s));
    log(
      `table ${given ? tablePath : '(synthetic, built in this run)'}: ${table.designs.length} designs, ${table.epochs} epochs, ` +
        `true-front hypervolume ${table.frontHv.toFixed(4)} (accuracy x MACs; reference point: accuracy ${(100 * table.reference.accuracy).toFixed(2)} %, the worst design's mean, and ${table.reference.macs} MACs, the largest)`,
    );
    const replay = await ReplayTable.open(await openStoreForReading(tablePath), tablePath);
    const only = flag(flags, 'only');
    const results: StrategyResult[] = [];
    const skipped: string[] = [];
    try {
      for (const s of STRATEGIES) {
        if (only && !s.name.includes(only)) continue;
        const t0 = Date.now();
        let traces: Trace[] | string;
        if (s.optuna) traces = optunaReplays(table, s.optuna, replays, dir);
        else {
          traces = [];
          for (let seed = 0; seed < replays; seed++) traces.push(await replayOnce(table, replay, s, seed));
        }
        if (typeof traces === 'string') {
          skipped.push(`${s.name}: ${traces}`);
          log(`skip ${s.name}: ${traces}`);
          continue;
        }
        const r = evaluate(table, s.name, traces);
        results.push(r);
        if (json) process.stdout.write(`${JSON.stringify({ ...r, curve: undefined })}\n`);
        else log(`${s.name}: ${replays} replays in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
    } finally {
      await replay.close();
    }
    if (!json) {
      const head = ['strategy', ...TARGETS.flatMap((t) => [`trainings to ${t * 100}%`, `epochs to ${t * 100}%`])];
      const rows = results.map((r) => [
        r.strategy,
        ...r.targets.flatMap((t) => [`${cell(t.trainings)}${t.reached < r.replays ? ` (${t.reached}/${r.replays})` : ''}`, cell(t.epochs)]),
      ]);
      console.log(`\nmedian [interquartile range] over ${replays} replays (seeds 0..${replays - 1}); (k/n): replays that reached the target`);
      const line = (row: string[]) => `| ${row.join(' | ')} |`;
      console.log([line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n'));
    }
    const out = flag(flags, 'svg') || join(here, 'results', `search-hv-${given ? 'table' : 'synthetic'}.svg`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, svg(results, `hypervolume against epochs: ${table.designs.length}-design ${given ? 'table' : 'synthetic table'}, ${replays} replays`));
    (json ? process.stderr : process.stdout).write(`wrote ${out}\n`);
    return {
      table: given ? tablePath : 'synthetic',
      designs: table.designs.length,
      epochs: table.epochs,
      reference: table.reference,
      frontHypervolume: table.frontHv,
      replays,
      results,
      skipped,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
