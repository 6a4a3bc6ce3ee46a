// What a benchmark ran on, recorded beside every figure.
import os from 'node:os';
import { buildInfo } from '../src/engine/index.js';

export interface Machine {
  summary: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  /** the vector ISA our CPU kernels were compiled for: every CPU figure is of that path */
  isa: string;
}

export function machineDescription(): Machine {
  const cpus = os.cpus();
  const cpu = cpus[0]?.model.trim() ?? 'unknown CPU';
  const memoryGiB = Math.round((os.totalmem() / 2 ** 30) * 10) / 10;
  const platform = `${os.platform()} ${os.release()} ${os.arch()}`;
  let isa: string;
  try {
    const b = buildInfo();
    isa = b.isaTarget === 'native' ? b.cpuIsa : `${b.cpuIsa} (DSX_ISA=${b.isaTarget})`;
  } catch {
    isa = 'unknown (the native addon did not load)';
  }
  return {
    summary: `${cpu}, ${cpus.length} threads, ${memoryGiB} GiB, ${platform}, node ${process.version}, kernels built for ${isa}`,
    cpu,
    cores: cpus.length,
    memoryGiB,
    platform,
    node: process.version,
    isa,
  };
}
