// The sbatch script of `dsxplore launch slurm`: an array job whose every task runs one
// `dsxplore worker` on the sweep, as a pure function of plain data (the command submits it).
//
// What the script gets right so that the user does not have to:
// - The store URL is read from $DSXPLORE_STORE, which sbatch exports from the environment it
//   was run in: a password never lands in the script, the job's command line or `ps`.
// - `exec`: the worker is the batch step's process itself, so each signal Slurm sends (the
//   warning before the time limit, scancel's SIGTERM, preemption) reaches it exactly once,
//   with no shell in between that dies first.
// - `--signal=B:TERM@LEAD`: LEAD seconds before the time limit Slurm sends SIGTERM, and the
//   worker puts its running trial back in the queue and exits, instead of being killed
//   mid-trial and leaving it to the heartbeat timeout. Slurm sends it up to 60 s early.
// - The worker names itself after the job, array task and node (src/launch/slurm-env.ts).

export interface SlurmJobPlan {
  sweep: string;
  /** array tasks, one worker each */
  workers: number;
  gpusPerWorker?: number;
  cpusPerWorker?: number;
  /** wall-time limit per task, as sbatch takes it (HH:MM:SS, D-HH:MM:SS, minutes) */
  time?: string;
  /** seconds before the time limit that the worker is told to give its trial back */
  signalLead: number;
  partition?: string;
  account?: string;
  /** let Slurm requeue a task after a node failure or preemption */
  requeue: boolean;
  /** more #SBATCH lines, each one sbatch option (`--mem=16G`, `--constraint=a100`) */
  sbatchArgs: string[];
  /** the argv that starts dsxplore on a compute node */
  dsxplore: string[];
  /** flags passed on to every worker (--data-dir, --heartbeat, ...) */
  workerArgs: string[];
  /** folder of the tasks' logs (absolute: compute nodes share it with the login node) */
  logDir: string;
  /** where the script is written */
  file: string;
  /** dsxplore version, for the header */
  version: string;
}

/** --time as sbatch takes it: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS */
export const SLURM_TIME = /^(\d+-\d{1,2}(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2})$/;

/** A word for the shell, single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Slurm job names: keep them to characters every shell and squeue column take. */
export function slurmJobName(sweep: string): string {
  return `dsx-${sweep.replace(/[^A-Za-z0-9_.-]/g, '_')}`.slice(0, 64);
}

export function slurmScript(p: SlurmJobPlan): string {
  const directives = [
    `--job-name=${slurmJobName(p.sweep)}`,
    `--array=0-${p.workers - 1}`,
    `--ntasks=1`,
    ...(p.cpusPerWorker ? [`--cpus-per-task=${p.cpusPerWorker}`] : []),
    ...(p.gpusPerWorker ? [`--gres=gpu:${p.gpusPerWorker}`] : []),
    ...(p.time ? [`--time=${p.time}`] : []),
    `--signal=B:TERM@${p.signalLead}`,
    ...(p.requeue ? ['--requeue'] : []),
    ...(p.partition ? [`--partition=${p.partition}`] : []),
    ...(p.account ? [`--account=${p.account}`] : []),
    // sbatch splits #SBATCH lines at blanks unless they are in double quotes
    `--output=${/\s/.test(p.logDir) ? `"${p.logDir}/%x-%A_%a.out"` : `${p.logDir}/%x-%A_%a.out`}`,
    ...p.sbatchArgs,
  ];
  const worker = [...p.dsxplore, 'worker', '--sweep', p.sweep, '--json', ...p.workerArgs].map(shellQuote).join(' ');
  return [
    '#!/bin/bash',
    `# dsxplore ${p.version}: ${p.workers} worker(s) for sweep ${p.sweep}, one per array task.`,
    '# The store URL comes from $DSXPLORE_STORE in the environment sbatch runs in; it is',
    '# never written here. Submit it again (more workers, or after the time limit) with:',
    `#   DSXPLORE_STORE=postgres://... sbatch ${p.file}`,
    ...directives.map((d) => `#SBATCH ${d}`),
    '',
    'if [ -z "${DSXPLORE_STORE:-}" ]; then',
    `  echo ${shellQuote(`dsxplore: DSXPLORE_STORE is not set; submit with the store URL in the environment: DSXPLORE_STORE=postgres://... sbatch ${p.file}`)} >&2`,
    '  exit 2',
    'fi',
    '# the worker replaces this shell, so Slurm\'s signals reach it directly',
    `exec ${worker}`,
    '',
  ].join('\n');
}

/** What to run next, printed after the job is submitted. */
export function slurmFollowUp(o: { jobId: string; sweep: string; storeFlag: string; script: string; logDir: string }): string[] {
  return [
    `follow the tasks:   squeue -j ${o.jobId}`,
    `their logs:         ${o.logDir}/${slurmJobName(o.sweep)}-${o.jobId}_<task>.out`,
    `results so far:     dsxplore report --sweep ${o.sweep}${o.storeFlag}`,
    `dashboard:          dsxplore serve${o.storeFlag}`,
    `stop the workers:   scancel ${o.jobId}   (running trials go back to the queue)`,
    `more workers later: DSXPLORE_STORE=... sbatch ${o.script}`,
  ];
}

/** Seconds of an sbatch time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
export function slurmTimeSeconds(t: string): number {
  const dash = t.indexOf('-');
  if (dash >= 0) {
    const [h = 0, m = 0, s = 0] = t.slice(dash + 1).split(':').map(Number);
    return Number(t.slice(0, dash)) * 86_400 + h * 3600 + m * 60 + s;
  }
  const parts = t.split(':').map(Number);
  if (parts.length === 1) return parts[0]! * 60;
  if (parts.length === 2) return parts[0]! * 60 + parts[1]!;
  return parts[0]! * 3600 + parts[1]! * 60 + parts[2]!;
}
