// `dsxplore report`: read a sweep's trials from the store and show what was found: tables,
// one JSON object, or a markdown findings page. Reading only: nothing here writes to the
// database.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { addFlags, choice, flag, jsonFlag, OBJECTIVES_FLAG, parseFlags, READ_FLAGS, toggle } from '../config/flags.js';
import { path } from '../config/rules.js';
import { UsageError } from '../errors.js';
import { frontRows, toCsv } from '../report/export.js';
import { findingsPage } from '../report/markdown.js';
import { IMPORTANCE_HEAD, importanceLead, importanceRows, unitImportance } from '../report/importance.js';
import { plotSvg } from '../report/plot.js';
import { READING_HELP, readSweep, sweepContext, writeOut } from '../report/read.js';
import type { SweepSummary } from '../report/summary.js';
import { renderReport, reportJson } from '../report/table.js';
import { isTTY } from '../report/text-table.js';
import { openStoreForReading, storeUrl } from '../store/index.js';
import type { SweepRow, TrialRow } from '../domain/rows.js';
import { version } from '../version.js';

const PLOT_FILE = 'accuracy-macs.svg';
const FRONT_FILE = 'front.csv';

/** The findings page at `out`, its plot and the front's CSV beside it. */
function writeFindings(s: SweepSummary, sweep: SweepRow, trials: TrialRow[], out: string, opts: { db?: string; store?: string; notes?: string }): void {
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
  writeOut(plotSvg(s.candidates, { title: `${s.sweep}: accuracy vs MACs (${sweepContext(sweep)})` }), join(dir, PLOT_FILE));
  writeOut(toCsv(frontRows(s.front)), join(dir, FRONT_FILE));
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
  writeOut(findingsPage({ summary: s, sweep, trials, plot: PLOT_FILE, frontCsv: FRONT_FILE, notes, version, reproduce }), out);
  process.stderr.write(`wrote ${out}, ${join(dir, PLOT_FILE)} and ${join(dir, FRONT_FILE)} (sweep ${s.sweep})\n`);
}

const REPORT_FLAGS = {
  ...READ_FLAGS,
  objectives: OBJECTIVES_FLAG,
  json: jsonFlag('print one JSON object instead of tables (same as --format json)'),
  format: choice('--format <format>', 'terminal tables, one JSON object, or a markdown findings page', ['terminal', 'json', 'markdown']),
  out: flag('--out <file>', 'write to FILE; --format markdown needs it (e.g. results/study-x/README.md)', path()),
  notes: flag('--notes <file>', 'markdown: a file of study notes to include in the page', path()),
  importance: toggle(
    '--importance',
    "which unit's choice drives accuracy once cost (log-MACs) is taken out; needs two finished designs per option of every unit",
  ),
};

/** --importance: which unit's choice drives accuracy, as a table or one JSON object. */
function importanceText(s: SweepSummary, sweep: SweepRow, json: boolean): string {
  const tie = (sweep.config as { space?: { tie?: string } } | null)?.space?.tie;
  const r = unitImportance(s.candidates, tie);
  if (json) return `${JSON.stringify({ sweep: s.sweep, importance: r }, null, 2)}\n`;
  if (!r.ok) return `importance: sweep ${s.sweep}: ${r.message}\n`;
  const rows = importanceRows(r);
  const w = IMPORTANCE_HEAD.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [`importance: sweep ${s.sweep}`, importanceLead(r), '', line(IMPORTANCE_HEAD), ...rows.map(line), ''].join('\n');
}

export function registerReport(program: Command): void {
  const cmd = program
    .command('report')
    .description('what a sweep found: states, the Pareto front, baselines against SCC, hypervolume');
  addFlags(cmd, REPORT_FLAGS)
    .addHelpText(
      'after',
      `${READING_HELP}

--format markdown --out DIR/README.md writes a self-contained findings page: the question,
the summary (a difference is called only beyond the seeds' spread, otherwise "within
noise"), the plot (DIR/${PLOT_FILE}, also written), the front (DIR/${FRONT_FILE}, also
written), the baselines against SCC, every candidate's mean and spread over seeds, failed
and pruned runs, the machine, version and wall time, what determinism depends on, and the
config inline.`,
    )
    .action(async (raw: unknown) => {
      const opts = parseFlags(REPORT_FLAGS, raw);
      const format = opts.format ?? (opts.json ? 'json' : 'terminal');
      if (opts.json && format !== 'json') throw new UsageError(`--json and --format ${format} disagree; give one of them`);
      if (format === 'markdown' && !opts.out) {
        throw new UsageError('--format markdown needs --out DIR/README.md (the plot and front.csv are written beside it)');
      }
      if (opts.notes !== undefined && format !== 'markdown') throw new UsageError('--notes goes with --format markdown');
      if (opts.importance && format === 'markdown') {
        throw new UsageError('--importance prints the importance alone; the findings page (--format markdown) has it as a section already');
      }
      const store = await openStoreForReading(storeUrl(opts));
      try {
        const { summary: s, sweep, trials } = await readSweep(store, opts.sweep, opts.objectives);
        if (opts.importance) writeOut(importanceText(s, sweep, format === 'json'), opts.out);
        else if (format === 'markdown') writeFindings(s, sweep, trials, opts.out!, opts);
        else writeOut(format === 'json' ? `${JSON.stringify(reportJson(s), null, 2)}\n` : renderReport(s, sweepContext(sweep), { tty: !opts.out && isTTY() }), opts.out);
      } finally {
        await store.close();
      }
    });
}
