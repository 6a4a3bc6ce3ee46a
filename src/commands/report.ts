// `dsxplore report` and `dsxplore pareto export|plot`: read a sweep's trials from the
// store and show what was found. Reading only: nothing here writes to the database.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { OBJECTIVES } from '../config/sweep.js';
import { paretoExportFlagsSchema, paretoPlotFlagsSchema, parseFlags, reportFlagsSchema } from '../config/flags.js';
import { UsageError } from '../errors.js';
import type { Objective } from '../pareto/objectives.js';
import { frontRows, toCsv, toJson } from '../report/export.js';
import { plotSvg } from '../report/plot.js';
import { summarize, type SweepSummary } from '../report/summary.js';
import { renderReport, reportJson } from '../report/table.js';
import { openStoreForReading, storeUrl } from '../store/index.js';
import type { StoreReader, SweepRow } from '../store/types.js';

const DEFAULT_OBJECTIVES: Objective[] = ['accuracy', 'macs'];

const HOW = `
The sweep defaults to the most recent one in the database; the database to
--store URL (sqlite:PATH or postgres://...), else $DSXPLORE_STORE, else --db PATH, else
results/dsxplore.db (or $DSXPLORE_DB). Accuracy is the mean over seeds of the done
trials at the sweep's highest fidelity (epochs). The front keeps every non-dominated
candidate, duplicates included. Hypervolume is measured over accuracy (reference 0) and
1 - cost/reference cost, the reference cost being the largest among the candidates.`;

/** The named sweep, or the most recent one. */
export async function resolveSweep(store: StoreReader, name?: string): Promise<SweepRow> {
  const sweeps = await store.listSweeps();
  if (name !== undefined) {
    const s = await store.getSweep(name);
    if (!s) {
      const known = sweeps.map((x) => x.name);
      throw new UsageError(
        `no sweep named "${name}"${known.length ? `; sweeps in this database: ${known.join(', ')}` : '; the database has no sweeps yet'}`,
      );
    }
    return s;
  }
  if (sweeps.length === 0) throw new UsageError('the database has no sweeps yet; run dsxplore sweep --config FILE first');
  return [...sweeps].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id - b.id)).at(-1)!;
}

/** --objectives (already parsed by src/config/flags.ts), else the sweep config's, else accuracy and MACs. */
export function resolveObjectives(flag: Objective[] | undefined, sweep: SweepRow): Objective[] {
  if (flag !== undefined) return flag;
  const fromConfig = (sweep.config as { objectives?: unknown } | null)?.objectives;
  if (
    Array.isArray(fromConfig) &&
    fromConfig.length >= 2 &&
    fromConfig.includes('accuracy') &&
    fromConfig.every((o) => (OBJECTIVES as readonly string[]).includes(o))
  ) {
    return fromConfig as Objective[];
  }
  return DEFAULT_OBJECTIVES;
}

function context(sweep: SweepRow): string {
  const c = sweep.config as { model?: unknown; dataset?: { name?: unknown } } | null;
  const parts: string[] = [];
  if (typeof c?.model === 'string') parts.push(c.model);
  if (typeof c?.dataset?.name === 'string') parts.push(`on ${c.dataset.name}`);
  return [parts.join(' '), sweep.status].filter(Boolean).join(', ');
}

interface Common {
  sweep?: string;
  db?: string;
  store?: string;
}

async function withSummary<T>(
  opts: Common,
  objectivesFlag: Objective[] | undefined,
  fn: (s: SweepSummary, sweep: SweepRow) => T,
): Promise<T> {
  const store = await openStoreForReading(storeUrl(opts));
  try {
    const sweep = await resolveSweep(store, opts.sweep);
    const objectives = resolveObjectives(objectivesFlag, sweep);
    return fn(summarize(sweep.name, await store.trials(sweep.name), objectives), sweep);
  } finally {
    await store.close();
  }
}

function emit(text: string, out?: string): void {
  if (out) {
    try {
      writeFileSync(out, text);
    } catch (err) {
      throw new UsageError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else process.stdout.write(text);
}

const sweepOpt = () => new Option('--sweep <name>', 'sweep to read (default: the most recent)');
const dbOpt = () => new Option('--db <path>', 'SQLite results database (default: results/dsxplore.db); same as --store sqlite:PATH');
const storeOpt = () =>
  new Option('--store <url>', 'results store: sqlite:PATH or postgres://user@host/db (default: $DSXPLORE_STORE, else --db)');

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('what a sweep found: states, the Pareto front, baselines against SCC, hypervolume')
    .addOption(sweepOpt())
    .addOption(dbOpt())
    .addOption(storeOpt())
    .option('--objectives <list>', 'objectives of the front: accuracy,macs[,params] (default: the sweep config\'s)')
    .option('--json', 'print one JSON object instead of tables')
    .addHelpText('after', HOW)
    .action(async (raw: unknown) => {
      const opts = parseFlags(reportFlagsSchema, raw);
      await withSummary(opts, opts.objectives, (s, sweep) => {
        process.stdout.write(opts.json ? `${JSON.stringify(reportJson(s), null, 2)}\n` : renderReport(s, context(sweep)));
      });
    });

  const pareto = program.command('pareto').description('export or plot the accuracy/cost Pareto front of a sweep');
  pareto
    .command('export')
    .description('the non-dominated finished candidates, one row each, as CSV or JSON')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json']).default('csv'))
    .addOption(sweepOpt())
    .addOption(dbOpt())
    .addOption(storeOpt())
    .option('--objectives <list>', 'objectives of the front: accuracy,macs[,params] (default: the sweep config\'s)')
    .option('--out <file>', 'write to FILE instead of standard output')
    .addHelpText(
      'after',
      `
Columns: label, hash, baseline, accuracy (mean over seeds), accuracy_std, seeds, epochs,
macs, flops (= 2*macs), params, then slot_0..slot_N: each slot's setting, e.g.
"dw-scc:cg=2,s=8,co=0.5". JSON gives the same rows with the slots as objects.${HOW}`,
    )
    .action(async (raw: unknown) => {
      const opts = parseFlags(paretoExportFlagsSchema, raw);
      await withSummary(opts, opts.objectives, (s) => {
        const rows = frontRows(s.front);
        emit(opts.format === 'json' ? toJson(rows) : toCsv(rows), opts.out);
        if (opts.out) process.stderr.write(`wrote ${rows.length} front rows of sweep ${s.sweep} to ${opts.out}\n`);
      });
    });
  pareto
    .command('plot')
    .description('accuracy against MACs (log scale) as SVG: candidates, the front as a step line, baselines labelled')
    .requiredOption('--out <file>', 'SVG file to write')
    .addOption(sweepOpt())
    .addOption(dbOpt())
    .addOption(storeOpt())
    .action(async (raw: unknown) => {
      const opts = parseFlags(paretoPlotFlagsSchema, raw);
      await withSummary(opts, undefined, (s, sweep) => {
        emit(plotSvg(s.candidates, { title: `${s.sweep}: accuracy vs MACs (${context(sweep)})` }), opts.out);
        process.stderr.write(`wrote ${opts.out}: ${s.candidates.length} candidates, ${s.front.length} on the front\n`);
      });
    });
}
