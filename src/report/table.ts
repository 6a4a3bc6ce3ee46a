// The text form of `dsxplore report`: state counts, the Pareto front by MACs with each
// slot's settings, baselines against the best SCC design that costs no more, overlap's and
// mixing's effects per cg, mixed against uniform designs, hypervolume.
import { textTable } from './text-table.js';
import { mixedAnswer } from './mixed.js';
import { formatCount, formatPercent as pct } from './format.js';
import { effectRows } from './effects.js';
import { STATES, type SweepSummary } from './summary.js';
import { slotsText } from '../models/notation.js';

const signedPct = (d: number) => `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pt`;

/** `tty`: draw the tables with borders (src/report/text-table.ts); plain columns otherwise. */
export function renderReport(s: SweepSummary, context = '', { tty = false }: { tty?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`sweep ${s.sweep}${context ? ` (${context})` : ''}: ${s.trials} trials`);
  lines.push(`states: ${STATES.map((st) => `${st} ${s.counts[st]}`).join(', ')}`);
  if (s.epochs === null) {
    lines.push('no finished trials yet: nothing to compare');
    return `${lines.join('\n')}\n`;
  }
  const seeds = Math.max(...s.candidates.map((c) => c.seeds.length));
  lines.push(
    `${s.candidates.length} candidates finished at ${s.epochs} epoch${s.epochs === 1 ? '' : 's'}` +
      `${seeds > 1 ? ` (accuracy: mean over up to ${seeds} seeds)` : ''}`,
  );
  lines.push('');
  lines.push(`Pareto front over ${s.objectives.join(', ')} (${s.front.length} candidates), by MACs:`);
  const timed = s.latency !== undefined;
  lines.push(
    textTable(
      s.front.map((c, i) => {
        const acc = c.seeds.length > 1 ? `${pct(c.accuracy)} ±${(c.accuracyStd * 100).toFixed(2)}` : pct(c.accuracy);
        const lat = timed ? [c.latency != null ? `${c.latency.toFixed(3)} ms` : '-'] : [];
        return [i + 1, acc, formatCount(c.macs), formatCount(c.params), ...lat, `${c.baseline ? '[baseline] ' : ''}${c.label}`, slotsText(c.variants)];
      }),
      {
        head: ['#', 'accuracy', 'MACs', 'params', ...(timed ? ['latency'] : []), 'design', 'slots (index: setting)'],
        align: ['right', 'right', 'right', 'right', ...(timed ? (['right'] as const) : []), 'left', 'left'],
        widths: [null, null, null, null, ...(timed ? [null] : []), 30, 56],
        tty,
      },
    ),
  );
  if (s.latency) {
    const r = s.latency.macsRankCorrelation;
    lines.push(
      `latency: measured for ${s.latency.measured} of ${s.candidates.length} candidates (our engine, batch 1, 1 thread, on ${s.latency.machines.join('; ') || 'unknown'}); ` +
        `rank correlation of MACs and latency (Spearman): ${r === null ? 'n/a (fewer than 3 measured)' : r.toFixed(3)}` +
        (r !== null && r < 0.9 ? ' - MACs rank these designs differently from their measured latency' : ''),
    );
  }
  if (s.baselines.length > 0) {
    lines.push('');
    lines.push('Baselines against the most accurate SCC candidate with no more MACs:');
    lines.push(
      textTable(
        s.baselines.map((b) =>
          b.best
            ? [
                b.baseline.label,
                pct(b.baseline.accuracy),
                formatCount(b.baseline.macs),
                b.best.label,
                pct(b.best.accuracy),
                `${formatCount(b.best.macs)} (${((b.macsRatio ?? 0) * 100).toFixed(0)}%)`,
                signedPct(b.accuracyDelta ?? 0),
              ]
            : [b.baseline.label, pct(b.baseline.accuracy), formatCount(b.baseline.macs), '(none this cheap)', '', '', ''],
        ),
        {
          head: ['baseline', 'accuracy', 'MACs', 'best SCC candidate', 'accuracy', 'MACs', 'accuracy diff'],
          align: ['left', 'right', 'right', 'left', 'right', 'right', 'right'],
          widths: [null, null, null, 34, null, null, null],
          tty,
        },
      ),
    );
  }
  if (s.effects.byCg.length > 0) {
    lines.push('');
    lines.push('What overlap and channel mixing each buy, per cg, at equal MACs (dw-scc at co = 0 is dw-gpw-shuffle):');
    lines.push(
      textTable(effectRows(s.effects), {
        head: ['cg', 'effect', 'design', 'accuracy (seed range)', 'against', 'accuracy (seed range)', 'difference', 'verdict'],
        align: ['right', 'left', 'left', 'right', 'left', 'right', 'right', 'left'],
        tty,
      }),
    );
  }
  if (s.mixed) {
    lines.push('');
    lines.push(`Mixed against uniform designs (each uniform design against the most accurate mixed one with no more MACs): ${mixedAnswer(s.mixed)}`);
  }
  lines.push('');
  const ref = [`accuracy ${s.reference.accuracy}`];
  if (s.objectives.includes('macs')) ref.push(`MACs ${formatCount(s.reference.macs ?? 0)}`);
  if (s.objectives.includes('params')) ref.push(`params ${formatCount(s.reference.params ?? 0)}`);
  if (s.objectives.includes('latency')) ref.push(`latency ${(s.reference.latency ?? 0).toFixed(3)} ms`);
  lines.push(
    `hypervolume: ${s.hypervolume.toFixed(4)} (accuracy x fraction of the reference cost saved; reference: ${ref.join(', ')})`,
  );
  return `${lines.join('\n')}\n`;
}

/** The JSON form of the report: the summary without the full candidate list. */
export function reportJson(s: SweepSummary): unknown {
  return {
    sweep: s.sweep,
    objectives: s.objectives,
    trials: s.trials,
    counts: s.counts,
    epochs: s.epochs,
    candidates: s.candidates.length,
    front: s.front,
    baselines: s.baselines.map((b) => ({
      baseline: b.baseline,
      best: b.best,
      accuracyDelta: b.accuracyDelta,
      macsRatio: b.macsRatio,
    })),
    effects: s.effects,
    ...(s.mixed ? { mixed: s.mixed } : {}),
    hypervolume: s.hypervolume,
    reference: s.reference,
    ...(s.latency ? { latency: s.latency } : {}),
  };
}
