// Rerun one front candidate of a recorded sweep with `dsxplore train` and say whether its
// accuracy and losses come out identical bit for bit. The rerun uses the
// recipe, dataset and thread count the trial recorded in its provenance, on the CPU.
//
//   node --import tsx scripts/rerun-front.ts --db results/study-resnet20/dsxplore.db [--sweep NAME] [--label LABEL] [--seed N]
//
// Picks the most accurate SCC design on the accuracy/MACs front (else the most accurate
// front design) and its first seed, unless --label/--seed say otherwise. Prints one JSON
// line; exits 0 when identical, 1 when not, 2 on bad input.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readSweep } from '../src/report/read.js';
import type { TrainRecipe } from '../src/engine/types.js';
import { isScc } from '../src/report/summary.js';
import { openStoreForReading } from '../src/store/index.js';

const root = resolve(import.meta.dirname, '..');

/** `dsxplore train` flags for a resolved recipe; a field with no flag is an error, so the
 * rerun can never silently differ from the recorded training. */
export function recipeToFlags(recipe: TrainRecipe, threads: number): string[] {
  const flags: string[] = [];
  for (const [k, v] of Object.entries(recipe) as [keyof TrainRecipe, unknown][]) {
    switch (k) {
      case 'epochs': flags.push('--epochs', String(v)); break;
      case 'batchSize': flags.push('--batch-size', String(v)); break;
      case 'lr': flags.push('--lr', String(v)); break;
      case 'momentum': flags.push('--momentum', String(v)); break;
      case 'nesterov': if (v) flags.push('--nesterov'); break;
      case 'weightDecay': flags.push('--weight-decay', String(v)); break;
      case 'decayBnAndBias': if (v) flags.push('--decay-bn-bias'); break;
      case 'warmupEpochs': flags.push('--warmup', String(v)); break;
      case 'seed': flags.push('--seed', String(v)); break;
      case 'threads': flags.push('--threads', String(threads)); break;
      case 'schedule': {
        const s = v as TrainRecipe['schedule'];
        flags.push('--schedule', s.kind);
        if (s.kind === 'step') flags.push('--milestones', s.milestones.join(','), '--gamma', String(s.gamma));
        break;
      }
      case 'augment': {
        const a = v as TrainRecipe['augment'];
        for (const key of Object.keys(a)) if (key !== 'cropPadding' && key !== 'flip') throw new Error(`recipe.augment.${key} has no train flag`);
        flags.push('--crop-padding', String(a.cropPadding), a.flip ? '--flip' : '--no-flip');
        break;
      }
      default:
        throw new Error(`recipe.${String(k)} has no train flag`);
    }
  }
  return flags;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { db: { type: 'string' }, sweep: { type: 'string' }, label: { type: 'string' }, seed: { type: 'string' } },
  });
  if (!values.db) {
    process.stderr.write('usage: rerun-front.ts --db FILE [--sweep NAME] [--label LABEL] [--seed N]\n');
    return 2;
  }
  const store = await openStoreForReading(`sqlite:${values.db}`);
  let read;
  try {
    read = await readSweep(store, values.sweep);
  } finally {
    await store.close();
  }
  const { sweep, trials, summary: s } = read;
  const pick = values.label
    ? s.candidates.find((c) => c.label === values.label)
    : [...s.front].sort((a, b) => Number(isScc(b)) - Number(isScc(a)) || b.accuracy - a.accuracy)[0];
  if (!pick) {
    process.stderr.write(`no finished candidate ${values.label ? `"${values.label}" ` : ''}in sweep ${sweep.name}\n`);
    return 2;
  }
  const seed = values.seed !== undefined ? Number(values.seed) : pick.seeds[0]!;
  const trial = trials.find((t) => t.candidateHash === pick.hash && t.state === 'done' && t.epochs === s.epochs && t.seed === seed);
  const prov = trial?.provenance as { recipe?: TrainRecipe; threads?: number; dataset?: Record<string, unknown> } | null | undefined;
  if (!trial || !prov?.recipe || !prov.dataset) {
    process.stderr.write(`no recorded trial of ${pick.label} with seed ${seed} and its recipe in sweep ${sweep.name}\n`);
    return 2;
  }
  const config = sweep.config as { model: string };
  const d = prov.dataset as { name: string; dataDir?: string; limitTrain?: number; limitTest?: number; validation?: number };
  const args = [
    'train', '--model', config.model, '--variant', pick.label, '--dataset', d.name, '--device', 'cpu', '--json',
    ...(d.dataDir ? ['--data-dir', d.dataDir] : []),
    ...(d.limitTrain ? ['--limit-train', String(d.limitTrain)] : []),
    ...(d.limitTest ? ['--limit-test', String(d.limitTest)] : []),
    ...(d.validation ? ['--validation', String(d.validation)] : []),
    ...recipeToFlags(prov.recipe, prov.threads ?? prov.recipe.threads),
  ];
  const t0 = Date.now();
  // the CLI from the same sources as this script (run under tsx), not a possibly stale dist/
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify(args)})))`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  const result = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>)
    .find((l) => l.type === 'result');
  if (r.status !== 0 || !result) {
    process.stderr.write(`dsxplore train failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1) ?? ''}\n`);
    return 1;
  }
  const recorded = { accuracy: trial.accuracy, trainLoss: trial.trainLoss, testLoss: trial.testLoss ?? null };
  const rerun = { accuracy: result.testAccuracy as number, trainLoss: result.trainLoss as number, testLoss: result.testLoss as number };
  const identical = recorded.accuracy === rerun.accuracy && recorded.trainLoss === rerun.trainLoss && recorded.testLoss === rerun.testLoss;
  process.stdout.write(
    `${JSON.stringify({
      sweep: sweep.name,
      label: pick.label,
      seed,
      epochs: trial.epochs,
      threads: result.threads,
      recorded,
      rerun,
      identical,
      seconds: (Date.now() - t0) / 1000,
      command: `dsxplore ${args.join(' ')}`,
    })}\n`,
  );
  return identical ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`rerun-front: ${(err as Error).message}\n`);
      process.exit(2);
    },
  );
}
