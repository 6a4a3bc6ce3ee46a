// What a `dsxplore worker` started by Slurm learns from its environment: its name in the
// store (job, array task and node, so `dsxplore report` and the dashboard say which task
// ran a trial), the GPUs Slurm gave it and the CPUs it may use. Plain data in, plain data
// out: src/commands/worker.ts applies it where the user did not say otherwise.

export interface SlurmWorkerEnv {
  /** e.g. `slurm:4211_3@gpu-node-07:pid 9187` (array job 4211, task 3) */
  workerId: string;
  /** what to say once at start, e.g. `Slurm job 4211_3 on gpu-node-07` */
  where: string;
  /** one lane per allocated GPU (`cuda:0,cuda:1`), or `cpu` when Slurm gave no GPU */
  device: string;
  jobs: number;
  /** per lane: the CPUs Slurm allocated (--cpus-per-task) split between the lanes */
  threads?: number;
}

/** GPUs as the process sees them: CUDA renumbers the devices CUDA_VISIBLE_DEVICES lists from
 * 0, so N listed devices are cuda:0..cuda:N-1 whatever their physical indexes. Slurm sets
 * CUDA_VISIBLE_DEVICES for a GPU allocation; SLURM_JOB_GPUS / SLURM_STEP_GPUS name the same
 * GPUs where a site's configuration leaves CUDA_VISIBLE_DEVICES unset. */
function gpuCount(env: NodeJS.ProcessEnv): number {
  const listed = (v: string | undefined) =>
    v === undefined || v.trim() === '' || v === 'NoDevFiles' ? undefined : v.split(',').filter((s) => s.trim() !== '').length;
  return listed(env.CUDA_VISIBLE_DEVICES) ?? listed(env.SLURM_STEP_GPUS) ?? listed(env.SLURM_JOB_GPUS) ?? 0;
}

/** The worker's Slurm context, or undefined outside a Slurm job. */
export function slurmWorkerEnv(env: NodeJS.ProcessEnv, pid: number): SlurmWorkerEnv | undefined {
  const jobId = env.SLURM_JOB_ID;
  if (!jobId) return undefined;
  // an array task is `ARRAYJOB_TASK` to squeue and scancel; its own SLURM_JOB_ID differs
  const job = env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID ? `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}` : jobId;
  const node = env.SLURMD_NODENAME || env.SLURM_NODELIST || 'unknown-node';
  const gpus = gpuCount(env);
  const cpus = Number(env.SLURM_CPUS_PER_TASK);
  const threads = Number.isSafeInteger(cpus) && cpus > 0 ? cpus : undefined;
  const device = gpus > 0 ? Array.from({ length: gpus }, (_, i) => `cuda:${i}`).join(',') : 'cpu';
  const jobs = Math.max(1, gpus);
  return {
    workerId: `slurm:${job}@${node}:pid ${pid}`,
    where: `Slurm job ${job} on ${node}`,
    device,
    jobs,
    ...(threads !== undefined ? { threads: Math.max(1, Math.floor(threads / jobs)) } : {}),
  };
}
