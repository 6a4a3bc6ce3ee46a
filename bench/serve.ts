// The dashboard at scale: a SQLite store with one sweep of 10,000 ResNet-20 trials (random
// per-slot designs queued through the store's API, then given results, timings, a realistic
// provenance and a cached latency per spec by one SQL transaction), served read-only by
// `dsxplore serve` processes. Times the trials, the front (against MACs and against latency)
// and the sweep detail API: cold, the first request of a freshly started server (--cold
// servers per endpoint), and warm, the median of --repeat more; and, in headless Chromium
// (Debian's, via playwright-core), the time from navigation until the sweep page is
// interactive (the front's points placed and the trial table filled), the first visit to a
// fresh server and two more.
// Flags: --trials=N (10000), --cold=N (3), --repeat=N (7), --chromium=PATH (/usr/bin/chromium).
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseSweepConfig } from '../src/config/sweep.js';
import { planSweep } from '../src/space/index.js';
import { openStore } from '../src/store/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function flag(flags: string[], name: string, fallback: string): string {
  const hit = flags.find((f) => f.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function fill(db: string, n: number): Promise<void> {
  const config = parseSweepConfig({
    name: 'bench-10k',
    model: 'resnet20',
    dataset: { name: 'synthetic' },
    space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0, 0.25, 0.5, 0.75], tie: 'slot' },
    search: { kind: 'random', n, seed: 7 },
    baselines: false,
  });
  const candidates = planSweep(config).search.initial();
  const store = await openStore(db);
  await store.createSweep({ name: config.name, config, configHash: 'bench' });
  await store.enqueue(
    config.name,
    candidates.map((candidate) => ({ candidate, rung: 0, round: 0, epochs: 5, seed: 0, recipeHash: 'bench' })),
  );
  store.close();
  // results for every trial in one transaction: 96% done, the rest failed, pruned, running or queued
  const raw = new Database(db);
  const rows = raw.prepare('SELECT t.id, c.macs FROM trials t JOIN candidates c ON c.hash = t.candidate_hash ORDER BY t.id').all() as {
    id: number;
    macs: number;
  }[];
  const set = raw.prepare(
    `UPDATE trials SET state = ?, accuracy = ?, test_loss = ?, train_loss = ?, train_accuracy = ?, seconds = ?,
       images_per_second = ?, device = ?, error = ?, started_at = ?, finished_at = ?, attempts = 1, worker_id = ?, provenance = ?
     WHERE id = ?`,
  );
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  // the store's triggers allow only legal moves: queued -> running -> finished
  const claim = raw.prepare("UPDATE trials SET state = 'running' WHERE id = ?");
  // every spec's latency as a sweep with the latency objective caches it (here made up from MACs)
  const timed = raw.prepare(
    `INSERT INTO latencies (spec_hash, machine, runtime, batch, threads, median_ms, p10_ms, p90_ms, reps, measured_at)
     SELECT hash, 'bench', 'native', 1, 1, ? , ?, ?, 30, ? FROM candidates c JOIN trials t ON t.candidate_hash = c.hash WHERE t.id = ?`,
  );
  raw.transaction(() => {
    rows.forEach((r, i) => {
      const state = i % 50 === 7 ? 'failed' : i % 50 === 11 ? 'pruned' : i >= rows.length - 4 ? 'running' : i >= rows.length - 40 ? 'queued' : 'done';
      const acc = state === 'done' ? Math.min(0.99, 0.55 + 0.04 * Math.log10(r.macs) + ((i * 7919) % 1000) / 20000) : null;
      const started = state === 'queued' ? null : new Date(t0 + i * 30_000).toISOString();
      const finished = state === 'done' || state === 'failed' || state === 'pruned' ? new Date(t0 + i * 30_000 + 29_000).toISOString() : null;
      const ms = 0.2 + r.macs / 2e7 + ((i * 104729) % 1000) / 5000;
      timed.run(ms, ms * 0.95, ms * 1.1, new Date(t0).toISOString(), r.id);
      if (state === 'queued') return;
      claim.run(r.id);
      const provenance = JSON.stringify({
        dsxplore: '0.1.0',
        sweep: 'bench-10k',
        configHash: 'c'.repeat(64),
        specHash: 'a'.repeat(64),
        seed: 0,
        recipe: { epochs: 5, batchSize: 128, lr: 0.1, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'cosine' } },
        device: 'cuda:0',
        threads: 16,
        host: 'bench',
      });
      set.run(
        state,
        acc,
        acc === null ? null : 1 - acc,
        acc === null ? null : 1.1 - acc,
        acc === null ? null : acc + 0.02,
        finished ? 29 : null,
        finished ? 4000 : null,
        started ? 'cuda:0' : null,
        state === 'failed' ? 'CUDA error: out of memory' : null,
        started,
        finished,
        started ? 'w1' : null,
        started ? provenance : null,
        r.id,
      );
    });
  }).immediate();
  raw.close();
}

interface Served {
  url: string;
  stop(): Promise<void>;
}

/** `dsxplore serve --db DB --port 0` as its own process (from the sources, as the tests run
 * the CLI): a fresh server whose first request finds nothing read or derived yet. */
async function serveProcess(db: string): Promise<Served> {
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify(['serve', '--db', db, '--port', '0'])})))`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /dsxplore serve: (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c) => reject(new Error(`dsxplore serve exited (${c}) before listening: ${err || out}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function timedGet(url: URL): Promise<{ ms: number; bytes: number }> {
  const t = performance.now();
  const r = await fetch(url);
  const body = await r.arrayBuffer();
  if (!r.ok) throw new Error(`${url.pathname}${url.search}: HTTP ${r.status}`);
  return { ms: performance.now() - t, bytes: body.byteLength };
}

export async function run(flags: string[]): Promise<object> {
  const n = Number(flag(flags, 'trials', '10000'));
  const repeat = Number(flag(flags, 'repeat', '7'));
  const colds = Number(flag(flags, 'cold', '3'));
  const chromiumPath = flag(flags, 'chromium', process.env.DSXPLORE_CHROMIUM || '/usr/bin/chromium');
  const dir = mkdtempSync(join(tmpdir(), 'dsx-bench-serve-'));
  const db = join(dir, 'bench.db');
  try {
    let t = performance.now();
    await fill(db, n);
    const fillSeconds = (performance.now() - t) / 1000;
    console.log(`filled a store with ${n} trials in ${fillSeconds.toFixed(1)} s`);

    // on a shared machine the figures move with the load: say what it was
    const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
    const loadBefore = load();
    console.log(`load average before timing: ${loadBefore}`);
    const api: Record<string, { coldMs: number[]; coldMedianMs: number; firstAfter1sMs: number; warmMedianMs: number; warmMinMs: number; bytes: number }> = {};
    const paths = ['/api/sweeps/bench-10k/trials', '/api/sweeps/bench-10k/front?x=macs', '/api/sweeps/bench-10k/front?x=latency', '/api/sweeps/bench-10k'];
    // cold: the first request of a freshly started dsxplore serve (--cold servers per
    // endpoint), which reads the sweep from the store and derives the answer, sent the moment
    // the server prints its URL, so it waits for the start-up warming of the newest sweeps'
    // cache (the worst case); first after 1 s: the first request a user's browser makes, a
    // moment after the URL appears (one more fresh server); warm: the same request again
    // (--repeat times, on the last cold server), answered from its per-sweep cache
    const FIRST_AFTER_MS = 1000;
    for (const path of paths) {
      const cold: number[] = [];
      const warm: number[] = [];
      let bytes = 0;
      for (let k = 0; k < colds; k++) {
        const fresh = await serveProcess(db);
        try {
          const first = await timedGet(new URL(path, fresh.url));
          cold.push(first.ms);
          bytes = first.bytes;
          if (k === colds - 1) for (let i = 0; i < repeat; i++) warm.push((await timedGet(new URL(path, fresh.url))).ms);
        } finally {
          await fresh.stop();
        }
      }
      const later = await serveProcess(db);
      let firstAfterMs: number;
      try {
        await new Promise((r) => setTimeout(r, FIRST_AFTER_MS));
        firstAfterMs = (await timedGet(new URL(path, later.url))).ms;
      } finally {
        await later.stop();
      }
      api[path] = { coldMs: cold, coldMedianMs: median(cold), firstAfter1sMs: firstAfterMs, warmMedianMs: median(warm), warmMinMs: Math.min(...warm), bytes };
      console.log(
        `${path.padEnd(40)} cold ${cold.map((c) => c.toFixed(0)).join(', ')} ms (median ${median(cold).toFixed(0)}); ` +
          `first after 1 s ${firstAfterMs.toFixed(0)} ms; ` +
          `warm median ${median(warm).toFixed(1)} ms (min ${Math.min(...warm).toFixed(1)}); ${(bytes / 1024).toFixed(0)} KiB`,
      );
    }
    let page: { coldMs: number; interactiveMs: number[]; medianMs: number; frontPoints: number; tableRows: number } | { skipped: string };
    if (!existsSync(chromiumPath)) {
      page = { skipped: `no Chromium at ${chromiumPath} (apt-get install chromium)` };
      console.log(`page: skipped, ${page.skipped}`);
    } else {
      // the first visit is to a fresh server (cold), the next two find its cache filled
      const server = await serveProcess(db);
      const browser = await chromium.launch({ executablePath: chromiumPath });
      try {
        const runs: number[] = [];
        let frontPoints = 0;
        let tableRows = 0;
        for (let i = 0; i < 3; i++) {
          const p = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
          t = performance.now();
          await p.goto(new URL('/#/sweep/bench-10k', server.url).href);
          await p.waitForFunction(
            () => document.querySelectorAll('.front-point').length > 0 && document.querySelectorAll('#trial-table tbody tr').length > 0,
            undefined,
            { timeout: 30_000, polling: 'raf' },
          );
          runs.push(performance.now() - t);
          frontPoints = await p.locator('.front-point').count();
          tableRows = await p.locator('#trial-table tbody tr').count();
          await p.close();
        }
        page = { coldMs: runs[0]!, interactiveMs: runs, medianMs: median(runs), frontPoints, tableRows };
        console.log(
          `page interactive (front placed, table filled): cold ${runs[0]!.toFixed(0)} ms, then ${runs.slice(1).map((r) => r.toFixed(0)).join(', ')} ms ` +
            `(${frontPoints} front points, first ${tableRows} table rows)`,
        );
      } finally {
        await browser.close();
        await server.stop();
      }
    }
    const loadAfter = load();
    console.log(`load average after: ${loadAfter}`);
    return { trials: n, fillSeconds, api, page, loadAverage: { before: loadBefore, after: loadAfter }, targets: { apiMs: 200, pageMs: 2000 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
