// Export of a Pareto front: one row per non-dominated finished candidate, as CSV (RFC 4180
// quoting: fields with a comma, quote or line break are quoted, quotes doubled) or JSON.
// parseCsv reads the CSV back, for tests and for scripts that post-process an export.
import type { Variant } from '../models/spec.js';
import type { CandidateResult } from '../domain/candidate.js';
import { slotText } from '../models/notation.js';

export interface FrontRow {
  label: string;
  hash: string;
  baseline: boolean;
  accuracy: number;
  accuracyStd: number;
  seeds: number;
  epochs: number;
  macs: number;
  flops: number;
  params: number;
  /** measured latency in ms (our engine, batch 1, one thread), when measured */
  latencyMs?: number | null;
  /** per-slot settings, slot order */
  slots: Variant[];
}

export function frontRows(front: readonly CandidateResult[]): FrontRow[] {
  return front.map((c) => ({
    label: c.label,
    hash: c.hash,
    baseline: c.baseline,
    accuracy: c.accuracy,
    accuracyStd: c.accuracyStd,
    seeds: c.seeds.length,
    epochs: c.epochs,
    macs: c.macs,
    flops: c.flops,
    params: c.params,
    ...(c.latency != null ? { latencyMs: c.latency } : {}),
    slots: c.variants,
  }));
}

const FIXED_COLUMNS = ['label', 'hash', 'baseline', 'accuracy', 'accuracy_std', 'seeds', 'epochs', 'macs', 'flops', 'params'];

/** The CSV header: fixed columns, then slot_0 ... slot_{n-1} (one slot's setting each). */
export function csvHeader(slotCount: number, withLatency = false): string[] {
  return [...FIXED_COLUMNS, ...(withLatency ? ['latency_ms'] : []), ...Array.from({ length: slotCount }, (_, i) => `slot_${i}`)];
}

export function csvField(v: string | number | boolean): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly FrontRow[]): string {
  const slotCount = Math.max(0, ...rows.map((r) => r.slots.length));
  // latency_ms only when the sweep measured latency, so other exports keep their columns
  const withLatency = rows.some((r) => r.latencyMs != null);
  const lines = [csvHeader(slotCount, withLatency).join(',')];
  for (const r of rows) {
    const cells: (string | number | boolean)[] = [
      r.label,
      r.hash,
      r.baseline,
      r.accuracy,
      r.accuracyStd,
      r.seeds,
      r.epochs,
      r.macs,
      r.flops,
      r.params,
      ...(withLatency ? [r.latencyMs ?? ''] : []),
      ...Array.from({ length: slotCount }, (_, i) => (r.slots[i] ? slotText(r.slots[i]) : '')),
    ];
    lines.push(cells.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function toJson(rows: readonly FrontRow[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}

/** Parse RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
    i++;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
