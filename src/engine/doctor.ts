// What `dsxplore doctor` reports: this build of the native engine (CUDA compiled or not,
// cuBLAS found or not, GPU architectures), the CUDA devices it sees or why there are none,
// the CPU, the addon's path and the versions. Collecting never throws: a missing or broken
// addon is itself a finding, reported with the command that fixes it.
import os from 'node:os';
import { addon, addonPath } from './addon.js';
import { version } from '../version.js';

/** The addon's buildInfo() (native/src/addon_doctor.cc). */
export interface BuildInfo {
  cudaCompiled: boolean;
  /** cuBLAS found at run time (dlopen); when false GEMMs use the engine's own tiled SGEMM */
  cublas: boolean;
  /** the path of the cuBLAS library loaded, empty when none */
  cublasLibrary: string;
  /** why the engine's own SGEMM is used instead of cuBLAS, empty when cuBLAS is */
  cublasWhy: string;
  /** compute capabilities compiled in, e.g. ["75", "80", "90"] */
  cudaArchs: string[];
  cudaDeviceCount: number;
  /** "0: NVIDIA H200 (sm_90, 139 GiB, 132 SMs)", one per device */
  cudaDevices: string[];
  /** why CUDA is unavailable; empty when a device is usable */
  cudaWhy: string;
  /** the vector ISA the CPU kernels were compiled for (-march=native): avx512, avx2+fma or
   * scalar; results repeat bit for bit only on the same one (README, Reproducibility) */
  cpuIsa: string;
  /** what the build asked for (DSX_ISA): native (-march=native, the default), avx2 or avx512 */
  isaTarget: string;
}

export interface DoctorReport {
  dsxplore: string;
  node: string;
  platform: string;
  addon: { path: string; loaded: boolean; error?: string };
  /** null when the addon could not be loaded */
  build: BuildInfo | null;
  cuda: { available: boolean; deviceCount: number; devices: string[]; reason?: string };
  cpu: { model: string; threads: number };
  /** what `--device auto` resolves to on this machine */
  autoDevice: 'cuda' | 'cpu';
}

function asBuildInfo(raw: unknown): BuildInfo {
  const o = (raw ?? {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  return {
    cudaCompiled: o.cudaCompiled === true,
    cublas: o.cublas === true,
    cublasLibrary: typeof o.cublasLibrary === 'string' ? o.cublasLibrary : '',
    cublasWhy: typeof o.cublasWhy === 'string' ? o.cublasWhy : '',
    cudaArchs: strings(o.cudaArchs),
    cudaDeviceCount: typeof o.cudaDeviceCount === 'number' ? o.cudaDeviceCount : 0,
    cudaDevices: strings(o.cudaDevices),
    cudaWhy: typeof o.cudaWhy === 'string' ? o.cudaWhy : '',
    cpuIsa: typeof o.cpuIsa === 'string' ? o.cpuIsa : 'unknown',
    isaTarget: typeof o.isaTarget === 'string' ? o.isaTarget : 'native',
  };
}

/** The build information of the loaded addon; throws AddonError when it cannot be loaded. */
export function buildInfo(): BuildInfo {
  const native = addon();
  if (typeof native.buildInfo !== 'function') {
    return {
      cudaCompiled: false,
      cublas: false,
      cublasLibrary: '',
      cublasWhy: '',
      cudaArchs: [],
      cudaDeviceCount: 0,
      cudaDevices: [],
      cudaWhy: 'this addon predates buildInfo(); rebuild it with: npm run build:native',
      cpuIsa: 'unknown',
      isaTarget: 'native',
    };
  }
  return asBuildInfo(native.buildInfo());
}

export function collectDoctorReport(): DoctorReport {
  const cpus = os.cpus();
  const report: DoctorReport = {
    dsxplore: version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    addon: { path: addonPath(), loaded: false },
    build: null,
    cuda: { available: false, deviceCount: 0, devices: [] },
    cpu: {
      model: cpus[0]?.model.trim() || 'unknown',
      threads: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    },
    autoDevice: 'cpu',
  };
  try {
    report.build = buildInfo();
    report.addon.loaded = true;
  } catch (err) {
    report.addon.error = (err as Error).message;
    report.cuda.reason = 'the native engine could not be loaded';
    return report;
  }
  const b = report.build;
  report.cuda = {
    available: b.cudaDeviceCount > 0 && b.cudaWhy === '',
    deviceCount: b.cudaDeviceCount,
    devices: b.cudaDevices,
  };
  if (!report.cuda.available) report.cuda.reason = b.cudaWhy || 'no CUDA device was found';
  report.autoDevice = report.cuda.available ? 'cuda' : 'cpu';
  return report;
}

/** The report as aligned text lines for a terminal. */
export function formatDoctorReport(r: DoctorReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`${k.padEnd(10)}${v}`);
  };
  row('dsxplore', `${r.dsxplore} (node ${r.node}, ${r.platform})`);
  row('addon', `${r.addon.path} (${r.addon.loaded ? 'loaded' : 'NOT loaded'})`);
  if (!r.addon.loaded) {
    for (const l of (r.addon.error ?? '').split('\n')) row('', l);
  }
  if (r.build) {
    const b = r.build;
    row(
      'cuda',
      b.cudaCompiled
        ? `compiled for sm ${b.cudaArchs.join(', ') || '?'}`
        : 'not compiled (CPU-only build)',
    );
    if (b.cudaCompiled) {
      row(
        'gemm',
        b.cublas
          ? `cuBLAS ${b.cublasLibrary}`
          : `own tiled SGEMM (cuBLAS not used: ${b.cublasWhy || 'not found'})`,
      );
    }
  }
  if (r.cuda.available) {
    r.cuda.devices.forEach((d, i) => row(i === 0 ? 'devices' : '', d));
  } else {
    row('devices', `none: ${r.cuda.reason ?? 'unknown'}`);
  }
  const isa = r.build ? `; kernels built for ${r.build.cpuIsa}${r.build.isaTarget === 'native' ? '' : ` (DSX_ISA=${r.build.isaTarget})`}` : '';
  row('cpu', `${r.cpu.model}, ${r.cpu.threads} thread${r.cpu.threads === 1 ? '' : 's'}${isa}`);
  row('auto', `--device auto uses ${r.autoDevice}`);
  return lines.join('\n') + '\n';
}
