// `dsxplore doctor [--json]`: what this installation can do: the native build (CUDA or not,
// cuBLAS or not, architectures), the GPUs it sees or why none, the CPU threads, the addon
// path and the version. Exits 1 (after printing the report) when the addon cannot load.
import type { Command } from 'commander';
import { AddonError } from '../errors.js';
import { doctorFlagsSchema, parseFlags } from '../config/flags.js';
import { collectDoctorReport, formatDoctorReport } from '../engine/doctor.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the native build (CUDA, cuBLAS, architectures), devices and CPU threads')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExit code 0 when the native engine loads (with or without a GPU), 1 when it does not.',
    )
    .action((raw: unknown) => {
      const flags = parseFlags(doctorFlagsSchema, raw);
      const report = collectDoctorReport();
      process.stdout.write(
        flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report),
      );
      if (!report.addon.loaded) {
        throw new AddonError(report.addon.error ?? 'the native engine could not be loaded');
      }
    });
}
