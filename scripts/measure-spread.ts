// Before a study runs: the seed spread at its budget, measured on the two designs whose gap
// the previous ResNet-20 page called (dw-gpw:cg=8 and dw-scc:cg=8,co=0.5). A study may only
// call differences larger than its seeds' spread, so this says first whether the budget can
// call the effects the study is after. It trains the two designs with the study's recipe,
// data, epochs (the last rung's) and seeds, as a sweep of their own (`NAME-spread`) in the
// study's store: the study then reuses these trials (same candidate, recipe, epochs and
// seed) instead of training them again.
//
//   node --import tsx scripts/measure-spread.ts [--config configs/study-resnet20.json]
//        [--db results/study-resnet20/dsxplore.db] [--cg 8] [--co 0.5] [--jobs 2]
//        [--max-spread 1] [--dry-run]
//
// Prints one JSON line: per design its seed accuracies and range, and `spread`, the widest
// range (percentage points). Exits 0 when the spread is at most --max-spread points, 1 when
// it is wider (raise the budget before running the study), 2 on bad input. --dry-run prints
// the derived sweep config and trains nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSweepConfig } from '../src/config/sweep.js';
import { rungEpochs } from '../src/sweep/identity.js';
import { candidateResults } from '../src/report/summary.js';
import { openStoreForReading } from '../src/store/index.js';

const root = resolve(import.meta.dirname, '..');

/** The sweep that trains the two designs exactly as the study's last rung would. */
export function spreadConfig(study: Record<string, any>, cg: number, co: number): Record<string, any> {
  const parsed = parseSweepConfig(study);
  const epochs = rungEpochs(parsed).at(-1)!;
  const { multiFidelity: _mf, constraints: _c, ...rest } = study;
  return {
    ...rest,
    name: `${study.name}-spread`,
    recipe: { ...(study.recipe ?? {}), epochs },
    space: { variants: ['dw-scc'], cg: [cg], co: [co], tie: 'all' },
    search: { kind: 'grid' },
    baselines: [`dw-gpw:cg=${cg}`],
  };
}

export interface Spread {
  sweep: string;
  epochs: number | null;
  designs: { label: string; seeds: number[]; accuracies: number[]; range: number | null }[];
  /** the widest seed range among the designs, in percentage points */
  spread: number | null;
}

async function readSpread(db: string, sweep: string): Promise<Spread> {
  const store = await openStoreForReading(`sqlite:${db}`);
  try {
    const { epochs, candidates } = candidateResults(await store.trials(sweep));
    const designs = candidates.map((c) => ({
      label: c.label,
      seeds: c.seeds,
      accuracies: c.seedAccuracies.map((a) => Number((a * 100).toFixed(2))),
      range: c.seedAccuracies.length >= 2 ? Number(((Math.max(...c.seedAccuracies) - Math.min(...c.seedAccuracies)) * 100).toFixed(2)) : null,
    }));
    const ranges = designs.map((d) => d.range).filter((r): r is number => r !== null);
    return { sweep, epochs, designs, spread: ranges.length ? Math.max(...ranges) : null };
  } finally {
    await store.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'configs/study-resnet20.json' },
      db: { type: 'string' },
      cg: { type: 'string', default: '8' },
      co: { type: 'string', default: '0.5' },
      jobs: { type: 'string', default: '2' },
      'max-spread': { type: 'string', default: '1' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const cg = Number(values.cg);
  const co = Number(values.co);
  const maxSpread = Number(values['max-spread']);
  if (!Number.isInteger(cg) || cg < 1) return usage(`--cg must be an integer >= 1, got ${values.cg}`);
  if (!(co > 0 && co < 1)) return usage(`--co must be in (0, 1), got ${values.co}`);
  if (!(maxSpread > 0)) return usage(`--max-spread must be a positive number of points, got ${values['max-spread']}`);
  let study: Record<string, any>;
  try {
    study = JSON.parse(readFileSync(values.config!, 'utf8')) as Record<string, any>;
  } catch (err) {
    return usage(`--config: cannot read ${values.config}: ${(err as Error).message}`);
  }
  const config = spreadConfig(study, cg, co);
  if (values['dry-run']) {
    process.stdout.write(`${JSON.stringify(config)}\n`);
    return 0;
  }
  const db = values.db ?? join('results', String(study.name), 'dsxplore.db');
  const dir = mkdtempSync(join(tmpdir(), 'dsx-spread-'));
  try {
    const file = join(dir, `${config.name}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    // the sweep as a child process: its JSON lines go to stderr, this script's answer to stdout
    const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify([
      'sweep', '--config', file, '--db', resolve(db), '--device', 'cpu', '--jobs', values.jobs!, '--json', '--resume',
    ])})))`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, stdio: ['ignore', process.stderr, 'inherit'] });
    if (r.status !== 0) {
      process.stderr.write(`measure-spread: the sweep exited ${r.status ?? r.signal}\n`);
      return r.status === 2 ? 2 : 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const spread = await readSpread(db, config.name);
  const ok = spread.spread !== null && spread.spread <= maxSpread;
  process.stdout.write(`${JSON.stringify({ ...spread, maxSpread, ok })}\n`);
  return ok ? 0 : 1;
}

function usage(message: string): number {
  process.stderr.write(`measure-spread: ${message}\n`);
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) process.exitCode = await main();
