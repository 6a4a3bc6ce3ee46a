// `dsxplore report` and `dsxplore pareto export|plot`: read a sweep's trials from the
// store and show what was found. Reading only: nothing here writes to the database.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { OBJECTIVES } from '../config/sweep.js';
import { paretoExportFlagsSchema, paretoPlotFlagsSchema, parseFlags, reportFlagsSchema } from '../config/flags.js';
import { UsageError } from '../errors.js';
import { configuredObjectives, type Objective } from '../pareto/objectives.js';
import { frontRows, toCsv, toJson } from '../report/export.js';
import { findingsPage } from '../report/markdown.js';
import { IMPORTANCE_HEAD, importanceLead, importanceRows, unitImportance } from '../report/importance.js';
import { plotSvg } from '../report/plot.js';
import { summarize, type SweepSummary } from '../report/summary.js';
import { renderReport, reportJson } from '../report/table.js';
import { openStoreForReading, storeUrl } from '../store/index.js';
import type { StoreReader, SweepRow, TrialRow } from '../store/types.js';
import type { SweepStore } from '../store/store.js';
import { writeFrontWeights } from '../deploy/weights.js';
import { version } from '../version.js';


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
  return flag ?? configuredObjectives(sweep.config);
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
  fn: (s: SweepSummary, sweep: SweepRow, trials: TrialRow[], store: SweepStore) => T,
): Promise<Awaited<T>> {
  const store = await openStoreForReading(storeUrl(opts));
  try {
    const sweep = await resolveSweep(store, opts.sweep);
    const objectives = resolveObjectives(objectivesFlag, sweep);
    const trials = await store.trials(sweep.name);
    return await fn(summarize(sweep.name, trials, objectives), sweep, trials, store);
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

const PLOT_FILE = 'accuracy-macs.svg';
const FRONT_FILE = 'front.csv';

/** The findings page at `out`, its plot and the front's CSV beside it. */
function writeFindings(s: SweepSummary, sweep: SweepRow, trials: TrialRow[], out: string, opts: Common & { notes?: string }): void {
  let notes: string | undefined;
  if (opts.notes !== undefined) {
    try {
      notes = readFileSync(opts.notes, 'utf8');
    } catch (err) {
      throw new UsageError(`--notes: cannot read ${opts.notes}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const dir = dirname(out);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`cannot create ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  emit(plotSvg(s.candidates, { title: `${s.sweep}: accuracy vs MACs (${context(sweep)})` }), join(dir, PLOT_FILE));
  emit(toCsv(frontRows(s.front)), join(dir, FRONT_FILE));
  const reproduce: string[] = [];
  const db = opts.db ?? (opts.store?.startsWith('sqlite:') ? opts.store.slice('sqlite:'.length) : undefined);
  if (existsSync(join('configs', `${sweep.name}.json`))) {
    reproduce.push(
      existsSync(join('scripts', 'run-studies.sh')) && sweep.name.startsWith('study-')
        ? `scripts/run-studies.sh ${sweep.name}`
        : `dsxplore sweep --config configs/${sweep.name}.json${db ? ` --db ${db}` : ''}`,
    );
  }
  if (db) {
    reproduce.push(`dsxplore report --db ${db} --sweep ${sweep.name}`);
    if (existsSync(join('scripts', 'rerun-front.ts'))) reproduce.push(`node --import tsx scripts/rerun-front.ts --db ${db}   # retrain a front design, compare bit for bit`);
  }
  emit(findingsPage({ summary: s, sweep, trials, plot: PLOT_FILE, frontCsv: FRONT_FILE, notes, version, reproduce }), out);
  process.stderr.write(`wrote ${out}, ${join(dir, PLOT_FILE)} and ${join(dir, FRONT_FILE)} (sweep ${s.sweep})\n`);
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
    .option('--objectives <list>', 'objectives of the front: accuracy,macs[,params][,latency] (default: the sweep config\'s)')
    .option('--json', 'print one JSON object instead of tables (same as --format json)')
    .addOption(new Option('--format <format>', 'terminal tables, one JSON object, or a markdown findings page').choices(['terminal', 'json', 'markdown']))
    .option('--out <file>', 'write to FILE; --format markdown needs it (e.g. results/study-x/README.md)')
    .option('--notes <file>', 'markdown: a file of study notes to include in the page')
    .option('--importance', "which unit's choice drives accuracy once cost (log-MACs) is taken out; needs two finished designs per option of every unit")
    .addHelpText(
      'after',
      `${HOW}

--format markdown --out DIR/README.md writes a self-contained findings page: the question,
the summary (a difference is called only beyond the seeds' spread, otherwise "within
noise"), the plot (DIR/${PLOT_FILE}, also written), the front (DIR/${FRONT_FILE}, also
written), the baselines against SCC, every candidate's mean and spread over seeds, failed
and pruned runs, the machine, version and wall time, what determinism depends on, and the
config inline.`,
    )
    .action(async (raw: unknown) => {
      const opts = parseFlags(reportFlagsSchema, raw);
      const format = opts.format ?? (opts.json ? 'json' : 'terminal');
      if (opts.json && format !== 'json') throw new UsageError(`--json and --format ${format} disagree; give one of them`);
      if (format === 'markdown' && !opts.out) {
        throw new UsageError('--format markdown needs --out DIR/README.md (the plot and front.csv are written beside it)');
      }
      if (opts.notes !== undefined && format !== 'markdown') throw new UsageError('--notes goes with --format markdown');
      if (opts.importance && format === 'markdown') {
        throw new UsageError('--importance prints the importance alone; the findings page (--format markdown) has it as a section already');
      }
      await withSummary(opts, opts.objectives, (s, sweep, trials) => {
        if (opts.importance) {
          const tie = (sweep.config as { space?: { tie?: string } } | null)?.space?.tie;
          const r = unitImportance(s.candidates, tie);
          if (format === 'json') return emit(`${JSON.stringify({ sweep: s.sweep, importance: r }, null, 2)}\n`, opts.out);
          if (!r.ok) return emit(`importance: sweep ${s.sweep}: ${r.message}\n`, opts.out);
          const rows = importanceRows(r);
          const w = IMPORTANCE_HEAD.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
          const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
          return emit([`importance: sweep ${s.sweep}`, importanceLead(r), '', line(IMPORTANCE_HEAD), ...rows.map(line), ''].join('\n'), opts.out);
        }
        if (format === 'markdown') writeFindings(s, sweep, trials, opts.out!, opts);
        else emit(format === 'json' ? `${JSON.stringify(reportJson(s), null, 2)}\n` : renderReport(s, context(sweep)), opts.out);
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
    .option('--objectives <list>', 'objectives of the front: accuracy,macs[,params][,latency] (default: the sweep config\'s)')
    .option('--out <file>', 'write to FILE instead of standard output')
    .option('--weights <dir>', 'also write each front candidate\'s trained weights to DIR/<hash>.dsx (read by evaluate --load and export --load)')
    .addHelpText(
      'after',
      `
Columns: label, hash, baseline, accuracy (mean over seeds), accuracy_std, seeds, epochs,
macs, flops (= 2*macs), params, latency_ms (when the sweep measured latency), then slot_0..slot_N: each slot's setting, e.g.
"dw-scc:cg=2,s=8,co=0.5". JSON gives the same rows with the slots as objects.${HOW}`,
    )
    .action(async (raw: unknown) => {
      const opts = parseFlags(paretoExportFlagsSchema, raw);
      await withSummary(opts, opts.objectives, async (s, _sweep, _trials, store) => {
        // weights first: when they cannot all be written, nothing is
        const written = opts.weights !== undefined ? await writeFrontWeights(store, s.sweep, s.front, s.epochs, opts.weights) : [];
        for (const w of written) process.stderr.write(`wrote ${w.file}: ${w.label} (trial ${w.trial})\n`);
        const rows = frontRows(s.front);
        emit(opts.format === 'json' ? toJson(rows) : toCsv(rows), opts.out);
        if (opts.out) process.stderr.write(`wrote ${rows.length} front rows of sweep ${s.sweep} to ${opts.out}\n`);
      });
    });
  pareto
    .command('plot')
    .description('accuracy against MACs (log scale) as SVG: candidates, the front as a step line, baselines labelled')
    .requiredOption('--out <file>', 'SVG file to write')
    .addOption(new Option('--x <cost>', 'the cost on the x axis: macs, or latency (measured by a sweep with the latency objective)').choices(['macs', 'latency']).default('macs'))
    .addOption(sweepOpt())
    .addOption(dbOpt())
    .addOption(storeOpt())
    .action(async (raw: unknown) => {
      const opts = parseFlags(paretoPlotFlagsSchema, raw);
      await withSummary(opts, undefined, (s, sweep) => {
        if (opts.x === 'latency' && !s.latency) {
          throw new UsageError(`--x latency: sweep ${s.sweep} has no measured latency; sweep with "objectives": ["accuracy", "latency"]`);
        }
        const what = opts.x === 'latency' ? 'latency' : 'MACs';
        emit(plotSvg(s.candidates, { x: opts.x, title: `${s.sweep}: accuracy vs ${what} (${context(sweep)})` }), opts.out);
        process.stderr.write(`wrote ${opts.out}: ${s.candidates.length} candidates, ${s.front.length} on the front\n`);
      });
    });
}
