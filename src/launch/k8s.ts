// The Kubernetes Indexed Job of `dsxplore launch k8s`: N pods, each one `dsxplore worker`
// on the sweep, as a pure function of plain data (the command writes it as YAML).
//
// - The store URL comes from a Secret (key `url`) as $DSXPLORE_STORE: never in the manifest.
// - terminationGracePeriodSeconds: on eviction, preemption or `kubectl delete`, the kubelet
//   sends SIGTERM and waits this long before SIGKILL; the worker uses it to put its running
//   trial back in the queue.
// - restartPolicy Never with a podFailurePolicy that ignores disruptions: a pod evicted or
//   preempted is replaced without counting against backoffLimit; a worker that crashes is
//   retried up to backoffLimit times for the whole job.
// - Each pod's hostname is the pod's name (job name and index), which the worker puts in its
//   name in the store, so the dashboard says which pod ran a trial.

export interface K8sJobPlan {
  sweep: string;
  workers: number;
  image: string;
  namespace?: string;
  gpusPerWorker?: number;
  cpusPerWorker?: number;
  graceSeconds: number;
  /** flags passed on to every worker (--data-dir, ...) */
  workerArgs: string[];
  version: string;
}

/** Kubernetes object names: lowercase DNS labels (63 characters; the pod name adds a suffix). */
export function k8sName(sweep: string): string {
  const base = `dsx-${sweep.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`.slice(0, 40).replace(/-+$/, '');
  return base;
}

export function k8sSecretName(sweep: string): string {
  return `${k8sName(sweep)}-store`;
}

export function k8sJob(p: K8sJobPlan): Record<string, unknown> {
  const name = k8sName(p.sweep);
  const labels = { 'app.kubernetes.io/name': 'dsxplore', 'app.kubernetes.io/version': p.version, 'dsxplore/sweep': name };
  const gpus = p.gpusPerWorker ?? 0;
  // the device plugin numbers a pod's GPUs from 0: one --jobs lane per GPU
  const lanes = gpus > 0 ? ['--device', Array.from({ length: gpus }, (_, i) => `cuda:${i}`).join(','), '--jobs', String(gpus)] : [];
  const threads = p.cpusPerWorker ? ['--threads', String(Math.max(1, Math.floor(p.cpusPerWorker / Math.max(1, gpus))))] : [];
  const resources: Record<string, Record<string, string>> = {};
  if (p.cpusPerWorker) resources.requests = { cpu: String(p.cpusPerWorker) };
  if (gpus > 0) resources.limits = { 'nvidia.com/gpu': String(gpus) };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, ...(p.namespace ? { namespace: p.namespace } : {}), labels },
    spec: {
      completionMode: 'Indexed',
      completions: p.workers,
      parallelism: p.workers,
      backoffLimit: p.workers * 3,
      podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: p.graceSeconds,
          containers: [
            {
              name: 'worker',
              image: p.image,
              command: ['dsxplore', 'worker', '--sweep', p.sweep, '--json', ...lanes, ...threads, ...p.workerArgs],
              env: [{ name: 'DSXPLORE_STORE', valueFrom: { secretKeyRef: { name: k8sSecretName(p.sweep), key: 'url' } } }],
              ...(Object.keys(resources).length ? { resources } : {}),
            },
          ],
        },
      },
    },
  };
}

/** How to create the Secret and apply the Job, printed after the manifest is written. */
export function k8sFollowUp(o: { sweep: string; file: string; namespace?: string; storeFlag: string }): string[] {
  const ns = o.namespace ? ` -n ${o.namespace}` : '';
  const name = k8sName(o.sweep);
  return [
    'the store URL as a Secret (read from $DSXPLORE_STORE, so it is not typed on a command line):',
    `  printf %s "$DSXPLORE_STORE" | kubectl create secret generic ${k8sSecretName(o.sweep)}${ns} --from-file=url=/dev/stdin`,
    `start the workers:  kubectl apply${ns} -f ${o.file}`,
    `follow them:        kubectl get pods${ns} -l job-name=${name}`,
    `results so far:     dsxplore report --sweep ${o.sweep}${o.storeFlag}`,
    `stop them:          kubectl delete job${ns} ${name}   (running trials go back to the queue)`,
  ];
}
