// bin/dsxplore over the current sources, for tests that start many real processes: `npm test`
// does not rebuild dist/, so bin/dsxplore itself may run stale code, and a process that runs
// src/ through tsx spends a second or more loading it. Here src/ is transpiled once with
// esbuild (the transform tsx runs every other test with) into a temporary package whose
// package.json, node_modules, native build and src/ (the dashboard's static files) are
// this checkout's, and the real launcher runs it.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

function tsSources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsSources(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

export interface CurrentCli {
  /** the launcher: run it as `node BIN ARGS` */
  bin: string;
  dispose(): void;
}

export function currentCli(): CurrentCli {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-cli-'));
  // the esbuild that tsx uses, wherever npm placed it
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))('esbuild') as typeof import('esbuild');
  esbuild.buildSync({
    entryPoints: tsSources(join(root, 'src')),
    outbase: join(root, 'src'),
    outdir: join(dir, 'dist'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
  });
  for (const link of ['package.json', 'node_modules', 'build', 'src']) symlinkSync(join(root, link), join(dir, link));
  mkdirSync(join(dir, 'bin'));
  cpSync(join(root, 'bin', 'dsxplore'), join(dir, 'bin', 'dsxplore'));
  return { bin: join(dir, 'bin', 'dsxplore'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
