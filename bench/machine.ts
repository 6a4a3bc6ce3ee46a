// What a benchmark ran on, recorded beside every figure.
import os from 'node:os';

export interface Machine {
  summary: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
}

export function machineDescription(): Machine {
  const cpus = os.cpus();
  const cpu = cpus[0]?.model.trim() ?? 'unknown CPU';
  const memoryGiB = Math.round((os.totalmem() / 2 ** 30) * 10) / 10;
  const platform = `${os.platform()} ${os.release()} ${os.arch()}`;
  return {
    summary: `${cpu}, ${cpus.length} threads, ${memoryGiB} GiB, ${platform}, node ${process.version}`,
    cpu,
    cores: cpus.length,
    memoryGiB,
    platform,
    node: process.version,
  };
}
