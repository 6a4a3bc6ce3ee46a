// Where the CUDA backend looks for cuBLAS (native/src/ops/gemm_cuda.cu): the loader's path,
// then $CUDA_HOME/lib64 (and /usr/local/cuda*/lib64), then the pip wheels nvidia-cublas-*
// under a python environment's site-packages; buildInfo() names the file loaded or says why
// our own SGEMM is used. A stand-in libcublas.so.12 (a real shared library exporting the
// entry points we look up; nothing calls them, since buildInfo only loads the library) is
// built with the C compiler and placed where each install puts cuBLAS; each case runs in a
// fresh process, because the library is loaded once per process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonPath } from '../src/engine/addon.js';
import { buildInfo, type BuildInfo } from '../src/engine/doctor.js';

const ENTRY_POINTS = [
  'cublasCreate_v2',
  'cublasDestroy_v2',
  'cublasSetStream_v2',
  'cublasSetMathMode',
  'cublasSgemm_v2',
  'cublasSgemmStridedBatched',
];

/** buildInfo() of the addon under test in a child process with `env` added. */
function buildInfoWith(env: Record<string, string>): BuildInfo {
  const clean = { ...process.env };
  for (const k of ['CUDA_HOME', 'CUDA_PATH', 'VIRTUAL_ENV', 'CONDA_PREFIX', 'PYTHONPATH', 'DSXPLORE_CUBLAS']) delete clean[k];
  const r = spawnSync(
    process.execPath,
    ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(addonPath())}).buildInfo()))`],
    { encoding: 'utf8', env: { ...clean, ...env } },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as BuildInfo;
}

/** Builds a stand-in libcublas.so.12 exporting `symbols` into `dir`; returns its path. */
function stubCublas(dir: string, symbols: string[]): string {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'stub.c');
  writeFileSync(src, symbols.map((s) => `int ${s}(void) { return 0; }\n`).join(''));
  const lib = join(dir, 'libcublas.so.12');
  const r = spawnSync('cc', ['-shared', '-fPIC', '-o', lib, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return lib;
}

const info = (() => {
  try {
    return buildInfo();
  } catch {
    return null;
  }
})();
const hasCc = spawnSync('cc', ['--version']).status === 0;
const skip =
  info === null
    ? 'the native addon is not built (npm run build:native)'
    : !info.cudaCompiled
      ? 'this build has no CUDA backend, so it never looks for cuBLAS'
      : !hasCc
        ? 'no C compiler (cc) to build the stand-in library'
        : buildInfoWith({}).cublas
          ? 'a real cuBLAS is on this machine, found before any stand-in'
          : false;

test('cuBLAS is found in $CUDA_HOME/lib64, its path reported', { skip }, () => {
  const root = mkdtempSync(join(tmpdir(), 'dsx-cublas-'));
  try {
    const lib = stubCublas(join(root, 'lib64'), ENTRY_POINTS);
    const b = buildInfoWith({ CUDA_HOME: root });
    assert.equal(b.cublas, true, b.cublasWhy);
    assert.equal(b.cublasLibrary, lib);
    assert.equal(b.cublasWhy, '');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("cuBLAS is found in a virtual environment's nvidia-cublas wheel", { skip }, () => {
  const root = mkdtempSync(join(tmpdir(), 'dsx-venv-'));
  try {
    const lib = stubCublas(join(root, 'lib', 'python3.11', 'site-packages', 'nvidia', 'cublas', 'lib'), ENTRY_POINTS);
    const b = buildInfoWith({ VIRTUAL_ENV: root });
    assert.equal(b.cublas, true, b.cublasWhy);
    assert.equal(b.cublasLibrary, lib);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('without cuBLAS, or with it disabled or incomplete, the reason is reported', { skip }, () => {
  const root = mkdtempSync(join(tmpdir(), 'dsx-cublas-'));
  try {
    const none = buildInfoWith({ CUDA_HOME: join(root, 'missing') });
    assert.equal(none.cublas, false);
    assert.match(none.cublasWhy, /no libcublas/);
    const lib = stubCublas(join(root, 'lib64'), ENTRY_POINTS);
    const off = buildInfoWith({ CUDA_HOME: root, DSXPLORE_CUBLAS: '0' });
    assert.equal(off.cublas, false);
    assert.match(off.cublasWhy, /DSXPLORE_CUBLAS=0/);
    stubCublas(join(root, 'lib64'), ENTRY_POINTS.filter((s) => s !== 'cublasSetMathMode'));
    const old = buildInfoWith({ CUDA_HOME: root });
    assert.equal(old.cublas, false);
    assert.ok(old.cublasWhy.startsWith(lib), old.cublasWhy);
    assert.match(old.cublasWhy, /lacks an entry point/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
