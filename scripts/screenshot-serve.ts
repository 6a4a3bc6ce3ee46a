// The dashboard screenshot of README.md ("Watching a sweep"), taken from a committed study's
// store so that it shows real trainings: the page bundled from the sources, the store opened
// read-only (it stays as committed), Debian's headless Chromium through playwright-core.
//   node --import tsx scripts/screenshot-serve.ts [--db results/study-resnet20/dsxplore.db]
//     [--sweep NAME (default: the store's newest)] [--out docs/img/serve.png] [--width 1280] [--height 1100]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer } from '../src/serve/server.js';
import { openStoreForReading } from '../src/store/index.js';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'results/study-resnet20/dsxplore.db' },
    sweep: { type: 'string' },
    out: { type: 'string', default: 'docs/img/serve.png' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '1100' },
  },
});
const chromiumPath = process.env.DSXPLORE_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`no Chromium at ${chromiumPath}: apt-get install chromium, or set DSXPLORE_CHROMIUM=/path/to/chromium`);
  process.exit(2);
}

execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: 'inherit' });
const store = await openStoreForReading(`sqlite:${resolve(root, values.db)}`);
const server = await startServer({ store, host: '127.0.0.1', port: 0 });
const browser = await chromium.launch({ executablePath: chromiumPath });
try {
  const sweeps = await store.listSweeps();
  const sweep = values.sweep === undefined ? sweeps.at(-1) : sweeps.find((s) => s.name === values.sweep);
  if (!sweep) throw new Error(`${values.db} holds no sweep ${values.sweep ?? ''}; it has: ${sweeps.map((s) => s.name).join(', ')}`);
  const page = await browser.newPage({ viewport: { width: Number(values.width), height: Number(values.height) } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL(`/#/sweep/${encodeURIComponent(sweep.name)}`, server.url).href);
  await page.locator('.front-point').first().waitFor();
  await page.screenshot({ path: resolve(root, values.out) });
  if (errors.length) throw new Error(`the page raised: ${errors.join('; ')}`);
  console.log(`wrote ${values.out}: sweep ${sweep.name} of ${values.db}`);
} finally {
  await browser.close();
  await server.close();
  await store.close();
}
