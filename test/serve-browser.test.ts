// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core
// (no browser download). Against a finished synthetic-data sweep trained by the real CLI:
// the front's points in the DOM are `pareto export`'s rows, a click opens that trial with
// its learning curves, the trial table's counts are `report --json`'s. A sweep name and an
// error message made of markup show as text and run nothing. Against a sweep that a real
// `dsxplore sweep` process is running: the done count rises without a reload. The page
// shares the CLI's vocabulary: states in the state machine's order, the variant notation,
// the number formats. Writes a screenshot to test-output/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../src/serve/server.js';
import { openStore, openStoreForReading, type SweepStore } from '../src/store/index.js';
import { parseCsv } from '../src/report/export.js';
import { formatCount, formatPercent } from '../src/report/format.js';
import { slotText } from '../src/models/notation.js';
import { TRIAL_STATES } from '../src/domain/trial-states.js';
import { buildPage, fillSweep, runCli } from './helpers/serve.js';

const root = resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.DSXPLORE_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT_DIR = join(root, 'test-output');
const XSS_NAME = '<img src=x onerror=alert(1)>';
const XSS_ERROR = '<script>alert(2)</script><b onmouseover=alert(3)>boom</b>';

const dir = mkdtempSync(join(tmpdir(), 'dsx-serve-browser-'));
const db = join(dir, 'r.db');

function cliArgs(args: string[]): string[] {
  const code = `import('./src/cli.ts').then(async m => { process.exitCode = await m.main(${JSON.stringify(args)}) })`;
  return ['--import', 'tsx', '-e', code];
}

function writeConfig(name: string, body: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, ...body }));
  return path;
}

const syntheticSweep = {
  model: 'resnet20',
  // small images: a trial takes well under a second on one thread
  dataset: { name: 'synthetic:size=16,classes=4,train=256,test=128', limitTrain: 128 },
  recipe: { epochs: 2, batchSize: 16, threads: 1 },
  space: { variants: ['dw-scc'], cg: [2, 4], co: [0.25, 0.5, 0.75], tie: 'stage' },
};

let browser: Browser;
let server: RunningServer;
let store: SweepStore;

async function openPage(path: string): Promise<{ page: Page; dialogs: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL(path, server.url).href);
  return { page, dialogs, errors };
}

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: the browser tests need Debian's chromium (apt-get install chromium; .ci/run installs it) ` +
      'or DSXPLORE_CHROMIUM=/path/to/chromium',
  );
  buildPage();
  // latency among its objectives: the sweep measures each spec once (batch 1, one thread)
  const cfg = writeConfig('synthetic-finished', {
    ...syntheticSweep,
    search: { kind: 'random', n: 6, seed: 1 },
    objectives: ['accuracy', 'macs', 'latency'],
  });
  const r = spawnSync(process.execPath, cliArgs(['sweep', '--config', cfg, '--db', db, '--json']), {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const w = await openStore(db);
  await fillSweep(w, XSS_NAME, { n: 4, failAt: 1, failMessage: XSS_ERROR });
  w.close();
  store = await openStoreForReading(`sqlite:${db}`);
  server = await startServer({ store, host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a finished synthetic sweep', () => {
  test('the landing page lists the sweeps; the front in the DOM is pareto export, labels and count', async () => {
    const { page, errors } = await openPage('/');
    await page.locator('a.sweep-link', { hasText: 'synthetic-finished' }).click();
    await page.waitForURL(/#\/sweep\/synthetic-finished$/);
    await page.locator('.front-point').first().waitFor();
    const ex = await runCli(['pareto', 'export', '--db', db, '--sweep', 'synthetic-finished', '--format', 'csv', '--objectives', 'accuracy,macs']);
    assert.equal(ex.code, 0, ex.err);
    const [header, ...rows] = parseCsv(ex.out);
    const exported = rows.map((r) => r[header.indexOf('label')]).sort();
    const inPage = (await page.locator('.front-point').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label!))).sort();
    assert.ok(exported.length >= 2, 'a front of at least two points');
    assert.deepEqual(inPage, exported);
    // baselines are marked and labelled on the chart
    const baselineLabels = await page.locator('.bl-label').allTextContents();
    assert.ok(baselineLabels.includes('std') && baselineLabels.includes('dw-pw'), baselineLabels.join(', '));
    // the design map has one row per front member
    assert.equal(await page.locator('#design-map tbody tr').count(), exported.length);
    // switching the cost axis to params redraws the front of accuracy against params
    await page.selectOption('#front-x', 'params');
    const exP = await runCli(['pareto', 'export', '--db', db, '--sweep', 'synthetic-finished', '--format', 'json', '--objectives', 'accuracy,params']);
    const byParams = JSON.parse(exP.out).map((r: { label: string }) => r.label).sort();
    await page.waitForFunction((n) => document.querySelectorAll('.front-point').length === n, byParams.length);
    const inPageP = (await page.locator('.front-point').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label!))).sort();
    assert.deepEqual(inPageP, byParams);
    // the sweep measured latency, so the axis offers it: the front of accuracy against latency
    assert.deepEqual(await page.locator('#front-x option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value)), [
      'macs',
      'params',
      'latency',
    ]);
    await page.selectOption('#front-x', 'latency');
    const exL = await runCli(['pareto', 'export', '--db', db, '--sweep', 'synthetic-finished', '--format', 'json', '--objectives', 'accuracy,latency']);
    assert.equal(exL.code, 0, exL.err);
    const byLatency = (JSON.parse(exL.out) as { label: string; latencyMs: number }[]).map((r) => {
      assert.ok(r.latencyMs > 0, `${r.label} has a measured latency`);
      return r.label;
    });
    // the design map's cost column follows the axis once the latency front is drawn
    await page.waitForFunction(() => document.querySelector('#design-map thead th:nth-child(3)')?.textContent === 'latency (ms)');
    await page.waitForFunction((n) => document.querySelectorAll('.front-point').length === n, byLatency.length);
    const inPageL = (await page.locator('.front-point').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label!))).sort();
    assert.deepEqual(inPageL, byLatency.sort());
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.selectOption('#front-x', 'macs');
    await page.locator('.front-point').first().waitFor();
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'serve-sweep.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('hovering a front point shows its design; clicking it opens that trial with its learning curves', async () => {
    const { page, errors } = await openPage('/#/sweep/synthetic-finished');
    const point = page.locator('.front-point').last();
    await point.waitFor();
    const label = (await point.getAttribute('data-label'))!;
    const trialId = (await point.getAttribute('data-trial'))!;
    await point.hover();
    await page.locator('#tip:not(.hidden)').waitFor();
    assert.match((await page.locator('#tip').textContent())!, new RegExp(`^${label.replace(/[|.*+?^${}()[\]\\]/g, '\\$&')}\\naccuracy `));
    await point.click();
    await page.waitForURL(new RegExp(`#/sweep/synthetic-finished/trial/${trialId}$`));
    await page.locator('#trial-title .trial-label').waitFor();
    assert.equal(await page.locator('#trial-title .trial-label').textContent(), label);
    // two epochs recorded, so two learning-curve charts over two epochs
    assert.equal(await page.locator('#curves').getAttribute('data-epochs'), '2');
    assert.equal(await page.locator('#curves .uplot').count(), 2);
    assert.ok((await page.locator('#trial-slots tbody tr').count()) >= 9, 'ResNet-20 has at least 9 slots listed');
    const provenance = (await page.locator('#provenance').textContent())!;
    for (const key of ['configHash', 'seed', 'device', 'dsxplore', 'recipe']) assert.ok(provenance.includes(key), `provenance shows ${key}`);
    // each slot in the notation the CLI prints (the report's slotText), numbers as it formats them
    const row = (await store.trial(Number(trialId)))!;
    assert.deepEqual(await page.locator('#trial-slots tbody tr td:nth-child(2)').allTextContents(), row.variants.map((v) => slotText(v)));
    const facts = await page.locator('#trial-facts dt').evaluateAll((dts) =>
      Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])),
    );
    assert.equal(facts.MACs, formatCount(row.macs));
    assert.equal(facts.accuracy, formatPercent(row.accuracy!));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a dw-gpw-shuffle baseline shows in the notation the CLI prints, on the chart and on its trial page', async () => {
    const trials = await store.trials('synthetic-finished');
    const shuffled = trials.find((t) => t.label === 'dw-gpw-shuffle:cg=2' && t.state === 'done');
    assert.ok(shuffled, 'baselines: true trains dw-gpw-shuffle at cg = 2');
    const { page, errors } = await openPage(`/#/sweep/synthetic-finished/trial/${shuffled.id}`);
    await page.locator('#trial-title .trial-label').waitFor();
    assert.equal(await page.locator('#trial-title .trial-label').textContent(), 'dw-gpw-shuffle:cg=2');
    const slots = await page.locator('#trial-slots tbody tr td:nth-child(2)').allTextContents();
    assert.ok(slots.length >= 9);
    assert.deepEqual(slots, shuffled.variants.map((v) => slotText(v)));
    assert.ok(slots.every((t) => t === 'dw-gpw-shuffle:cg=2'), slots.join(', '));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the trial table counts equal report --json, and the table sorts and filters by state', async () => {
    const rep = await runCli(['report', '--db', db, '--sweep', 'synthetic-finished', '--json']);
    assert.equal(rep.code, 0, rep.err);
    const report = JSON.parse(rep.out) as { trials: number; counts: Record<string, number> };
    const { page } = await openPage('/#/sweep/synthetic-finished');
    await page.locator('#trial-table tbody tr').first().waitFor();
    const optionCounts = await page.locator('#state-filter option').evaluateAll((els) =>
      Object.fromEntries(els.map((e) => [(e as HTMLOptionElement).value, Number((e as HTMLElement).dataset.count)])),
    );
    const { all, ...byState } = optionCounts;
    assert.equal(all, report.trials);
    assert.deepEqual(byState, report.counts);
    // the states in the state machine's order, in the filter and in the counts
    assert.deepEqual(Object.keys(optionCounts), ['all', ...TRIAL_STATES]);
    assert.deepEqual(await page.locator('#counts [data-count]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.count)), [...TRIAL_STATES]);
    assert.match((await page.locator('#eta').textContent())!, new RegExp(`^${report.trials} of ${report.trials} trials finished · nothing left to run`));
    // MACs as the CLI's report writes them
    const listing = await store.trialListing('synthetic-finished');
    const macsCells = await page.locator('#trial-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [Number((tr as HTMLElement).dataset.trial), tr.children[7]!.textContent]),
    );
    assert.deepEqual(macsCells, listing.map((t) => [t.id, formatCount(t.macs)]));
    assert.equal(await page.locator('#trial-table tbody tr').count(), report.trials);
    const pageCounts = await page.locator('#counts [data-count]').evaluateAll((els) =>
      Object.fromEntries(els.map((e) => [(e as HTMLElement).dataset.count!, Number(e.textContent)])),
    );
    assert.deepEqual(pageCounts, report.counts);
    await page.selectOption('#state-filter', 'done');
    assert.equal(await page.locator('#trial-table tbody tr').count(), report.counts.done);
    await page.selectOption('#state-filter', 'failed');
    assert.equal(await page.locator('#trial-table tbody tr').count(), report.counts.failed);
    await page.selectOption('#state-filter', 'all');
    // sort by accuracy, twice: descending
    await page.locator('th button[data-sort="accuracy"]').click();
    await page.locator('th button[data-sort="accuracy"]').click();
    const accs = await page.locator('#trial-table tbody tr td:nth-child(7)').allTextContents();
    const nums = accs.filter(Boolean).map((s) => Number.parseFloat(s));
    assert.deepEqual(nums, [...nums].sort((a, b) => b - a));
    await page.close();
  });
});

test('strings from the store are shown as text and run nothing', async () => {
  const { page, dialogs, errors } = await openPage('/');
  const link = page.locator('a.sweep-link').filter({ hasText: 'onerror' });
  await link.waitFor();
  assert.equal(await link.textContent(), XSS_NAME);
  assert.equal(await page.locator('img').count(), 0);
  await link.click();
  await page.locator('#trial-table tbody tr').first().waitFor();
  assert.equal(await page.locator('#sweep-title').textContent(), XSS_NAME);
  // this sweep measured no latency, so the cost axis does not offer it
  assert.deepEqual(await page.locator('#front-x option').evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value)), ['macs', 'params']);
  await page.selectOption('#state-filter', 'failed');
  const errCell = page.locator('#trial-table tbody tr td.err');
  assert.equal(await errCell.textContent(), XSS_ERROR);
  await errCell.hover();
  assert.equal(await page.locator('img, script:not([src]), [onerror], [onmouseover]').count(), 0, 'no element was made from store strings');
  await page.locator('#config summary').click();
  assert.match((await page.locator('#config pre').textContent())!, /<img src=x onerror=alert\(1\)>/);
  await page.waitForTimeout(1500); // a poll cycle re-renders everything once more
  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('while a real sweep runs, the done count on the page rises without a reload', async () => {
  const liveDb = join(dir, 'live.db');
  const cfg = writeConfig('synthetic-live', { ...syntheticSweep, baselines: false, search: { kind: 'random', n: 40, seed: 2 } });
  const child: ChildProcess = spawn(process.execPath, cliArgs(['sweep', '--config', cfg, '--db', liveDb, '--json']), {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  child.stdout!.resume();
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  let liveStore: SweepStore | undefined;
  let liveServer: RunningServer | undefined;
  try {
    // the sweep creates its database; the dashboard opens it read-only once it exists
    const t0 = Date.now();
    for (;;) {
      if (existsSync(liveDb)) {
        try {
          liveStore = await openStoreForReading(`sqlite:${liveDb}`);
          if ((await liveStore.listSweeps()).length > 0) break;
        } catch {
          // not migrated yet
        }
        await liveStore?.close();
        liveStore = undefined;
      }
      assert.ok(Date.now() - t0 < 60_000, `the sweep did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    liveServer = await startServer({ store: liveStore!, host: '127.0.0.1', port: 0 });
    const page = await browser.newPage();
    await page.goto(new URL('/#/sweep/synthetic-live', liveServer.url).href);
    const doneCount = page.locator('[data-count="done"]');
    await doneCount.waitFor();
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const first = Number(await doneCount.textContent());
    const total = 40;
    assert.ok(first < total, `the sweep finished before the page opened (${first} done)`);
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-count="done"]')?.textContent) > n,
      first,
      { timeout: 90_000, polling: 200 },
    );
    const later = Number(await doneCount.textContent());
    assert.ok(later > first, `done went from ${first} to ${later}`);
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
    // the trial table follows too
    await page.waitForFunction(
      (n) => document.querySelectorAll('#trial-table tbody tr[data-state="done"]').length >= n,
      later,
      { timeout: 10_000 },
    );
    await page.close();
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await liveServer?.close();
    await liveStore?.close();
  }
});
