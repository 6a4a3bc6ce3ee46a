// The findings page of a sweep (`dsxplore report --format markdown`): one self-contained
// markdown file that states the question, the setup (config inline, machine, version,
// wall time), the plot, the front and the baseline comparison with each candidate's mean
// and spread over seeds, and a generated summary. A pure function of store rows and
// metadata, so it is tested on hand-built rows.
//
// The summary only calls a difference real when it exceeds the seeds' spread: two
// candidates differ when their seed ranges do not overlap; a candidate trained with one
// seed gets a range as wide as the widest seen in the sweep. Without any multi-seed
// candidate the noise is unknown and nothing is called.
import { IMPORTANCE_HEAD, importanceLead, importanceRows, reliabilityText, seedReliability, unitImportance } from './importance.js';
import { formatCount, formatPercent as pct } from './format.js';
import { candidateResults, isScc, STATES, type SweepSummary } from './summary.js';
import { slotsText } from '../models/notation.js';
import { compareAccuracy, seedNoise, type Verdict, type VerdictKind } from './verdict.js';
import { effectRows, effectVerdictText, sideText, type EffectsSummary } from './effects.js';
import { MIXED_HEAD, mixedAnswer, mixedRows } from './mixed.js';
import type { CandidateResult } from '../domain/candidate.js';
import type { SweepRow, TrialRow } from '../domain/rows.js';

export const QUESTION =
  'Does sliding-channel convolution (SCC) trade accuracy for cost better than standard, ' +
  'depthwise-separable, grouped and shuffled convolutions?';

const pt = (d: number) => `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)} pt`;

/** "91.20% ± 0.14 (2 seeds: 91.10–91.30)" or "91.20% (1 seed)" */
export function accuracyText(c: CandidateResult): string {
  if (c.seedAccuracies.length < 2) return `${pct(c.accuracy)} (1 seed)`;
  const lo = Math.min(...c.seedAccuracies);
  const hi = Math.max(...c.seedAccuracies);
  return `${pct(c.accuracy)} ± ${(c.accuracyStd * 100).toFixed(2)} (${c.seeds.length} seeds: ${(lo * 100).toFixed(2)}–${(hi * 100).toFixed(2)})`;
}

const VERDICT_TEXT: Record<VerdictKind, string> = {
  better: 'SCC better, beyond the seeds\' spread',
  worse: 'SCC worse, beyond the seeds\' spread',
  'within-noise': 'within noise',
  unknown: 'noise unknown (one seed everywhere)',
};

const MIXED_VERDICT: Record<VerdictKind, string> = {
  better: "mixed better, beyond the seeds' spread",
  worse: "mixed worse, beyond the seeds' spread",
  'within-noise': 'within noise',
  unknown: 'noise unknown (one seed everywhere)',
};

export interface SummaryLine {
  baseline: string;
  scc: string | null;
  verdict: Verdict | null;
  text: string;
}

/** For each baseline, the most accurate SCC design with no more MACs, judged against the
 * seeds' spread; then one headline sentence counting the verdicts. */
export function findingsSummary(s: SweepSummary): { headline: string; lines: SummaryLine[] } {
  const noise = seedNoise(s.candidates);
  const lines: SummaryLine[] = s.baselines.map((b) => {
    if (!b.best) {
      return {
        baseline: b.baseline.label,
        scc: null,
        verdict: null,
        text: `No SCC design costs as little as **${b.baseline.label}** (${formatCount(b.baseline.macs)} MACs, ${accuracyText(b.baseline)}).`,
      };
    }
    const v = compareAccuracy(b.best, b.baseline, noise);
    const ratio = b.best.macs / b.baseline.macs;
    const cost = Math.abs(ratio - 1) < 0.005 ? 'equal MACs' : `${(ratio * 100).toFixed(0)}% of its MACs`;
    return {
      baseline: b.baseline.label,
      scc: b.best.label,
      verdict: v,
      text:
        `**${b.best.label}** (${accuracyText(b.best)}, ${cost}) against **${b.baseline.label}** ` +
        `(${accuracyText(b.baseline)}, ${formatCount(b.baseline.macs)} MACs): ${pt(v.diff)}, ${VERDICT_TEXT[v.kind]}.`,
    };
  });
  const judged = lines.filter((l) => l.verdict);
  const count = (k: VerdictKind) => judged.filter((l) => l.verdict!.kind === k).length;
  const names = (k: VerdictKind) => judged.filter((l) => l.verdict!.kind === k).map((l) => l.baseline);
  let headline: string;
  if (s.candidates.length === 0) headline = 'No candidate finished: nothing to compare.';
  else if (lines.length === 0) headline = 'The sweep has no baselines: nothing to compare SCC with.';
  else if (judged.length === 0) headline = 'No SCC design costs as little as any baseline.';
  else if (noise === null) {
    headline =
      `Every candidate was trained with one seed, so the noise is unknown and no difference is called: ` +
      `the best SCC design at no more MACs is ahead of ${judged.filter((l) => l.verdict!.diff > 0).length} of ${judged.length} baselines by its single run.`;
  } else {
    const parts = [
      `At no more MACs, the best SCC design beats ${count('better')} of ${judged.length} baselines beyond the seeds' spread` +
        (count('better') ? ` (${names('better').join(', ')})` : ''),
      `loses to ${count('worse')}` + (count('worse') ? ` (${names('worse').join(', ')})` : ''),
      `and is within noise of ${count('within-noise')}` + (count('within-noise') ? ` (${names('within-noise').join(', ')})` : ''),
    ];
    headline = `${parts.join(', ')}. Noise: the widest seed range of any candidate, ${(noise * 100).toFixed(2)} pt.`;
  }
  return { headline, lines };
}

/** One sentence per cg: overlap's own effect and mixing's, each with its verdict. */
export function effectsLines(e: EffectsSummary): string[] {
  return e.byCg.map(({ cg, overlap, mixing }) => {
    const one = (x: typeof overlap, name: string) =>
      x.verdict === null
        ? `${name}: ${x.missing}`
        : `${name}: **${x.treatment!.label}** ${sideText(x.treatment)} against **${x.reference!.label}** ${sideText(x.reference)}, ` +
          `${pt(x.diff!)}, ${effectVerdictText(x)}`;
    return `cg = ${cg}. ${one(overlap, 'Overlap')}. ${one(mixing, 'Mixing')}.`;
  });
}

const EFFECTS_EXPLAINED =
  'At co = 0 (s = D) SCC output c reads channel group c mod cg: it computes a grouped 1x1 conv followed by ' +
  "ShuffleNet's channel shuffle (`dw-gpw-shuffle`), not `dw-gpw`, whose next layer's groups never mix. A gain of SCC " +
  "over `dw-gpw` may therefore be the shuffle's. Overlap's own effect is the best co > 0 against co = 0 at the same cg " +
  "(equal MACs); mixing's effect is `dw-gpw-shuffle` against `dw-gpw`. Each is called by the same rule as the baselines.";

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(head: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const sep = align.map((a) => (a === 'r' ? '---:' : ':---'));
  return [head, sep, ...rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
}

export function duration(seconds: number): string {
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : m > 0 ? `${m} min ${String(s).padStart(2, '0')} s` : `${s} s`;
}

function distinct(values: unknown[]): string[] {
  return [...new Set(values.filter((v) => v !== undefined && v !== null && v !== '').map(String))];
}

/** What ran the trials, from their recorded provenance. */
export function machineFacts(trials: readonly TrialRow[]): Record<string, string[]> {
  const prov = trials.map((t) => t.provenance ?? {}).filter((p) => Object.keys(p).length > 0);
  const get = (k: string) => distinct(prov.map((p) => p[k]));
  return {
    host: get('host'),
    cpu: get('cpu'),
    platform: get('platform'),
    node: get('node'),
    device: distinct(trials.map((t) => t.device)),
    threads: get('threads'),
    dsxplore: get('dsxplore'),
  };
}

/** First start to last finish over the sweep's trials, and the trials' summed training time. */
export function wallTime(trials: readonly TrialRow[]): { wallSeconds: number | null; trainSeconds: number; from?: string; to?: string } {
  const starts = trials.map((t) => t.startedAt).filter((x): x is string => typeof x === 'string').sort();
  const ends = trials.map((t) => t.finishedAt).filter((x): x is string => typeof x === 'string').sort();
  const trainSeconds = trials.reduce((a, t) => a + (t.seconds ?? 0), 0);
  if (starts.length === 0 || ends.length === 0) return { wallSeconds: null, trainSeconds };
  const from = starts[0]!;
  const to = ends.at(-1)!;
  return { wallSeconds: (Date.parse(to) - Date.parse(from)) / 1000, trainSeconds, from, to };
}

export interface FindingsInput {
  summary: SweepSummary;
  sweep: SweepRow;
  trials: readonly TrialRow[];
  /** the plot's path relative to the page */
  plot: string;
  /** the front's CSV, relative to the page, when written beside it */
  frontCsv?: string;
  /** the study's own notes (markdown): subsets, what was left out and why */
  notes?: string;
  /** the dsxplore version writing the page */
  version: string;
  /** commands that run the study again and read it back, shown as given */
  reproduce?: string[];
}

/** Successive halving's lower rungs: every candidate's result at each lower fidelity and
 * whether it climbed, so a reader can judge what the pruning may have cost. */
function lowerRungs(trials: readonly TrialRow[], s: SweepSummary): string[] {
  const epochsList = [...new Set(trials.filter((t) => t.state === 'done').map((t) => t.epochs))].filter((e) => e < s.epochs!).sort((a, b) => a - b);
  const out: string[] = [
    `Successive halving: only the ${s.epochs}-epoch results are compared above (baselines always climb). The lower rungs:`,
    '',
  ];
  for (const e of epochsList) {
    const { candidates } = candidateResults(trials.filter((t) => t.epochs === e));
    const higher = new Set(trials.filter((t) => t.epochs > e).map((t) => t.candidateHash));
    out.push(`At ${e} epoch${e === 1 ? '' : 's'}: ${candidates.length} candidates, ${candidates.filter((c) => higher.has(c.hash)).length} of them trained further.`);
    out.push('');
    out.push(
      table(
        ['design', 'accuracy', 'MACs', 'trained further'],
        [...candidates]
          .sort((a, b) => Number(a.baseline) - Number(b.baseline) || b.accuracy - a.accuracy)
          .map((c) => [designCell(c), accuracyText(c), formatCount(c.macs), higher.has(c.hash) ? 'yes' : 'no']),
        ['l', 'r', 'r', 'l'],
      ),
    );
    out.push('');
  }
  return out.slice(0, -1);
}

/** JSON with arrays of plain values kept on one line, for a config that reads like the file. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s*\n\s*((?:(?:-?[\d.e+-]+|"[^"\n]*"|true|false|null),?\s*\n\s*)*)\]/g, (_m, body: string) =>
    `[${body.split('\n').map((x) => x.trim()).filter(Boolean).join(' ')}]`,
  );
}

function designCell(c: CandidateResult): string {
  return `${c.baseline ? 'baseline ' : ''}${c.label}`;
}

/** The findings page as markdown text. */
export function findingsPage(input: FindingsInput): string {
  const { summary: s, sweep, trials } = input;
  const config = (sweep.config ?? {}) as Record<string, any>;
  const out: string[] = [];
  const model = typeof config.model === 'string' ? config.model : '?';
  const dataset = config.dataset ?? {};
  out.push(`# Findings: ${sweep.name}`);
  out.push('');
  out.push(`**Question.** ${QUESTION} Here: ${model} on ${dataset.name ?? '?'}, accuracy against MACs per image.`);
  out.push('');
  out.push(
    `Sweep \`${sweep.name}\` (${sweep.status}), ${s.trials} trials: ${STATES.map((st) => `${st} ${s.counts[st]}`).join(', ')}.` +
      (s.epochs !== null ? ` Compared: ${s.candidates.length} candidates finished at ${s.epochs} epoch${s.epochs === 1 ? '' : 's'}.` : ''),
  );
  out.push('');

  out.push('## Summary');
  out.push('');
  const { headline, lines } = findingsSummary(s);
  out.push(headline);
  out.push('');
  for (const l of lines) out.push(`- ${l.text}`);
  if (lines.some((l) => l.verdict)) {
    out.push('');
    out.push(
      'The best SCC design for each baseline is picked by its mean accuracy among several settings, which flatters it ' +
        'slightly; a difference is called only when the seed ranges do not overlap (a one-seed candidate gets a range as ' +
        'wide as the widest seed range in the sweep).',
    );
  }
  if (s.effects.byCg.length > 0) {
    out.push('');
    out.push('Overlap and channel mixing, separated (dw-scc at co = 0 is dw-gpw followed by a channel shuffle; see the section of that name):');
    out.push('');
    for (const l of effectsLines(s.effects)) out.push(`- ${l}`);
  }
  out.push('');

  out.push('## Accuracy against MACs');
  out.push('');
  out.push(`![accuracy against MACs](${input.plot})`);
  out.push('');
  out.push(
    `Every finished candidate (grey), the accuracy/MACs Pareto front (blue step line) and the baselines (orange squares); ` +
      `MACs on a log scale.${input.frontCsv ? ` The front as CSV: [${input.frontCsv}](${input.frontCsv}).` : ''}`,
  );
  out.push('');

  out.push(`## Pareto front over ${s.objectives.join(', ')}`);
  out.push('');
  if (s.front.length === 0) out.push('No finished candidates yet.');
  else {
    out.push(
      table(
        ['#', 'design', 'accuracy (mean ± std over seeds)', 'MACs', 'params', 'slots'],
        s.front.map((c, i) => [String(i + 1), designCell(c), accuracyText(c), formatCount(c.macs), formatCount(c.params), slotsText(c.variants)]),
        ['r', 'l', 'r', 'r', 'r', 'l'],
      ),
    );
  }
  out.push('');

  out.push('## Baselines against the best SCC design with no more MACs');
  out.push('');
  if (s.baselines.length === 0) out.push('The sweep has no baselines.');
  else {
    const noise = seedNoise(s.candidates);
    out.push(
      table(
        ['baseline', 'accuracy', 'MACs', 'best SCC design', 'accuracy', 'MACs (of baseline)', 'difference', 'verdict'],
        s.baselines.map((b) => {
          if (!b.best) return [b.baseline.label, accuracyText(b.baseline), formatCount(b.baseline.macs), '(none this cheap)', '', '', '', ''];
          const v = compareAccuracy(b.best, b.baseline, noise);
          return [
            b.baseline.label,
            accuracyText(b.baseline),
            formatCount(b.baseline.macs),
            b.best.label,
            accuracyText(b.best),
            `${formatCount(b.best.macs)} (${((b.macsRatio ?? 0) * 100).toFixed(0)}%)`,
            pt(v.diff),
            VERDICT_TEXT[v.kind],
          ];
        }),
        ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'l'],
      ),
    );
  }
  out.push('');

  if (s.effects.byCg.length > 0) {
    out.push('## Overlap and channel mixing, separated');
    out.push('');
    out.push(EFFECTS_EXPLAINED);
    out.push('');
    out.push(
      table(
        ['cg', 'effect', 'design', 'accuracy (seed range)', 'against', 'accuracy (seed range)', 'difference', 'verdict'],
        effectRows(s.effects),
        ['r', 'l', 'l', 'r', 'l', 'r', 'r', 'l'],
      ),
    );
    out.push('');
  }

  if (s.mixed) {
    out.push('## Mixed against uniform designs');
    out.push('');
    out.push(
      'A uniform design puts one variant in every slot; a mixed one does not. For each uniform design: the most accurate ' +
        'mixed design with no more MACs, called by the same rule as the baselines. Picking the best of many mixed designs ' +
        'by their seed means flatters the pick, so the last column picks it on one seed and judges it on the other.',
    );
    out.push('');
    out.push(`**Answer.** ${mixedAnswer(s.mixed)}`);
    out.push('');
    out.push(table(MIXED_HEAD, mixedRows(s.mixed, accuracyText, formatCount, (k) => MIXED_VERDICT[k]), ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'l', 'l']));
    out.push('');
  }

  out.push('## Signal against noise');
  out.push('');
  const rel = seedReliability(s.candidates);
  out.push(rel ? reliabilityText(rel) : 'Fewer than three designs were trained with two seeds or more: the seed noise is not measured.');
  out.push('');

  out.push("## Which unit's choice matters, after cost");
  out.push('');
  const imp = unitImportance(s.candidates, typeof config.space?.tie === 'string' ? config.space.tie : undefined);
  if (!imp.ok) out.push(`Not computed: ${imp.message}.`);
  else {
    out.push(importanceLead(imp));
    out.push('');
    out.push(table(IMPORTANCE_HEAD, importanceRows(imp), ['l', 'r', 'l', 'l']));
  }
  out.push('');

  out.push('## Every candidate, mean and spread over seeds');
  out.push('');
  if (s.candidates.length === 0) out.push('No finished candidates yet.');
  else {
    const frontSet = new Set(s.front.map((c) => c.hash));
    const rows = [...s.candidates]
      .sort((a, b) => a.macs - b.macs || b.accuracy - a.accuracy)
      .map((c) => [
        designCell(c),
        isScc(c) ? 'SCC' : c.baseline ? 'baseline' : 'other',
        String(c.seeds.length),
        pct(c.accuracy),
        c.seeds.length > 1 ? (c.accuracyStd * 100).toFixed(2) : '–',
        c.seedAccuracies.map((a) => (a * 100).toFixed(2)).join(', '),
        formatCount(c.macs),
        formatCount(c.params),
        frontSet.has(c.hash) ? 'yes' : '',
      ]);
    out.push(
      table(['design', 'kind', 'seeds', 'mean accuracy', 'std (pt)', 'per seed (%)', 'MACs', 'params', 'on front'], rows, [
        'l', 'l', 'r', 'r', 'r', 'l', 'r', 'r', 'l',
      ]),
    );
  }
  out.push('');

  out.push('## Failed, diverged, pruned and lower-rung runs');
  out.push('');
  const notDone = trials.filter((t) => t.state !== 'done');
  const lowRung = trials.filter((t) => t.state === 'done' && s.epochs !== null && t.epochs < s.epochs);
  if (notDone.length === 0) out.push('Every trial finished (none failed, diverged, was pruned or is still queued).');
  else {
    out.push(
      table(
        ['trial', 'design', 'seed', 'epochs', 'state', 'message'],
        notDone.map((t) => [String(t.id), t.label, String(t.seed), String(t.epochs), t.state, (t.error ?? '').slice(0, 160)]),
        ['r', 'l', 'r', 'r', 'l', 'l'],
      ),
    );
  }
  if (lowRung.length > 0) out.push('', ...lowerRungs(trials, s));
  out.push('');

  out.push('## Setup');
  out.push('');
  const facts = machineFacts(trials);
  const time = wallTime(trials);
  const rec = config.recipe ?? {};
  const mf = config.multiFidelity;
  const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'not recorded');
  const setup: string[] = [
    `- Model: ${model}; dataset: ${dataset.name ?? '?'}` +
      (dataset.limitTrain ? `, trained on the first ${dataset.limitTrain} training images` : ', the full training set') +
      (dataset.limitTest ? `, evaluated on the first ${dataset.limitTest} test images` : dataset.validation ? `, ranked on a held-out validation split (${dataset.validation})` : ', evaluated on the full test set') +
      '.',
    `- Recipe: ${mf ? `rungs ${JSON.stringify(mf.rungs)} epochs (successive halving, eta ${mf.eta ?? 3})` : `${rec.epochs ?? 1} epoch(s)`}, ` +
      `batch ${rec.batchSize ?? 128}, lr ${rec.lr ?? 0.1}, ${typeof rec.schedule === 'object' ? rec.schedule?.kind : (rec.schedule ?? 'cosine')} schedule; ` +
      `seeds ${JSON.stringify(config.seeds ?? [0])}${mf?.lowerRungSeeds ? ` (the first ${mf.lowerRungSeeds} on the lower rungs)` : ''}.`,
    `- Machine: host ${list(facts.host)}; CPU ${list(facts.cpu)}; ${list(facts.platform)}; Node ${list(facts.node)}.`,
    `- Device ${list(facts.device)}, ${list(facts.threads)} thread(s) per trial; dsxplore ${list(facts.dsxplore)} (this page: ${input.version}).`,
    time.wallSeconds === null
      ? '- Wall time: no trial has run.'
      : `- Wall time: ${duration(time.wallSeconds)} (first trial started ${time.from}, last finished ${time.to}); ` +
        `training time summed over trials: ${duration(time.trainSeconds)}.`,
  ];
  out.push(...setup);
  out.push('');

  if (input.notes && input.notes.trim()) {
    out.push('## Notes on this study');
    out.push('');
    out.push(input.notes.trim());
    out.push('');
  }

  out.push('## Reproducibility');
  out.push('');
  out.push(
    'A trial is deterministic on the CPU: rerunning it with the same build of the native addon (compiler and flags), ' +
      'the same thread count and the same seed gives the same accuracy and training loss bit for bit ' +
      '(test/study-reproducibility.test.ts checks this on a reduced trial). What the result depends on:',
  );
  out.push('');
  out.push('- the seed: initialisation, shuffling and augmentation all draw from it;');
  out.push(
    '- the thread count: the CPU kernels split reductions (batch-norm statistics, weight gradients) by thread, so another ' +
      'count sums in another order, changes the last bits, and after thousands of SGD steps the accuracy\'s last digits;',
  );
  out.push(
    '- CPU or GPU: the CUDA kernels reduce in a fixed order too (no atomics in weight gradients), but a GPU run is not ' +
      'bit-identical to a CPU run, and cuBLAS, when present, may pick different algorithms on different GPUs;',
  );
  out.push('- the build: another compiler, flags or instruction set (vector width) rounds differently;');
  out.push('- the data: the same dataset files and the same subset (limits and validation split are in the config).');
  out.push('');
  if (input.reproduce?.length) {
    out.push('To run it again, and to read these results without training:');
    out.push('');
    out.push('```sh');
    out.push(...input.reproduce);
    out.push('```');
    out.push('');
  }

  out.push('## Config');
  out.push('');
  out.push('```json');
  out.push(compactJson(sweep.config));
  out.push('```');
  out.push('');
  return `${out.join('\n')}\n`;
}
