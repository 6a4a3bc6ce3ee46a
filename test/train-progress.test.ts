// The progress reporter: mode choice, throttled JSON lines, the terminal bar (ETA, no
// wrapping, cleared before permanent lines), and the result line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressReporter, etaSeconds, formatDuration, formatProgressLine, progressMode } from '../src/report/progress.js';
import type { TrainProgress } from '../src/domain/metrics.js';

class FakeStream {
  chunks: string[] = [];
  constructor(
    public isTTY: boolean,
    public columns = 80,
  ) {}
  write(s: string) {
    this.chunks.push(s);
    return true;
  }
  get text() {
    return this.chunks.join('');
  }
}

const p = (o: Partial<TrainProgress>): TrainProgress => ({
  epoch: 1,
  epochs: 2,
  batch: 1,
  batches: 10,
  loss: 1.5,
  imagesPerSecond: 200,
  elapsed: 1,
  ...o,
});

test('mode: JSON when asked or piped, bar on a terminal', () => {
  assert.equal(progressMode(true, new FakeStream(true)), 'json');
  assert.equal(progressMode(false, new FakeStream(false)), 'json');
  assert.equal(progressMode(undefined, new FakeStream(true)), 'tty');
});

test('ETA extrapolates over all epochs; durations are readable', () => {
  // 5 of 20 batches took 10 s: 15 more take 30 s
  assert.equal(etaSeconds(p({ batch: 5, elapsed: 10 })), 30);
  // second epoch, batch 5 of 10: 15 of 20 done in 30 s -> 10 s left
  assert.equal(etaSeconds(p({ epoch: 2, batch: 5, elapsed: 30 })), 10);
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(125), '2m05s');
  assert.equal(formatDuration(3 * 3600 + 7 * 60), '3h07m');
  assert.equal(formatDuration(Number.NaN), '--');
});

test('JSON lines: throttled progress, last batch of an epoch always written, then the result', () => {
  let now = 0;
  const out = new FakeStream(false);
  const r = new ProgressReporter({ out, now: () => now, jsonIntervalMs: 1000 });
  for (let b = 1; b <= 10; b++) {
    now = b * 300; // a batch every 300 ms
    r.progress(p({ batch: b, elapsed: now / 1000 }), 'trial 1/3');
  }
  r.epoch({ epoch: 1, lr: 0.1, trainLoss: 0.5, trainAccuracy: 0.8, testAccuracy: 0.85, testLoss: 0.4, seconds: 3 });
  r.result({ testAccuracy: 0.85, bad: Number.NaN }, 'ignored in json mode');
  const lines = out.text.trim().split('\n').map((l) => JSON.parse(l));
  const progress = lines.filter((l) => l.type === 'progress');
  // batches at 300 ms (first), 1500 (>= 1000 after 300), 2700, and the last one at 3000
  assert.deepEqual(progress.map((l) => l.batch), [1, 5, 9, 10]);
  assert.equal(progress[0].label, 'trial 1/3');
  assert.equal(lines.at(-2).type, 'epoch');
  assert.equal(lines.at(-2).testAccuracy, 0.85);
  assert.deepEqual(lines.at(-1), { type: 'result', testAccuracy: 0.85, bad: 'NaN' });
});

test('terminal: the bar redraws in place, fits the width, and is cleared before permanent lines', () => {
  let now = 0;
  const out = new FakeStream(true, 60);
  const r = new ProgressReporter({ out, now: () => now, ttyIntervalMs: 100 });
  r.progress(p({ batch: 3, loss: 0.12345, elapsed: 6 }));
  now = 50;
  r.progress(p({ batch: 4, elapsed: 7 })); // within 100 ms: skipped
  assert.equal(out.chunks.length, 1);
  const drawn = out.chunks[0]!;
  assert.ok(drawn.startsWith('\r\x1b[2K'));
  const line = drawn.slice('\r\x1b[2K'.length);
  assert.ok(line.length < 60, line);
  assert.match(line, /epoch 1\/2/);
  assert.match(line, /3\/10/);
  assert.match(line, /loss 0\.1235/);
  assert.match(line, /200 img\/s/);
  assert.match(line, /ETA 34s/); // 3 of 20 batches in 6 s: 17 left take 34 s
  r.event('start', { model: 'x' }, 'training x');
  assert.equal(out.chunks.at(-2), '\r\x1b[2K');
  assert.equal(out.chunks.at(-1), 'training x\n');
  r.result({ testAccuracy: 1 }, 'done: 100%');
  assert.equal(out.chunks.at(-1), 'done: 100%\n');
  // a wide terminal gets a bar of # and -
  assert.match(formatProgressLine(p({ batch: 5 }), undefined, 120), /\[#+-+\]/);
});

test('quiet: only the final text', () => {
  const out = new FakeStream(true);
  const r = new ProgressReporter({ out, mode: 'quiet' });
  r.progress(p({ batch: 10 }));
  r.event('start', {}, 'hello');
  r.result({ a: 1 }, 'result text');
  assert.equal(out.text, 'result text\n');
});
