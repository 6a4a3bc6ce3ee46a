// Flags shared by `sweep` and `worker` for training several trials at once in one process:
// --device (one device, or a list the --jobs lanes take round-robin), --jobs and --threads.
import { z } from 'zod';

const DEVICE = /^(auto|cpu|cuda|cuda:\d+)$/;

export const jobFlags = {
  device: z
    .string()
    .refine((d) => d.split(',').every((x) => DEVICE.test(x)), {
      error: '--device must be auto, cpu, cuda or cuda:N, or a comma-separated list such as cuda:0,cuda:1',
    })
    .default('auto'),
  jobs: z
    .string()
    .regex(/^\d+$/, { error: '--jobs must be a whole number from 1 to 64' })
    .transform(Number)
    .refine((n) => n >= 1 && n <= 64, { error: '--jobs must be a whole number from 1 to 64' })
    .optional(),
  threads: z
    .string()
    .regex(/^\d+$/, { error: '--threads must be a whole number from 1 to 256' })
    .transform(Number)
    .refine((n) => n >= 1 && n <= 256, { error: '--threads must be a whole number from 1 to 256' })
    .optional(),
};

export const JOBS_HELP =
  'trials trained at once in this process (default 1): with --device cuda they share the GPU, each on its own stream; ' +
  'with a list (cuda:0,cuda:1) they take the devices round-robin; on the CPU the cores are split between them';
export const THREADS_HELP = 'CPU threads per trial (default: the recipe\'s; with --jobs on the CPU, cores / jobs)';
export const DEVICE_HELP = 'auto, cpu, cuda or cuda:N, or a list for --jobs (cuda:0,cuda:1)';
