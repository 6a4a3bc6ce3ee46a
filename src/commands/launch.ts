// `dsxplore launch slurm | k8s`: queue a sweep in a shared store (as `sweep --enqueue-only`
// does) and start its workers on a cluster's scheduler: an sbatch array job submitted with
// sbatch, or a Kubernetes Indexed Job manifest to apply. Flags, calls and output only: the
// script and the manifest are pure functions in src/launch/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { stringify } from 'yaml';
import { addFlagsAndRun, DATA_DIR_FLAG, flag, jsonFlag, parseFlags, STORE_FLAGS, toggle } from '../config/flags.js';
import { count, path, text } from '../config/rules.js';
import { loadSweepConfig, type SweepConfig } from '../config/sweep.js';
import { OutcomeError, UsageError } from '../errors.js';
import { SLURM_TIME, slurmFollowUp, slurmJobName, slurmScript, slurmTimeSeconds } from '../launch/slurm.js';
import { k8sFollowUp, k8sJob, k8sName } from '../launch/k8s.js';
import { ProgressReporter } from '../report/progress.js';
import { openStoreUrl, redactUrl, storeUrl } from '../store/index.js';
import { runSweep, type SweepSummary } from '../sweep/index.js';
import { packageRoot, version } from '../version.js';
import { sweepReporter } from '../report/sweep-events.js';
import { DEFAULT_MAX_CANDIDATES } from './sweep.js';

/** Both: the sweep to queue and the workers to start for it. */
const LAUNCH_FLAGS = {
  config: flag('--config <file>', 'sweep config (.json or .yaml)', path(), { required: true }),
  store: STORE_FLAGS.store.withHelp('PostgreSQL store every worker reaches: postgres://user:password@host:5432/db (default: $DSXPLORE_STORE)'),
  workers: flag('--workers <n>', 'workers to start (one per array task / pod)', count(1, 10_000), { required: true }),
  gpusPerWorker: flag('--gpus-per-worker <n>', 'GPUs for each worker, one trial at a time on each (default: none, training on the CPU)', count(1, 64)),
  cpusPerWorker: flag('--cpus-per-worker <n>', "CPU cores for each worker (its trials' threads)", count(1, 4096)),
  resume: toggle('--resume', 'the sweep exists already: start more workers for it (re-queues trials of dead workers)'),
  maxCandidates: flag('--max-candidates <n>', `refuse a grid with more candidates than this (default ${DEFAULT_MAX_CANDIDATES})`, count(1, 10_000_000)),
  dataDir: DATA_DIR_FLAG.withHelp("folder with the dataset files on the workers' machines (overrides dataset.dataDir)"),
  json: jsonFlag('print JSON lines instead of text'),
};

const SLURM_FLAGS = {
  ...LAUNCH_FLAGS,
  time: flag(
    '--time <limit>',
    "time limit of each task (HH:MM:SS, D-HH:MM:SS or minutes; default: the partition's)",
    text('a time limit: minutes, HH:MM:SS or D-HH:MM:SS', 32).refine((t) => SLURM_TIME.test(t), {
      error: 'must be a time limit sbatch takes: minutes, HH:MM:SS or D-HH:MM:SS',
    }),
  ),
  signal: flag(
    '--signal <seconds>',
    'warn each worker this long before its time limit, to give its trial back (Slurm may warn up to 60 s earlier)',
    count(1, 65_535),
    { default: '120' },
  ),
  partition: flag('--partition <name>', 'Slurm partition', text('a partition name', 200)),
  account: flag('--account <name>', 'Slurm account to charge', text('an account name', 200)),
  // variadic, so that repeats add up: --sbatch-arg=--mem=16G --sbatch-arg=--constraint=a100
  sbatchArg: flag(
    '--sbatch-arg <arg...>',
    'one more sbatch option for the script, e.g. --sbatch-arg=--mem=16G (repeatable)',
    z.array(text('an sbatch option such as --mem=16G', 1024)),
  ),
  requeue: toggle('--requeue', 'let Slurm requeue a task after a node failure or preemption'),
  dsxplore: flag('--dsxplore <command>', 'how a compute node starts dsxplore (default: this installation, by its full path)', text('a command', 4096)),
  out: flag('--out <dir>', "folder for the script and the tasks' logs, shared with the compute nodes (default: the current folder)", path()),
  dryRun: toggle('--dry-run', 'print the sbatch script; queue and submit nothing'),
};

const K8S_FLAGS = {
  ...LAUNCH_FLAGS,
  image: flag('--image <image>', 'container image with dsxplore installed (its `dsxplore` on PATH)', text('a container image with dsxplore installed', 1024), {
    required: true,
  }),
  namespace: flag('--namespace <ns>', "Kubernetes namespace (default: kubectl's current one)", text('a namespace', 253)),
  grace: flag('--grace <seconds>', 'terminationGracePeriodSeconds: time a stopped pod has to give its trial back', count(10, 86_400), { default: '120' }),
  out: flag('--out <dir>', 'folder to write the manifest into', path(), { required: true }),
};

type LaunchFlags = ReturnType<typeof parseFlags<typeof LAUNCH_FLAGS>>;

/** The store every worker reaches: PostgreSQL (a SQLite file is one machine's). */
function sharedStoreUrl(o: { store?: string }): string {
  const url = storeUrl({ store: o.store });
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new UsageError(
      `--store: workers on other machines need a PostgreSQL store (postgres://user:password@host:5432/db), got ${redactUrl(url)}; ` +
        'give --store or set $DSXPLORE_STORE',
    );
  }
  return url;
}

/** Flags every worker gets, from launch's own. */
function workerArgs(o: LaunchFlags): string[] {
  return o.dataDir ? ['--data-dir', resolve(o.dataDir)] : [];
}

/** Create (or with --resume, continue) the sweep and queue its first round. */
async function queueSweep(o: LaunchFlags, loaded: SweepConfig, url: string, out: ProgressReporter): Promise<SweepSummary> {
  const config = o.dataDir ? { ...loaded, dataset: { ...loaded.dataset, dataDir: o.dataDir } } : loaded;
  const store = await openStoreUrl(url);
  const { onEvent } = sweepReporter(o.json);
  try {
    const summary = await runSweep({
      store,
      config,
      resume: o.resume ?? false,
      maxCandidates: o.maxCandidates ?? DEFAULT_MAX_CANDIDATES,
      onEvent,
      enqueueOnly: true,
    });
    const q = summary.counts;
    out.event('queued', { sweep: summary.sweep, counts: q }, `sweep ${summary.sweep}: ${q.queued} trial(s) queued, ${q.running} running, ${q.done} done`);
    return summary;
  } finally {
    await store.close();
  }
}

export interface SlurmLaunch {
  sweep: string;
  script: string;
  /** undefined with --dry-run */
  jobId?: string;
}

async function launchSlurmCommand(flags: unknown): Promise<SlurmLaunch> {
  const o = parseFlags(SLURM_FLAGS, flags);
  if (o.time && o.signal >= slurmTimeSeconds(o.time)) {
    throw new UsageError(`--signal: the warning (${o.signal} s before the limit) must come before --time ${o.time} is up`);
  }
  const config = loadSweepConfig(o.config);
  const sweep = config.name;
  const dir = resolve(o.out ?? '.');
  const file = join(dir, `${slurmJobName(sweep)}.sbatch`);
  const script = slurmScript({
    sweep,
    workers: o.workers,
    gpusPerWorker: o.gpusPerWorker,
    cpusPerWorker: o.cpusPerWorker,
    time: o.time,
    signalLead: o.signal,
    partition: o.partition,
    account: o.account,
    requeue: o.requeue ?? false,
    sbatchArgs: o.sbatchArg ?? [],
    dsxplore: o.dsxplore ? o.dsxplore.trim().split(/\s+/) : [process.execPath, join(packageRoot, 'bin', 'dsxplore')],
    workerArgs: workerArgs(o),
    logDir: dir,
    file,
    version,
  });
  if (o.dryRun) {
    process.stdout.write(script);
    return { sweep, script };
  }
  const url = sharedStoreUrl(o);
  const out = new ProgressReporter({ json: o.json });
  try {
    await queueSweep(o, config, url, out);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, script, { mode: 0o644 });
    // the URL travels in sbatch's environment, which Slurm hands to every task
    const r = spawnSync('sbatch', ['--parsable', file], { encoding: 'utf8', env: { ...process.env, DSXPLORE_STORE: url } });
    if (r.error) {
      throw new OutcomeError(
        `sbatch could not be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): run this on a Slurm login node; ` +
          `the sweep is queued and the script is in ${file}`,
      );
    }
    if (r.status !== 0) throw new OutcomeError(`sbatch refused ${file}: ${r.stderr.trim() || `exit ${r.status}`}`);
    const jobId = r.stdout.trim().split(';')[0]!;
    const storeFlag = o.store ? ` --store ${redactUrl(o.store)}` : '';
    out.result(
      { sweep, jobId, workers: o.workers, script: file },
      [`submitted Slurm job ${jobId}: ${o.workers} worker(s) for sweep ${sweep}`, ...slurmFollowUp({ jobId, sweep, storeFlag, script: file, logDir: dir })].join('\n'),
    );
    return { sweep, script: file, jobId };
  } finally {
    out.clear();
  }
}

async function launchK8sCommand(flags: unknown): Promise<{ sweep: string; file: string }> {
  const o = parseFlags(K8S_FLAGS, flags);
  const url = sharedStoreUrl(o);
  const out = new ProgressReporter({ json: o.json });
  try {
    const { sweep } = await queueSweep(o, loadSweepConfig(o.config), url, out);
    const job = k8sJob({
      sweep,
      workers: o.workers,
      image: o.image,
      namespace: o.namespace,
      gpusPerWorker: o.gpusPerWorker,
      cpusPerWorker: o.cpusPerWorker,
      graceSeconds: o.grace,
      workerArgs: o.dataDir ? ['--data-dir', o.dataDir] : [],
      version,
    });
    const dir = resolve(o.out);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${k8sName(sweep)}.yaml`);
    writeFileSync(file, stringify(job));
    const storeFlag = o.store ? ` --store ${redactUrl(o.store)}` : '';
    out.result(
      { sweep, file, workers: o.workers },
      [`wrote ${file}: an Indexed Job of ${o.workers} worker(s) for sweep ${sweep}`, ...k8sFollowUp({ sweep, file, namespace: o.namespace, storeFlag })].join('\n'),
    );
    return { sweep, file };
  } finally {
    out.clear();
  }
}

export function registerLaunch(program: Command): void {
  const launch = program
    .command('launch')
    .summary('queue a sweep and start its workers on a Slurm or Kubernetes cluster')
    .description('Queue a sweep in a PostgreSQL store and start its workers on a cluster: Slurm (sbatch) or Kubernetes (an Indexed Job)');
  const slurm = launch
    .command('slurm')
    .summary('queue a sweep and submit an sbatch array job of workers')
    .description(
      'Queue the sweep and submit an sbatch array job of --workers tasks, each a `dsxplore worker`. ' +
        'The store URL reaches the tasks through the environment, never the script. Before the time limit ' +
        '(--signal) and on scancel, a worker puts its running trial back in the queue and exits.',
    );
  addFlagsAndRun(slurm, SLURM_FLAGS, launchSlurmCommand);
  const k8s = launch
    .command('k8s')
    .summary('queue a sweep and write a Kubernetes Indexed Job of workers')
    .description(
      'Queue the sweep and write a Kubernetes Indexed Job manifest (--workers pods, each a `dsxplore worker`; the ' +
        'store URL from a Secret) into --out, then print how to create the Secret and apply it.',
    );
  addFlagsAndRun(k8s, K8S_FLAGS, launchK8sCommand);
}
