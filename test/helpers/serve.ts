// Shared by the dashboard tests: the page's script bundled from this checkout's sources, a
// store filled through the store's own API (no training), the CLI run in-process with its
// output captured, and raw HTTP requests whose paths are sent exactly as written (fetch
// would normalise `/../`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { parseSweepConfig } from '../../src/config/sweep.js';
import { planSweep } from '../../src/space/index.js';
import type { StoreReader, SweepStore } from '../../src/store/index.js';
import { ensureLatency } from '../../src/sweep/latency.js';
import { runCli } from './cli.js';
export { runCli };

let pageBuilt = false;

/** Bundle the page's script as `npm ci` does (`npm run build:web`, into dist/web/), once per
 * test process: a server started from the sources then serves the page of these sources,
 * not of an earlier build. */
export function buildPage(): void {
  if (pageBuilt) return;
  execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8' });
  pageBuilt = true;
}

/** A random-search sweep over ResNet-20 with its baselines: every trial done with two epochs
 * of metrics and an accuracy from `accuracyOf`, except trial index `failAt`, which fails with
 * `failMessage`. With `latency`, the sweep's objectives are accuracy, MACs and latency, and
 * each spec's latency is measured for real (as the runner does: once per spec, our engine,
 * batch 1, one thread) before its trial finishes. */
export async function fillSweep(
  store: SweepStore,
  name: string,
  opts: { n?: number; failAt?: number; failMessage?: string; accuracyOf?: (macs: number, i: number) => number; latency?: boolean } = {},
): Promise<void> {
  const config = parseSweepConfig({
    name: 'placeholder',
    model: 'resnet20',
    dataset: { name: 'synthetic' },
    space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5], tie: 'stage' },
    search: { kind: 'random', n: opts.n ?? 12, seed: 3 },
    ...(opts.latency ? { objectives: ['accuracy', 'macs', 'latency'] } : {}),
  });
  const plan = planSweep(config);
  const cands = [...plan.baselines, ...plan.search.initial()];
  const accuracyOf = opts.accuracyOf ?? ((macs, i) => 0.6 + 0.04 * Math.log10(macs) + 0.003 * (i % 7));
  // the store keeps the name it is given; only the config's own name is validated
  await store.createSweep({ name, config: { ...config, name }, configHash: name });
  await store.enqueue(
    name,
    cands.map((candidate) => ({ candidate, rung: 0, round: 0, epochs: 2, seed: 0, recipeHash: `r-${name}` })),
  );
  for (let i = 0; ; i++) {
    const claimed = await store.claimNext(name, 'w');
    if (!claimed) break;
    if (i === (opts.failAt ?? 2)) {
      await store.failTrial(claimed.trial.id, 'w', opts.failMessage ?? 'out of memory');
      continue;
    }
    if (opts.latency) await ensureLatency(store, claimed.spec, claimed.trial.candidateHash);
    const acc = accuracyOf(claimed.trial.macs, i);
    await store.finishTrial(claimed.trial.id, 'w', {
      state: 'done',
      accuracy: acc,
      testLoss: 0.5,
      trainLoss: 0.4,
      trainAccuracy: acc + 0.01,
      seconds: 1 + i,
      imagesPerSecond: 100,
      device: 'cpu',
      epochs: [
        { epoch: 1, lr: 0.1, trainLoss: 1.2, trainAccuracy: acc - 0.2, testAccuracy: acc - 0.1, testLoss: 1.0, seconds: 0.5 },
        { epoch: 2, lr: 0.1, trainLoss: 0.4, trainAccuracy: acc + 0.01, testAccuracy: acc, testLoss: 0.5, seconds: 0.5 },
      ],
      provenance: { seed: 0, device: 'cpu', version: 'test' },
    });
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with the path sent byte for byte. */
export function rawRequest(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The fields a trial listing leaves out (the whole row has them; variants come from
 * candidateVariants). */
const NOT_LISTED = ['variants', 'provenance', 'testLoss', 'trainAccuracy', 'imagesPerSecond', 'workerId', 'heartbeatAt', 'recipeHash'];

/** The store's listing of a sweep is its whole trials less exactly NOT_LISTED, latency
 * included, and candidateVariants gives each candidate's variants as the whole rows have
 * them; returns the listing. */
export async function assertListingIsTrials(store: StoreReader, sweep: string) {
  const whole = await store.trials(sweep);
  const listed = await store.trialListing(sweep);
  assert.ok(whole.length > 0, `sweep ${sweep} has trials`);
  assert.deepEqual(
    listed,
    whole.map((t) => Object.fromEntries(Object.entries(t).filter(([k]) => !NOT_LISTED.includes(k)))),
  );
  const variants = await store.candidateVariants([...whole.map((t) => t.candidateHash), 'no-such-candidate']);
  assert.deepEqual(variants, new Map(whole.map((t) => [t.candidateHash, t.variants])));
  return listed;
}
