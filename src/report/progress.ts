// Progress display for long work (training, sweeps): a live one-line bar on a terminal,
// JSON lines when asked (--json) or when the output is piped, nothing when quiet. One
// reporter serves `dsxplore train` and the sweep runner; a label (e.g. "trial 3/12")
// tells concurrent or successive runs apart.
import type { EpochMetrics, TrainProgress } from '../domain/metrics.js';
import { formatDuration } from './format.js';

// the commands print their own durations beside the reporter's
export { formatDuration };

export type ProgressMode = 'tty' | 'json' | 'quiet';

/** The subset of a stream the reporter needs (process.stdout satisfies it; tests fake it). */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** default: json when `json` is set or `out` is not a TTY, else tty */
  mode?: ProgressMode;
  json?: boolean;
  out?: OutStream;
  /** minimum milliseconds between JSON progress lines (epoch ends are always written) */
  jsonIntervalMs?: number;
  /** minimum milliseconds between redraws of the bar */
  ttyIntervalMs?: number;
  /** clock in milliseconds, injectable for tests */
  now?: () => number;
}

/** JSON when asked or when the output is not a terminal (Design rule: quiet or JSON when piped). */
export function progressMode(json: boolean | undefined, out: OutStream = process.stdout): ProgressMode {
  return json || !out.isTTY ? 'json' : 'tty';
}

/** Seconds left, extrapolated from the batches done so far over the whole run. */
export function etaSeconds(p: TrainProgress): number {
  const done = (p.epoch - 1) * p.batches + p.batch;
  const total = p.epochs * p.batches;
  if (done <= 0 || p.elapsed <= 0) return Number.NaN;
  return (p.elapsed * (total - done)) / done;
}

function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return '#'.repeat(full) + '-'.repeat(width - full);
}

/** The one-line bar text, e.g. "epoch 2/5 [#####-----] 230/469 loss 0.2345 1520 img/s ETA 3m05s". */
export function formatProgressLine(p: TrainProgress, label?: string, columns = 100): string {
  const head = `${label ? `${label} ` : ''}epoch ${p.epoch}/${p.epochs}`;
  const tail =
    `${p.batch}/${p.batches} loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : String(p.loss)} ` +
    `${Math.round(p.imagesPerSecond)} img/s ETA ${formatDuration(etaSeconds(p))}`;
  // " [" + bar + "] " around the bar, and one column spare so the terminal never wraps
  const room = columns - head.length - tail.length - 5;
  const line = room >= 10 ? `${head} [${bar(p.batch / p.batches, Math.min(30, room))}] ${tail}` : `${head} ${tail}`;
  // never wrap: a wrapped line cannot be redrawn in place
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
}

const round = (v: number, digits: number) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

export class ProgressReporter {
  readonly mode: ProgressMode;
  private readonly out: OutStream;
  private readonly jsonIntervalMs: number;
  private readonly ttyIntervalMs: number;
  private readonly now: () => number;
  private lastJson = Number.NEGATIVE_INFINITY;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private barShown = false;

  constructor(opts: ProgressOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.mode = opts.mode ?? progressMode(opts.json, this.out);
    this.jsonIntervalMs = opts.jsonIntervalMs ?? 1000;
    this.ttyIntervalMs = opts.ttyIntervalMs ?? 100;
    this.now = opts.now ?? (() => Date.now());
  }

  /** A live update of a training run: redraws the bar, or writes a throttled JSON line. */
  progress(p: TrainProgress, label?: string): void {
    const t = this.now();
    const last = p.batch === p.batches;
    if (this.mode === 'tty') {
      if (!last && t - this.lastDraw < this.ttyIntervalMs) return;
      this.lastDraw = t;
      this.out.write(`\r\x1b[2K${formatProgressLine(p, label, this.out.columns || 100)}`);
      this.barShown = true;
    } else if (this.mode === 'json') {
      if (!last && t - this.lastJson < this.jsonIntervalMs) return;
      this.lastJson = t;
      this.json({
        type: 'progress',
        ...(label ? { label } : {}),
        epoch: p.epoch,
        epochs: p.epochs,
        batch: p.batch,
        batches: p.batches,
        loss: round(p.loss, 6),
        imagesPerSecond: round(p.imagesPerSecond, 1),
        elapsed: round(p.elapsed, 3),
        eta: round(etaSeconds(p), 1),
      });
    }
  }

  /** The end of an epoch: a permanent line on a terminal, a JSON line otherwise. */
  epoch(m: EpochMetrics, label?: string): void {
    if (this.mode === 'json') {
      this.json({ type: 'epoch', ...(label ? { label } : {}), ...m });
    } else if (this.mode === 'tty') {
      const acc = (v: number | undefined) => (v === undefined ? '' : `${(100 * v).toFixed(2)}%`);
      const test = m.testAccuracy === undefined ? '' : `  test acc ${acc(m.testAccuracy)}`;
      this.line(
        `${label ? `${label} ` : ''}epoch ${m.epoch}: loss ${m.trainLoss.toFixed(4)}  train acc ${acc(m.trainAccuracy)}${test}  lr ${m.lr.toPrecision(3)}  ${formatDuration(m.seconds)}`,
      );
    }
  }

  /** Something worth telling: `text` on a terminal, `{"type": type, ...data}` as JSON. */
  event(type: string, data: Record<string, unknown>, text: string): void {
    if (this.mode === 'json') this.json({ type, ...data });
    else if (this.mode === 'tty') this.line(text);
  }

  /** The final result: a JSON line (type "result") or, on a terminal or when quiet, `text`. */
  result(data: Record<string, unknown>, text: string): void {
    if (this.mode === 'json') this.json({ type: 'result', ...data });
    else this.line(text);
  }

  /** How a dataset load reports image decoding (the data layer's onProgress/onWarning): a
   * bar on a terminal, a throttled JSON line otherwise, and a warning on stderr for each
   * file that cannot be decoded. */
  decoding(): {
    onProgress: (p: { split: string; done: number; total: number }) => void;
    onWarning: (message: string) => void;
  } {
    let last = Number.NEGATIVE_INFINITY;
    const tty = this.mode === 'tty';
    return {
      onProgress: (p) => {
        const t = this.now();
        const end = p.done === p.total;
        if (!end && t - last < (tty ? this.ttyIntervalMs : this.jsonIntervalMs)) return;
        last = t;
        if (tty) this.out.write(`\r\x1b[2Kdecoding ${p.split} [${bar(p.done / p.total, 30)}] ${p.done}/${p.total}${end ? '\n' : ''}`);
        else if (this.mode === 'json') this.json({ type: 'decode', ...p });
      },
      onWarning: (message) => {
        if (tty) this.out.write('\r\x1b[2K');
        process.stderr.write(`dsxplore: warning: ${message}\n`);
      },
    };
  }

  /** Remove the bar so that whatever is printed next starts on a clean line. */
  clear(): void {
    if (this.barShown) {
      this.out.write('\r\x1b[2K');
      this.barShown = false;
    }
  }

  private line(text: string): void {
    this.clear();
    this.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  private json(obj: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify(obj, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}\n`);
  }
}
