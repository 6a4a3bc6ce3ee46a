// `dsxplore pareto export|plot`: the accuracy/cost Pareto front of a sweep in the store, as
// CSV/JSON rows (and the front's trained weights) or as an SVG plot. Reading only.
import type { Command } from 'commander';
import { addFlags, choice, flag, OBJECTIVES_FLAG, parseFlags, READ_FLAGS } from '../config/flags.js';
import { path } from '../config/rules.js';
import { writeFrontWeights } from '../deploy/weights.js';
import { UsageError } from '../errors.js';
import { frontRows, toCsv, toJson } from '../report/export.js';
import { plotSvg } from '../report/plot.js';
import { READING_HELP, readSweep, sweepContext, writeOut } from '../report/read.js';
import { openStoreForReading, storeUrl } from '../store/index.js';

const EXPORT_FLAGS = {
  format: choice('--format <format>', 'output format', ['csv', 'json'], { default: 'csv' }),
  ...READ_FLAGS,
  objectives: OBJECTIVES_FLAG,
  out: flag('--out <file>', 'write to FILE instead of standard output', path()),
  weights: flag(
    '--weights <dir>',
    "also write each front candidate's trained weights to DIR/<hash>.dsx (read by evaluate --load and export --load)",
    path(),
  ),
};

const PLOT_FLAGS = {
  out: flag('--out <file>', 'SVG file to write', path(), { required: true }),
  x: choice('--x <cost>', 'the cost on the x axis: macs, or latency (measured by a sweep with the latency objective)', ['macs', 'latency'], {
    default: 'macs',
  }),
  ...READ_FLAGS,
};

export function registerPareto(program: Command): void {
  const pareto = program.command('pareto').description('export or plot the accuracy/cost Pareto front of a sweep');
  const exporter = pareto.command('export').description('the non-dominated finished candidates, one row each, as CSV or JSON');
  addFlags(exporter, EXPORT_FLAGS)
    .addHelpText(
      'after',
      `
Columns: label, hash, baseline, accuracy (mean over seeds), accuracy_std, seeds, epochs,
macs, flops (= 2*macs), params, latency_ms (when the sweep measured latency), then slot_0..slot_N: each slot's setting, e.g.
"dw-scc:cg=2,s=8,co=0.5". JSON gives the same rows with the slots as objects.${READING_HELP}`,
    )
    .action(async (raw: unknown) => {
      const opts = parseFlags(EXPORT_FLAGS, raw);
      const store = await openStoreForReading(storeUrl(opts));
      try {
        const { summary: s } = await readSweep(store, opts.sweep, opts.objectives);
        // weights first: when they cannot all be written, nothing is
        const written = opts.weights !== undefined ? await writeFrontWeights(store, s.sweep, s.front, s.epochs, opts.weights) : [];
        for (const w of written) process.stderr.write(`wrote ${w.file}: ${w.label} (trial ${w.trial})\n`);
        const rows = frontRows(s.front);
        writeOut(opts.format === 'json' ? toJson(rows) : toCsv(rows), opts.out);
        if (opts.out) process.stderr.write(`wrote ${rows.length} front rows of sweep ${s.sweep} to ${opts.out}\n`);
      } finally {
        await store.close();
      }
    });

  const plot = pareto
    .command('plot')
    .description('accuracy against MACs (log scale) as SVG: candidates, the front as a step line, baselines labelled');
  addFlags(plot, PLOT_FLAGS).action(async (raw: unknown) => {
    const opts = parseFlags(PLOT_FLAGS, raw);
    const store = await openStoreForReading(storeUrl(opts));
    try {
      const { summary: s, sweep } = await readSweep(store, opts.sweep);
      if (opts.x === 'latency' && !s.latency) {
        throw new UsageError(`--x latency: sweep ${s.sweep} has no measured latency; sweep with "objectives": ["accuracy", "latency"]`);
      }
      const what = opts.x === 'latency' ? 'latency' : 'MACs';
      writeOut(plotSvg(s.candidates, { x: opts.x, title: `${s.sweep}: accuracy vs ${what} (${sweepContext(sweep)})` }), opts.out);
      process.stderr.write(`wrote ${opts.out}: ${s.candidates.length} candidates, ${s.front.length} on the front\n`);
    } finally {
      await store.close();
    }
  });
}
