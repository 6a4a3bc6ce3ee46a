// The findings page: the noise rule on hand-built candidates whose answer is known by
// construction, then `report --format markdown` on a real two-seed sweep of synthetic data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Variant } from '../src/models/spec.js';
import { duration, findingsPage, findingsSummary } from '../src/report/markdown.js';
import { compareAccuracy, seedInterval, seedNoise } from '../src/report/verdict.js';
import type { CandidateResult } from '../src/domain/candidate.js';
import { summarize } from '../src/report/summary.js';
import { parseCsv } from '../src/report/export.js';
import type { SweepRow, TrialRow } from '../src/domain/rows.js';
import { cli, writeConfig } from './helpers/cli-process.js';

function cand(label: string, macs: number, accs: number[], baseline = false): CandidateResult {
  const variant: Variant = baseline
    ? label === 'std'
      ? { kind: 'std' }
      : { kind: 'dw-gpw', cg: 2 }
    : { kind: 'dw-scc', cg: 2, s: 4, co: 0.5 };
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const std = accs.length < 2 ? 0 : Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / (accs.length - 1));
  return {
    hash: label,
    label,
    baseline,
    variants: [variant, variant],
    accuracy: mean,
    accuracyStd: std,
    seeds: accs.map((_, i) => i),
    seedAccuracies: accs,
    epochs: 4,
    macs,
    flops: 2 * macs,
    params: macs / 100,
  };
}

test('overlapping seed ranges are within noise, disjoint ones are a difference, either way round', () => {
  const a = cand('a', 1e6, [0.900, 0.906]);
  const b = cand('b', 1e6, [0.903, 0.910]); // overlaps a on [0.903, 0.906]
  const c = cand('c', 1e6, [0.915, 0.920]); // above both
  const noise = seedNoise([a, b, c]);
  assert.ok(Math.abs(noise! - 0.007) < 1e-12, 'noise is the widest seed range (b: 0.007)');
  assert.equal(compareAccuracy(a, b, noise).kind, 'within-noise');
  assert.equal(compareAccuracy(b, a, noise).kind, 'within-noise');
  assert.equal(compareAccuracy(c, b, noise).kind, 'better');
  assert.equal(compareAccuracy(a, c, noise).kind, 'worse');
  assert.ok(Math.abs(compareAccuracy(c, a, noise).diff - (0.9175 - 0.903)) < 1e-12);
  // ranges that touch at one point still overlap
  assert.equal(compareAccuracy(cand('d', 1e6, [0.910, 0.912]), b, noise).kind, 'within-noise');
});

test('a one-seed candidate gets the widest seed range of the sweep; with no second seed anywhere, nothing is called', () => {
  const wide = cand('wide', 1e6, [0.80, 0.82]); // noise 0.02
  const single = cand('single', 1e6, [0.835]);
  assert.deepEqual(seedInterval(single, 0.02)!.map((x) => Number(x.toFixed(6))), [0.825, 0.845]);
  assert.equal(compareAccuracy(single, wide, 0.02).kind, 'better'); // 0.825 > 0.82
  assert.equal(compareAccuracy(cand('close', 1e6, [0.829]), wide, 0.02).kind, 'within-noise'); // 0.819 <= 0.82
  assert.equal(seedNoise([single, cand('other', 1e6, [0.5])]), null);
  assert.equal(compareAccuracy(single, cand('other', 1e6, [0.5]), null).kind, 'unknown');
});

function summaryOf(cands: CandidateResult[]) {
  // summarize() from trial rows, so the page sees the same shapes as from a store
  const trials: TrialRow[] = [];
  let id = 1;
  for (const c of cands) {
    c.seedAccuracies.forEach((acc, seed) => {
      trials.push({
        id: id++, sweep: 's', candidateHash: c.hash, label: c.label, baseline: c.baseline, variants: c.variants,
        macs: c.macs, flops: c.flops, params: c.params, state: 'done', epochs: 4, rung: 0, seed, accuracy: acc,
        trainLoss: 0.3, seconds: 10, device: 'cpu', error: null,
        startedAt: `2026-11-30T10:0${id % 10}:00.000Z`, finishedAt: `2026-11-30T11:0${id % 10}:00.000Z`,
        provenance: { host: 'box', cpu: 'Test CPU', threads: 1, dsxplore: '0.1.0', platform: 'linux-x64', node: 'v20' },
      });
    });
  }
  return { trials, summary: summarize('s', trials, ['accuracy', 'macs']) };
}

test('the summary says which baselines SCC beats, loses to, or is within noise of, at no more MACs', () => {
  const { summary } = summaryOf([
    cand('std', 4e6, [0.93, 0.935], true), // expensive and better than every SCC design
    cand('dw-gpw:cg=2', 1e6, [0.880, 0.884], true), // SCC at equal MACs clearly better
    cand('dw-pw', 2e6, [0.905, 0.915], true), // SCC within its range
    cand('dw-scc:cg=2,co=0.5', 1e6, [0.905, 0.910]),
    cand('dw-scc:cg=4,co=0.5', 0.5e6, [0.85, 0.86]),
  ]);
  const { headline, lines } = findingsSummary(summary);
  const by = Object.fromEntries(lines.map((l) => [l.baseline, l]));
  assert.equal(by['std'].verdict!.kind, 'worse');
  assert.equal(by['dw-gpw:cg=2'].verdict!.kind, 'better');
  assert.equal(by['dw-gpw:cg=2'].scc, 'dw-scc:cg=2,co=0.5');
  assert.match(by['dw-gpw:cg=2'].text, /equal MACs/);
  assert.equal(by['dw-pw'].verdict!.kind, 'within-noise');
  assert.match(by['dw-pw'].text, /within noise/);
  assert.match(headline, /beats 1 of 3 baselines beyond the seeds' spread \(dw-gpw:cg=2\)/);
  assert.match(headline, /loses to 1 \(std\)/);
  assert.match(headline, /within noise of 1 \(dw-pw\)/);
});

test('one seed everywhere: the page calls no difference', () => {
  const { summary, trials } = summaryOf([cand('dw-pw', 2e6, [0.90], true), cand('dw-scc:cg=2,co=0.5', 1e6, [0.95])]);
  const { headline, lines } = findingsSummary(summary);
  assert.equal(lines[0].verdict!.kind, 'unknown');
  assert.match(headline, /one seed/);
  const sweep: SweepRow = { id: 1, name: 's', config: { model: 'resnet20', dataset: { name: 'synthetic' } }, createdAt: '', status: 'finished' };
  const page = findingsPage({ summary, sweep, trials, plot: 'p.svg', version: '0.1.0' });
  assert.doesNotMatch(page, /beyond the seeds' spread \(/);
  assert.match(page, /noise unknown/);
  assert.match(page, /Wall time: 1 h 0\d min/);
  assert.match(page, /CPU Test CPU/);
});

test('overlap and mixing effects: one seed everywhere calls nothing; a one-seed side gets the sweep\'s widest range', () => {
  const v = (label: string, variant: Variant, macs: number, accs: number[], baseline = false) => ({ ...cand(label, macs, accs, baseline), variants: [variant, variant] });
  const oneSeed = summaryOf([
    v('dw-scc:cg=2,co=0', { kind: 'dw-scc', cg: 2, s: 8, co: 0 }, 1e6, [0.8]),
    v('dw-scc:cg=2,co=0.5', { kind: 'dw-scc', cg: 2, s: 4, co: 0.5 }, 1e6, [0.9]),
    v('dw-gpw:cg=2', { kind: 'dw-gpw', cg: 2 }, 1e6, [0.7], true),
    v('dw-gpw-shuffle:cg=2', { kind: 'dw-gpw-shuffle', cg: 2 }, 1e6, [0.8], true),
  ]);
  const [e] = oneSeed.summary.effects.byCg;
  assert.equal(e!.overlap.verdict, 'unknown');
  assert.equal(e!.mixing.verdict, 'unknown');
  const sweep: SweepRow = { id: 1, name: 's', config: { model: 'resnet20', dataset: { name: 'synthetic' } }, createdAt: '', status: 'finished' };
  const page = findingsPage({ summary: oneSeed.summary, sweep, trials: oneSeed.trials, plot: 'p.svg', version: '0.1.0' });
  assert.match(page, /## Overlap and channel mixing, separated/);
  assert.match(page, /cg = 2\. Overlap: \*\*dw-scc:cg=2,co=0\.5\*\* 90\.00% \(1 seed\)/);
  assert.doesNotMatch(page, /overlap helps|the shuffle helps/);
  // with a two-seed design somewhere (range 0.02), a one-seed side spans 0.02 around its mean
  const mixed = summaryOf([
    v('dw-scc:cg=2,co=0', { kind: 'dw-scc', cg: 2, s: 8, co: 0 }, 1e6, [0.8, 0.82]),
    v('dw-scc:cg=2,co=0.5', { kind: 'dw-scc', cg: 2, s: 4, co: 0.5 }, 1e6, [0.835]), // 0.825..0.845: clear of 0.82
    v('dw-gpw:cg=2', { kind: 'dw-gpw', cg: 2 }, 1e6, [0.7], true),
    v('dw-gpw-shuffle:cg=2', { kind: 'dw-gpw-shuffle', cg: 2 }, 1e6, [0.715], true), // 0.705..0.725 meets 0.69..0.71
  ]);
  const [m] = mixed.summary.effects.byCg;
  assert.equal(m!.overlap.verdict, 'better');
  assert.deepEqual(m!.overlap.treatment!.range!.map((x) => Number(x.toFixed(6))), [0.825, 0.845]);
  assert.equal(m!.mixing.verdict, 'within-noise');
});

test('report --format markdown on a real two-seed sweep writes a self-contained page, its SVG and front.csv', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-md-'));
  try {
    const db = join(dir, 'r.db');
    const body = {
      name: 'md-study',
      model: 'resnet20',
      dataset: { name: 'synthetic:size=16,classes=4,train=256,test=128', limitTrain: 96 },
      recipe: { epochs: 1, batchSize: 16, threads: 1 },
      space: { variants: ['dw-scc'], cg: [2], co: [0.5], tie: 'all' },
      search: { kind: 'grid' },
      seeds: [0, 1],
      baselines: true,
    };
    const config = writeConfig(dir, body);
    const sweep = await cli(['sweep', '--config', config, '--db', db, '--json']);
    assert.equal(sweep.code, 0, sweep.stderr);

    const noOut = await cli(['report', '--db', db, '--format', 'markdown']);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /--format markdown needs --out/);
    assert.doesNotMatch(noOut.stderr, /\n\s+at /, 'no stack trace');

    const out = join(dir, 'page', 'README.md');
    const r = await cli(['report', '--db', db, '--format', 'markdown', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const page = readFileSync(out, 'utf8');
    assert.doesNotMatch(page, /\x1b\[/, 'no ANSI escapes');
    assert.match(page, /^# Findings: md-study/);
    assert.match(page, /\*\*Question\.\*\* Does sliding-channel convolution/);
    for (const h of ['## Summary', '## Accuracy against MACs', '## Pareto front', '## Baselines against the best SCC design', '## Every candidate', '## Setup', '## Reproducibility', '## Config']) {
      assert.ok(page.includes(h), h);
    }
    // the plot is linked and exists beside the page
    const link = /!\[[^\]]*\]\(([^)]+)\)/.exec(page);
    assert.ok(link, 'an image link');
    const svg = join(dir, 'page', link[1]);
    assert.ok(existsSync(svg), svg);
    assert.match(readFileSync(svg, 'utf8'), /^<svg /);
    // front.csv beside it, one row per front table row
    const csv = parseCsv(readFileSync(join(dir, 'page', 'front.csv'), 'utf8'));
    const frontSection = page.split('## Pareto front')[1]!.split('\n## ')[0]!;
    const frontRows = frontSection.split('\n').filter((l) => /^\| \d+ \|/.test(l));
    assert.equal(frontRows.length, csv.length - 1);
    for (const row of frontRows) assert.match(row, /% ± \d+\.\d\d \(2 seeds: /, 'mean ± spread over 2 seeds');
    // every baseline is compared, with a verdict
    const baseSection = page.split('## Baselines against')[1]!.split('\n## ')[0]!;
    for (const b of ['std', 'dw-pw', 'dw-gpw:cg=2', 'dw-gpw-shuffle:cg=2', 'gc-shuffle:g=2']) {
      const row = baseSection.split('\n').find((l) => l.startsWith(`| ${b} |`));
      assert.ok(row, `baseline row ${b}`);
      assert.match(row, /2 seeds/);
    }
    assert.match(baseSection, /within noise|beyond the seeds' spread|none this cheap/);
    // mixing's effect at cg = 2 is judged; overlap's is not (no co = 0 in this space)
    const effects = page.split('## Overlap and channel mixing, separated')[1]!.split('\n## ')[0]!;
    assert.match(effects, /\| 2 \| mixing \(dw-gpw-shuffle against dw-gpw\) \| dw-gpw-shuffle:cg=2 \| [\d.]+% \(2 seeds: /);
    assert.match(effects, /\| 2 \| overlap .* dw-scc:cg=2,co=0 not trained at the compared fidelity \|/);
    // the config inline, exactly the sweep's (validated, defaults filled)
    const json = /## Config\n\n```json\n([\s\S]*?)\n```/.exec(page);
    assert.ok(json);
    const inlined = JSON.parse(json[1]!);
    assert.equal(inlined.name, 'md-study');
    assert.deepEqual(inlined.seeds, [0, 1]);
    assert.deepEqual(inlined.dataset, body.dataset);
    // machine, version, wall time from the trials' provenance
    assert.match(page, /Device cpu, 1 thread\(s\) per trial; dsxplore \d+\.\d+\.\d+/);
    assert.match(page, /Wall time: \d+ (s|min)/);
    assert.match(page, /12 trials: queued 0, running 0, done 12/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the page lists the lower rungs of successive halving, and failed runs, instead of dropping them', () => {
  const { trials } = summaryOf([cand('dw-pw', 2e6, [0.90, 0.91], true), cand('dw-scc:cg=2,co=0.5', 1e6, [0.92, 0.93])]);
  // a lower rung: both at 1 epoch with seed 0, plus an SCC design that stopped there, and a failure
  const low = (c: CandidateResult, acc: number, id: number, state: TrialRow['state'] = 'done'): TrialRow => ({
    ...trials.find((t) => t.candidateHash === c.hash)!,
    id, epochs: 1, rung: 0, seed: 0, accuracy: state === 'done' ? acc : null, state, error: state === 'failed' ? 'native: out of memory' : null,
  });
  const stopped = cand('dw-scc:cg=4,co=0.25', 0.8e6, [0.7]);
  const all: TrialRow[] = [
    ...trials.map((t) => ({ ...t, epochs: 4, rung: 1 })),
    low(cand('dw-pw', 2e6, [0], true), 0.85, 101),
    low(cand('dw-scc:cg=2,co=0.5', 1e6, [0]), 0.86, 102),
    { ...low(cand('dw-scc:cg=2,co=0.5', 1e6, [0]), 0.86, 103), candidateHash: stopped.hash, label: stopped.label, macs: stopped.macs, accuracy: 0.7 },
    { ...low(cand('dw-scc:cg=2,co=0.5', 1e6, [0]), 0, 104, 'failed'), candidateHash: 'x', label: 'dw-scc:cg=8,co=0' },
  ];
  const summary = summarize('s', all, ['accuracy', 'macs']);
  assert.equal(summary.epochs, 4);
  const sweep: SweepRow = { id: 1, name: 's', config: { model: 'resnet20', dataset: { name: 'synthetic' }, seeds: [0, 1] }, createdAt: '', status: 'finished' };
  const page = findingsPage({ summary, sweep, trials: all, plot: 'p.svg', version: '0.1.0' });
  const section = page.split('## Failed, diverged, pruned and lower-rung runs')[1]!.split('\n## ')[0]!;
  assert.match(section, /\| 104 \| dw-scc:cg=8,co=0 \| 0 \| 1 \| failed \| native: out of memory \|/);
  assert.match(section, /At 1 epoch: 3 candidates, 2 of them trained further\./);
  assert.match(section, /\| dw-scc:cg=4,co=0\.25 \| 70\.00% \(1 seed\) \| 800k \| no \|/);
  assert.match(section, /\| baseline dw-pw \| 85\.00% \(1 seed\) \| 2M \| yes \|/);
  // the inlined config keeps scalar arrays on one line and stays valid JSON
  assert.match(page, /"seeds": \[0, 1\]/);
});

test('durations round to whole seconds before splitting into hours and minutes', () => {
  assert.equal(duration(539.6), '9 min 00 s');
  assert.equal(duration(59.5), '1 min 00 s');
  assert.equal(duration(3599.7), '1 h 00 min');
  assert.equal(duration(4921), '1 h 22 min');
  assert.equal(duration(42.2), '42 s');
});
