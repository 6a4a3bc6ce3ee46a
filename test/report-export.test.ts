// The report side on hand-built trial rows: aggregation and the front, baselines against
// SCC, CSV and JSON round-trips, and a well-formed SVG that shows the front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Variant } from '../src/models/spec.js';
import { frontRows, parseCsv, toCsv, toJson } from '../src/report/export.js';
import { plotSvg } from '../src/report/plot.js';
import { summarize } from '../src/report/summary.js';
import { slotText } from '../src/models/notation.js';
import { renderReport } from '../src/report/table.js';
import { createRng } from '../src/space/rng.js';
import type { TrialRow } from '../src/domain/rows.js';
import type { TrialState } from '../src/domain/trial-states.js';

let nextId = 1;
function trial(p: Partial<TrialRow> & { candidateHash: string }): TrialRow {
  return {
    id: nextId++,
    sweep: 's',
    label: p.candidateHash,
    baseline: false,
    variants: [{ kind: 'dw-scc', cg: 2, s: 4, co: 0.5 }, { kind: 'std' }],
    macs: 1000,
    flops: 2000,
    params: 10,
    state: 'done',
    epochs: 3,
    rung: 1,
    seed: 0,
    accuracy: 0.5,
    trainLoss: 1,
    seconds: 1,
    device: 'cpu',
    error: null,
    ...p,
  };
}

// a sweep with ties, duplicates (same cost and accuracy), several seeds, lower-rung trials,
// failures and baselines; labels with commas, quotes and a line break to exercise quoting
function makeTrials(seed: number): TrialRow[] {
  const rng = createRng(seed);
  const rows: TrialRow[] = [];
  const kinds: Variant[][] = [
    [{ kind: 'dw-scc', cg: 2, s: 4, co: 0.5 }, { kind: 'dw-scc', cg: 4, s: 2 }],
    [{ kind: 'dw-pw' }, { kind: 'dw-scc', cg: 1, s: 8 }],
    [{ kind: 'gc-shuffle', g: 2 }, { kind: 'dw-gpw', cg: 4 }],
  ];
  for (let i = 0; i < 30; i++) {
    const macs = 1000 * (1 + rng.int(8));
    const acc = 0.8 + 0.02 * rng.int(6);
    const label = i % 7 === 0 ? `mix "q${i}", a\nb` : `cand,${i}`;
    const variants = kinds[i % kinds.length];
    const h = `h${i}`;
    rows.push(trial({ candidateHash: h, label, macs, flops: 2 * macs, params: macs / 10, accuracy: acc, variants }));
    if (i % 4 === 0) rows.push(trial({ candidateHash: h, label, macs, flops: 2 * macs, params: macs / 10, accuracy: acc - 0.02, seed: 1, variants }));
    // lower-fidelity trial: must not count
    rows.push(trial({ candidateHash: h, label, macs, flops: 2 * macs, params: macs / 10, accuracy: 0.99, epochs: 1, rung: 0, variants }));
  }
  rows.push(trial({ candidateHash: 'dup', label: 'cand,0', macs: rows[0].macs, accuracy: rows[0].accuracy, params: rows[0].params, variants: rows[0].variants }));
  for (const st of ['failed', 'queued', 'running', 'pruned', 'diverged'] as TrialState[]) {
    rows.push(trial({ candidateHash: `x-${st}`, state: st, accuracy: st === 'diverged' ? 0.1 : null, macs: 10 }));
  }
  const std: Variant[] = [{ kind: 'std' }, { kind: 'std' }];
  rows.push(trial({ candidateHash: 'b-std', label: 'std', baseline: true, macs: 9000, flops: 18000, params: 900, accuracy: 0.9, variants: std }));
  rows.push(trial({ candidateHash: 'b-dwpw', label: 'dw-pw', baseline: true, macs: 2500, flops: 5000, params: 250, accuracy: 0.85, variants: [{ kind: 'dw-pw' }, { kind: 'dw-pw' }] }));
  rows.push(trial({ candidateHash: 'b-tiny', label: 'gc-shuffle:g=8', baseline: true, macs: 10, flops: 20, params: 1, accuracy: 0.5, variants: [{ kind: 'gc-shuffle', g: 8 }, { kind: 'gc-shuffle', g: 8 }] }));
  return rows;
}

function bruteFront(cands: { accuracy: number; macs: number; hash: string }[]): string[] {
  return cands
    .filter((c) => !cands.some((d) => d.accuracy >= c.accuracy && d.macs <= c.macs && (d.accuracy > c.accuracy || d.macs < c.macs)))
    .map((c) => c.hash)
    .sort();
}

test('summary: counts, highest-fidelity seed means, the front and the baselines', () => {
  const trials = makeTrials(1);
  const s = summarize('s', trials, ['accuracy', 'macs']);
  assert.equal(s.trials, trials.length);
  assert.equal(s.counts.failed, 1);
  assert.equal(s.counts.queued, 1);
  assert.equal(s.counts.done, trials.filter((t) => t.state === 'done').length);
  assert.equal(s.epochs, 3);
  // 30 + dup + 3 baselines at 3 epochs
  assert.equal(s.candidates.length, 34);
  const h0 = s.candidates.find((c) => c.hash === 'h0')!;
  const a0 = trials.filter((t) => t.candidateHash === 'h0' && t.epochs === 3).map((t) => t.accuracy!);
  assert.equal(a0.length, 2);
  assert.ok(Math.abs(h0.accuracy - (a0[0] + a0[1]) / 2) < 1e-12);
  assert.deepEqual(h0.seeds, [0, 1]);
  assert.ok(s.candidates.every((c) => c.accuracy < 0.99), 'lower-rung results are not used');
  assert.deepEqual(s.front.map((c) => c.hash).sort(), bruteFront(s.candidates));
  for (let i = 1; i < s.front.length; i++) assert.ok(s.front[i - 1].macs <= s.front[i].macs);
  // baselines: the best SCC candidate (non-baseline, has a dw-scc slot) with no more MACs
  for (const b of s.baselines) {
    const pool = s.candidates.filter((c) => !c.baseline && c.variants.some((v) => v.kind === 'dw-scc') && c.macs <= b.baseline.macs);
    if (pool.length === 0) {
      assert.equal(b.best, null);
      continue;
    }
    const bestAcc = Math.max(...pool.map((c) => c.accuracy));
    assert.equal(b.best!.accuracy, bestAcc);
    assert.ok(Math.abs(b.accuracyDelta! - (bestAcc - b.baseline.accuracy)) < 1e-12);
  }
  assert.equal(s.baselines.find((b) => b.baseline.label === 'gc-shuffle:g=8')!.best, null);
  assert.ok(s.hypervolume > 0 && s.hypervolume <= 1);
  const text = renderReport(s, 'resnet20 on mnist');
  assert.match(text, /failed 1/);
  assert.match(text, /hypervolume: 0\.\d{4}/);
  assert.match(text, /none this cheap/);
  // piped or written to a file: plain columns; on a TTY: borders
  assert.doesNotMatch(text, /[│┌─]|\x1b\[/);
  assert.match(text, /^ *# {2,}accuracy {2,}MACs {2,}params {2,}design/m);
  assert.match(renderReport(s, 'resnet20 on mnist', { tty: true }), /┌─/);
});

test('duplicates on the front are all exported', () => {
  const s = summarize('s', makeTrials(1), ['accuracy', 'macs']);
  const h0 = s.candidates.find((c) => c.hash === 'h0')!;
  const dup = s.candidates.find((c) => c.hash === 'dup')!;
  // same cost, and after averaging h0 may differ in accuracy: compare through the brute force
  assert.equal(s.front.includes(h0), bruteFront(s.candidates).includes('h0'));
  assert.equal(s.front.includes(dup), bruteFront(s.candidates).includes('dup'));
  const twins = summarize('t', [trial({ candidateHash: 'p' }), trial({ candidateHash: 'q' })], ['accuracy', 'macs']);
  assert.equal(twins.front.length, 2);
});

test('CSV round-trip: parsing the export gives back every field', () => {
  for (const seed of [1, 2, 3]) {
    const s = summarize('s', makeTrials(seed), ['accuracy', 'macs', 'params']);
    const rows = frontRows(s.front);
    assert.ok(rows.length > 0);
    const parsed = parseCsv(toCsv(rows));
    const [header, ...body] = parsed;
    assert.deepEqual(header.slice(0, 10), ['label', 'hash', 'baseline', 'accuracy', 'accuracy_std', 'seeds', 'epochs', 'macs', 'flops', 'params']);
    assert.equal(body.length, rows.length);
    body.forEach((cells, i) => {
      const r = rows[i];
      const get = (k: string) => cells[header.indexOf(k)];
      assert.equal(cells.length, header.length);
      assert.equal(get('label'), r.label);
      assert.equal(get('hash'), r.hash);
      assert.equal(get('baseline'), String(r.baseline));
      assert.equal(Number(get('accuracy')), r.accuracy);
      assert.equal(Number(get('accuracy_std')), r.accuracyStd);
      assert.equal(Number(get('macs')), r.macs);
      assert.equal(Number(get('flops')), r.flops);
      assert.equal(Number(get('params')), r.params);
      assert.equal(Number(get('seeds')), r.seeds);
      r.slots.forEach((v, k) => assert.equal(get(`slot_${k}`), slotText(v)));
    });
  }
});

test('JSON export parses back to the same rows', () => {
  const rows = frontRows(summarize('s', makeTrials(4), ['accuracy', 'macs']).front);
  assert.deepEqual(JSON.parse(toJson(rows)), rows);
});

// A minimal XML well-formedness check: balanced tags, quoted attributes, known entities.
function parseXml(text: string): { name: string; attrs: Record<string, string>; text: string }[] {
  const elements: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const stack: { name: string; attrs: Record<string, string>; text: string }[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(text)) !== null) {
    pos = re.lastIndex;
    if (m[5] !== undefined) {
      assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(m[5]), `bad entity in text: ${m[5]}`);
      if (stack.length) stack[stack.length - 1].text += m[5];
      else assert.match(m[5], /^\s*$/, 'text outside the root element');
      continue;
    }
    const [, close, name, rawAttrs, selfClose] = m;
    if (close) {
      const open = stack.pop();
      assert.equal(open?.name, name, `</${name}> closes <${open?.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      assert.ok(!(a[1] in attrs), `duplicate attribute ${a[1]}`);
      attrs[a[1]] = a[2];
    }
    const el = { name, attrs, text: '' };
    elements.push(el);
    if (!selfClose) stack.push(el);
    else if (stack.length === 0) assert.fail('self-closed root');
  }
  assert.equal(pos, text.length, `unparsable XML at ${pos}: ${text.slice(pos, pos + 40)}`);
  assert.equal(stack.length, 0, 'unclosed elements');
  return elements;
}

test('SVG is well-formed and shows the front as a step line with the baselines labelled', () => {
  const trials = makeTrials(5);
  trials.push(trial({ candidateHash: 'esc', label: 'a<b&"c"', macs: 123, accuracy: 0.2 }));
  const s = summarize('s', trials, ['accuracy', 'macs']);
  const svg = plotSvg(s.candidates, { title: 'sweep <s>' });
  const els = parseXml(svg);
  assert.equal(els[0].name, 'svg');
  const path = els.find((e) => e.name === 'path' && e.attrs.class === 'front');
  assert.ok(path, 'front path');
  const front2d = bruteFront(s.candidates);
  const segments = path.attrs.d.match(/H [\d.]+ V [\d.]+/g) ?? [];
  assert.equal(segments.length, front2d.length - 1);
  // step line: alternating horizontal and vertical moves only
  assert.match(path.attrs.d, /^M [\d.]+ [\d.]+( H [\d.]+ V [\d.]+)* H [\d.]+$/);
  const frontGroup = els.filter((e) => e.name === 'circle' && e.attrs.r === '4.5');
  assert.deepEqual(frontGroup.map((e) => e.attrs['data-hash']).sort(), front2d);
  const labels = els.filter((e) => e.name === 'text' && e.attrs.class === 'baseline-label').map((e) => e.text);
  assert.deepEqual(labels.sort(), ['dw-pw', 'gc-shuffle:g=8', 'std']);
  assert.ok(svg.includes('a&lt;b&amp;&quot;c&quot;'));
  // x is logarithmic: equal MACs ratios give equal distances
  const xOf = (hash: string) => Number(els.find((e) => e.attrs['data-hash'] === hash)!.attrs.x ?? els.find((e) => e.attrs['data-hash'] === hash)!.attrs.cx);
  const std = xOf('b-std') + 5;
  const dwpw = xOf('b-dwpw') + 5;
  const tiny = xOf('b-tiny') + 5;
  assert.ok(Math.abs((std - dwpw) / (dwpw - tiny) - Math.log10(9000 / 2500) / Math.log10(2500 / 10)) < 0.01);
  // nothing finished: still valid SVG
  parseXml(plotSvg([]));
});
