// Tables for the terminal, by the house convention (CONTRIBUTING.md, "Output"):
// borders, colour and wrapped cells on a TTY only; piped or written to a file, plain
// columns separated by two spaces, one line per row, no ANSI escapes, so that logs, files
// and `grep`/`awk` read them. Every table the CLI and the benchmarks print goes through here.
import Table from 'cli-table3';

export type Align = 'left' | 'right';

export interface TextTableOptions {
  head: string[];
  /** per column; left when absent */
  align?: Align[];
  /** per column: wrap at this width on a TTY (null: as wide as its content) */
  widths?: (number | null)[];
  /** draw borders and colour: pass `isTTY(stream)` of where the text goes */
  tty: boolean;
}

/** Whether text written to `stream` (default stdout) reaches a terminal. */
export function isTTY(stream: { isTTY?: boolean } = process.stdout): boolean {
  return stream.isTTY === true;
}

type Cell = string | number;

function plain(rows: Cell[][], o: TextTableOptions): string {
  const all = [o.head, ...rows.map((r) => r.map(String))];
  const n = Math.max(...all.map((r) => r.length));
  const width = Array.from({ length: n }, (_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      width
        .map((w, i) => {
          const v = r[i] ?? '';
          return o.align?.[i] === 'right' ? v.padStart(w) : v.padEnd(w);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function textTable(rows: Cell[][], o: TextTableOptions): string {
  if (!o.tty) return plain(rows, o);
  const t = new Table({
    head: o.head,
    ...(o.align ? { colAligns: o.align } : {}),
    ...(o.widths ? { colWidths: o.widths, wordWrap: true, wrapOnWordBoundary: false } : {}),
    style: { head: ['cyan'], compact: true },
  });
  for (const r of rows) t.push(r);
  return t.toString();
}
