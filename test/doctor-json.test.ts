// `dsxplore doctor --json`: the report's fields, cross-checked against how the addon under
// test was configured (its CMakeCache.txt says whether nvcc built the CUDA backend), and
// the exit code and advice when the addon cannot be loaded at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { registerDoctor } from '../src/commands/doctor.js';
import { addonPath } from '../src/engine/addon.js';
import { packageRoot } from '../src/version.js';
import { collectDoctorReport, type DoctorReport } from '../src/engine/doctor.js';

const pkgVersion = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

async function runDoctorJson(): Promise<DoctorReport> {
  const program = new Command().exitOverride();
  registerDoctor(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['doctor', '--json'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return JSON.parse(out) as DoctorReport;
}

/** Whether the build dir of the addon under test was configured with a CUDA compiler. */
function addonBuiltWithCuda(): boolean | undefined {
  const cache = join(dirname(addonPath()), '..', 'CMakeCache.txt');
  if (!existsSync(cache)) return undefined;
  const m = /^CMAKE_CUDA_COMPILER:[A-Z]+=(.*)$/m.exec(readFileSync(cache, 'utf8'));
  return m !== null && m[1]!.trim() !== '' && !m[1]!.includes('NOTFOUND');
}

test('doctor --json reports version, addon, build, devices and CPU threads', async () => {
  const r = await runDoctorJson();
  assert.equal(r.dsxplore, pkgVersion);
  assert.equal(r.node, process.version);
  assert.equal(r.addon.path, addonPath());
  assert.equal(r.addon.loaded, true, `addon did not load: ${r.addon.error}`);
  assert.ok(r.build, 'build info present');
  assert.equal(typeof r.build.cudaCompiled, 'boolean');
  assert.equal(typeof r.build.cublas, 'boolean');
  assert.ok(r.cpu.threads >= 1 && Number.isInteger(r.cpu.threads));
  assert.ok(r.cpu.model.length > 0);
  assert.equal(r.cuda.deviceCount, r.build.cudaDeviceCount);
  assert.equal(r.cuda.devices.length, r.cuda.deviceCount);
  assert.equal(typeof r.build.cublasWhy, 'string');
  // the kernels' ISA is one this CPU runs (the addon is built here, -march=native unless
  // DSX_ISA asked for another)
  assert.ok(['avx512', 'avx2+fma', 'scalar'].includes(r.build.cpuIsa), r.build.cpuIsa);
  assert.ok(['native', 'avx2', 'avx512'].includes(r.build.isaTarget), r.build.isaTarget);
  if (existsSync('/proc/cpuinfo')) {
    const flags = new Set((/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/));
    if (r.build.cpuIsa === 'avx512') assert.ok(flags.has('avx512f'), 'avx512 kernels on a CPU without avx512f');
    if (r.build.cpuIsa === 'avx2+fma') assert.ok(flags.has('avx2') && flags.has('fma'), 'avx2+fma kernels on a CPU without AVX2 and FMA');
    if (r.build.isaTarget === 'native' && r.build.cpuIsa === 'avx2+fma') assert.ok(!flags.has('avx512f'), '-march=native on an AVX-512 CPU built AVX2 kernels');
    if (r.build.isaTarget !== 'native') assert.equal(r.build.cpuIsa, { avx2: 'avx2+fma', avx512: 'avx512' }[r.build.isaTarget], 'DSX_ISA decides the kernels');
  }
  if (r.build.cudaCompiled) {
    assert.ok(r.build.cudaArchs.includes('90'), `sm_90 compiled in: ${r.build.cudaArchs.join(',')}`);
    // the GEMM engine is named: the path of the cuBLAS loaded, or why our own SGEMM is used
    if (r.build.cublas) assert.match(r.build.cublasLibrary, /^\/.*libcublas\.so/);
    else assert.ok(r.build.cublasWhy.length > 0, 'a reason when cuBLAS is not used');
  } else {
    assert.deepEqual(r.build.cudaArchs, []);
    assert.match(r.build.cudaWhy, /no CUDA backend/);
  }
  if (r.cuda.deviceCount === 0) {
    assert.equal(r.cuda.available, false);
    assert.equal(r.autoDevice, 'cpu');
    assert.ok((r.cuda.reason ?? '').length > 0, 'a reason is given when no device is usable');
  } else {
    assert.equal(r.autoDevice, r.cuda.available ? 'cuda' : 'cpu');
  }
});

const builtWithCuda = addonBuiltWithCuda();
test(
  'cudaCompiled matches how the addon was configured',
  { skip: builtWithCuda === undefined ? 'no CMakeCache.txt beside the addon under test' : false },
  () => {
    const r = collectDoctorReport();
    assert.equal(r.build?.cudaCompiled, builtWithCuda);
  },
);

test('the human-readable report names the build, devices and CPU', () => {
  const out = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e',
      "import { main } from './src/cli.ts'; process.exitCode = await main(['doctor']);"],
    { cwd: packageRoot, encoding: 'utf8', env: process.env },
  );
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /^dsxplore\s+\d+\.\d+\.\d+/m);
  assert.match(out.stdout, /^cuda\s+(compiled for sm \d+|not compiled)/m);
  assert.match(out.stdout, /^devices\s+\S/m);
  if (/^cuda\s+compiled/m.test(out.stdout)) {
    assert.match(out.stdout, /^gemm\s+(cuBLAS \/\S*libcublas\S*|own tiled SGEMM \(cuBLAS not used: .+\))$/m);
  }
  assert.match(out.stdout, /^cpu\s+.+, \d+ threads?; kernels built for (avx512|avx2\+fma|scalar)( \(DSX_ISA=(avx2|avx512)\))?$/m);
  assert.match(out.stdout, /^auto\s+--device auto uses (cpu|cuda)$/m);
});

test('without a loadable addon doctor still reports, says how to build, and exits 1', () => {
  const out = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e',
      "import { main } from './src/cli.ts'; process.exitCode = await main(['doctor', '--json']);"],
    { cwd: packageRoot, encoding: 'utf8', env: { ...process.env, DSXPLORE_ADDON: '/nonexistent/dsxplore.node' } },
  );
  assert.equal(out.status, 1, out.stderr);
  const r = JSON.parse(out.stdout) as DoctorReport;
  assert.equal(r.addon.loaded, false);
  assert.equal(r.build, null);
  assert.equal(r.autoDevice, 'cpu');
  assert.match(r.addon.error ?? '', /npm run build:native/);
  assert.match(out.stderr, /not built/);
});
