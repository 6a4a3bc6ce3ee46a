// Help texts of the flags `sweep` and `worker` share for training several trials at once,
// each in a child process: --device (one, or a list the --jobs lanes take round-robin),
// --jobs, --threads, and --trial-timeout.
// Their rules are in src/config/flags.ts.
export const JOBS_HELP =
  'trials trained at once, each in a child process (default 1): with --device cuda they share the GPU, each on its own stream; ' +
  'with a list (cuda:0,cuda:1) they take the devices round-robin; on the CPU the cores are split between them';
export const THREADS_HELP = 'CPU threads per trial (default: the recipe\'s; with --jobs on the CPU, cores / jobs)';
export const DEVICE_HELP = 'auto, cpu, cuda or cuda:N, or a list for --jobs (cuda:0,cuda:1)';
export const TRIAL_TIMEOUT_HELP =
  'kill a trial that sends no progress for this many seconds and record it as failed (default: no limit)';
