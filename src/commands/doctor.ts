// `dsxplore doctor [--json]`: what this installation can do: the native build (CUDA or not,
// cuBLAS or not, architectures), the GPUs it sees or why none, the CPU threads, the addon
// path and the version. Exits 1 (after printing the report) when the addon cannot load.
import type { Command } from 'commander';
import { AddonError } from '../errors.js';
import { addFlags, jsonFlag, parseFlags } from '../config/flags.js';
import { collectDoctorReport, formatDoctorReport } from '../engine/doctor.js';

const DOCTOR_FLAGS = { json: jsonFlag('print the report as JSON') };

export function registerDoctor(program: Command): void {
  const cmd = program.command('doctor').description('report the native build (CUDA, cuBLAS, architectures), devices and CPU threads');
  addFlags(cmd, DOCTOR_FLAGS)
    .addHelpText(
      'after',
      '\nExit code 0 when the native engine loads (with or without a GPU), 1 when it does not.',
    )
    .action((raw: unknown) => {
      const flags = parseFlags(DOCTOR_FLAGS, raw);
      const report = collectDoctorReport();
      process.stdout.write(
        flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report),
      );
      if (!report.addon.loaded) {
        throw new AddonError(report.addon.error ?? 'the native engine could not be loaded');
      }
    });
}
