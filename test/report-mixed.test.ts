// Mixed against uniform designs (src/report/mixed.ts): each uniform design meets the most
// accurate mixed design with no more MACs, the verdict follows the seeds' ranges, the
// held-out pick is made on one seed and judged on the other, and the page answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mixedAgainstUniform, mixedAnswer } from '../src/report/mixed.js';
import { summarize } from '../src/report/summary.js';
import { findingsPage } from '../src/report/markdown.js';
import type { CandidateResult } from '../src/domain/candidate.js';
import type { Variant } from '../src/models/spec.js';
import type { TrialRow } from '../src/domain/rows.js';

const PW: Variant = { kind: 'dw-pw' };
const GPW: Variant = { kind: 'dw-gpw', cg: 4 };

function cand(label: string, variants: Variant[], macs: number, accs: [number, number]): CandidateResult {
  const mean = (accs[0] + accs[1]) / 2;
  return {
    hash: label, label, baseline: false, variants, accuracy: mean, accuracyStd: Math.abs(accs[0] - accs[1]) / Math.SQRT2,
    seeds: [0, 1], seedAccuracies: accs, epochs: 3, macs, flops: 2 * macs, params: 1,
  };
}

test('each uniform design against the best mixed one at no more MACs, with a held-out pick', () => {
  const cs = [
    cand('pw x3', [PW, PW, PW], 10e6, [0.9, 0.91]),
    cand('gpw x3', [GPW, GPW, GPW], 4e6, [0.85, 0.86]),
    // beats gpw x3 beyond the seeds and is cheaper than pw x3 but not better
    cand('gpw | pw | gpw', [GPW, PW, GPW], 4e6, [0.88, 0.885]),
    // lucky on seed 0 only: picked on seed 0, judged on seed 1 it loses
    cand('pw | gpw | gpw', [PW, GPW, GPW], 3.9e6, [0.95, 0.80]),
  ];
  const m = mixedAgainstUniform(cs, cs);
  assert.ok(m);
  assert.deepEqual(m.comparisons.map((c) => c.uniform.label), ['gpw x3', 'pw x3']);
  const [gpw, pw] = m.comparisons;
  assert.equal(gpw!.mixed!.label, 'gpw | pw | gpw');
  assert.equal(gpw!.pool, 2);
  assert.equal(gpw!.verdict, 'better');
  assert.equal(gpw!.heldOut!.label, 'pw | gpw | gpw', 'picked on seed 0');
  assert.ok(Math.abs(gpw!.heldOut!.diff - (0.80 - 0.86)) < 1e-12, 'judged on seed 1');
  assert.equal(pw!.verdict, 'worse');
  assert.equal(m.mixedCount, 2);
  assert.match(mixedAnswer(m), /^Not everywhere: a mixed design with no more MACs beats 1 of 2 uniform designs beyond the seeds' spread \(gpw x3\)/);
  assert.match(mixedAnswer(m), /ahead of 0 of 2 uniform designs/);
});

test('no mixed or no uniform design: nothing to compare; the findings page has the section only when both exist', () => {
  assert.equal(mixedAgainstUniform([cand('a', [PW, PW], 1, [0.5, 0.5])], []), null);
  assert.equal(mixedAgainstUniform([cand('a', [PW, GPW], 1, [0.5, 0.5])], []), null);
  const rows: TrialRow[] = [];
  let id = 1;
  for (const [label, variants, macs, accs] of [
    ['u', [GPW, GPW], 4e6, [0.8, 0.81]],
    ['m', [PW, GPW], 4e6, [0.9, 0.91]],
  ] as const) {
    for (const seed of [0, 1]) {
      rows.push({ id: id++, sweep: 's', candidateHash: label, label, baseline: false, variants: [...variants], macs, flops: 2 * macs, params: 1, state: 'done', epochs: 3, rung: 0, seed, accuracy: accs[seed]!, trainLoss: 1, seconds: 1, device: 'cpu', error: null });
    }
  }
  const summary = summarize('s', rows, ['accuracy', 'macs']);
  const page = findingsPage({ summary, sweep: { id: 1, name: 's', config: {}, createdAt: '', status: 'finished' }, trials: rows, plot: 'p.svg', version: 'test' });
  assert.match(page, /## Mixed against uniform designs/);
  assert.match(page, /\*\*Answer\.\*\* Yes: every uniform design \(1\) is beaten beyond the seeds' spread by a mixed design with no more MACs\./);
  const uniformOnly = summarize('s', rows.filter((r) => r.label === 'u'), ['accuracy', 'macs']);
  assert.doesNotMatch(findingsPage({ summary: uniformOnly, sweep: { id: 1, name: 's', config: {}, createdAt: '', status: 'finished' }, trials: rows, plot: 'p.svg', version: 'test' }), /Mixed against uniform/);
});
