// What `dsxplore launch` writes, without a cluster: the sbatch script (--dry-run), the
// Kubernetes Indexed Job validated against the Kubernetes API schema that the
// kubernetes-models package ships (generated from the API's OpenAPI document; no download),
// the flag rules, and what a worker under Slurm takes from its environment.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { k8sJob } from '../src/launch/k8s.js';
import { slurmScript, slurmTimeSeconds } from '../src/launch/slurm.js';
import { slurmWorkerEnv } from '../src/launch/slurm-env.js';
import { openStoreUrl } from '../src/store/index.js';
import { cli, writeConfig } from './helpers/cli-process.js';
import { pgSkip, startPostgres, type PgServer } from './helpers/postgres.js';

const config = {
  model: 'resnet20',
  dataset: { name: 'synthetic:size=16,classes=4,train=256,test=64' },
  recipe: { epochs: 1, batchSize: 16, threads: 1 },
  baselines: false,
  space: { variants: ['dw-scc'], cg: [1, 2, 4], co: [0.25, 0.5], tie: 'all' },
  search: { kind: 'grid' },
};

/** The schema's verdict: undefined when valid, else its message. */
function schemaError(manifest: unknown): string | undefined {
  try {
    new Job(manifest as ConstructorParameters<typeof Job>[0]).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const plan = { sweep: 'My Sweep_1', workers: 4, image: 'registry.example/dsxplore:0.1', graceSeconds: 150, workerArgs: [], version: '0.1.0' };

test('k8s: an Indexed Job the Kubernetes schema accepts, store URL from a Secret, GPUs when asked', () => {
  const cpu = k8sJob(plan);
  assert.equal(schemaError(cpu), undefined);
  const gpu = k8sJob({ ...plan, gpusPerWorker: 2, cpusPerWorker: 8, namespace: 'ml' }) as any;
  assert.equal(schemaError(gpu), undefined);
  assert.equal(gpu.metadata.name, 'dsx-my-sweep-1', 'a DNS label');
  assert.equal(gpu.metadata.namespace, 'ml');
  const spec = gpu.spec;
  assert.equal(spec.completionMode, 'Indexed');
  assert.equal(spec.completions, 4);
  assert.equal(spec.parallelism, 4);
  const pod = spec.template.spec;
  assert.equal(pod.terminationGracePeriodSeconds, 150);
  const c = pod.containers[0];
  assert.deepEqual(c.resources, { requests: { cpu: '8' }, limits: { 'nvidia.com/gpu': '2' } });
  assert.deepEqual(c.command.slice(0, 4), ['dsxplore', 'worker', '--sweep', 'My Sweep_1']);
  assert.deepEqual(c.command.slice(c.command.indexOf('--device'), c.command.indexOf('--device') + 4), ['--device', 'cuda:0,cuda:1', '--jobs', '2']);
  assert.deepEqual(c.env, [{ name: 'DSXPLORE_STORE', valueFrom: { secretKeyRef: { name: 'dsx-my-sweep-1-store', key: 'url' } } }]);
  assert.equal((cpu as any).spec.template.spec.containers[0].resources, undefined, 'no GPU asked, none requested');
  // the schema is really applied: a wrong type, a wrong enum, a missing field are refused
  assert.match(schemaError({ ...gpu, spec: { ...spec, completions: '4' } })!, /completions must be integer/);
  assert.match(schemaError({ ...gpu, apiVersion: 'batch/v2' })!, /apiVersion/);
  assert.match(schemaError({ ...gpu, spec: { ...spec, template: { spec: { ...pod, containers: [{ image: 'x' }] } } } })!, /name/);
});

test('slurm script: array, signal, requeue, GPUs, extra options; the URL only from the environment', () => {
  const s = slurmScript({
    sweep: "it's",
    workers: 5,
    gpusPerWorker: 2,
    cpusPerWorker: 6,
    time: '1-02:00:00',
    signalLead: 300,
    partition: 'gpu',
    account: 'lab',
    requeue: true,
    sbatchArgs: ['--mem=16G', '--constraint=a100'],
    dsxplore: ['/opt/node/bin/node', '/opt/dsx dir/bin/dsxplore'],
    workerArgs: ['--data-dir', '/data'],
    logDir: '/home/u/runs',
    file: '/home/u/runs/dsx-it_s.sbatch',
    version: '0.1.0',
  });
  const directives = s.split('\n').filter((l) => l.startsWith('#SBATCH ')).map((l) => l.slice(8));
  assert.deepEqual(directives, [
    '--job-name=dsx-it_s',
    '--array=0-4',
    '--ntasks=1',
    '--cpus-per-task=6',
    '--gres=gpu:2',
    '--time=1-02:00:00',
    '--signal=B:TERM@300',
    '--requeue',
    '--partition=gpu',
    '--account=lab',
    '--output=/home/u/runs/%x-%A_%a.out',
    '--mem=16G',
    '--constraint=a100',
  ]);
  assert.ok(s.startsWith('#!/bin/bash\n'));
  assert.match(s, /\nexec \/opt\/node\/bin\/node '\/opt\/dsx dir\/bin\/dsxplore' worker --sweep 'it'\\''s' --json --data-dir \/data\n/);
  assert.match(s, /if \[ -z "\$\{DSXPLORE_STORE:-\}" \]/);
  assert.match(s, /\n#   DSXPLORE_STORE=postgres:\/\/\.\.\. sbatch \/home\/u\/runs\/dsx-it_s\.sbatch\n/);
  assert.equal(slurmTimeSeconds('1-02:00:00'), 93_600);
  assert.equal(slurmTimeSeconds('00:01:00'), 60);
  assert.equal(slurmTimeSeconds('90'), 5400);
  assert.equal(slurmTimeSeconds('2-3'), 2 * 86_400 + 3 * 3600);
});

test('a worker under Slurm: named after job, array task and node; devices and threads from the allocation', () => {
  assert.equal(slurmWorkerEnv({}, 1), undefined, 'not under Slurm');
  const base = { SLURM_JOB_ID: '4215', SLURM_ARRAY_JOB_ID: '4211', SLURM_ARRAY_TASK_ID: '3', SLURMD_NODENAME: 'gpu07' };
  assert.deepEqual(slurmWorkerEnv({ ...base, CUDA_VISIBLE_DEVICES: '5,7', SLURM_CPUS_PER_TASK: '8' }, 99), {
    workerId: 'slurm:4211_3@gpu07:pid 99',
    where: 'Slurm job 4211_3 on gpu07',
    device: 'cuda:0,cuda:1',
    jobs: 2,
    threads: 4,
  });
  const cpu = slurmWorkerEnv({ SLURM_JOB_ID: '12', SLURMD_NODENAME: 'n1', SLURM_CPUS_PER_TASK: '3' }, 7)!;
  assert.equal(cpu.workerId, 'slurm:12@n1:pid 7');
  assert.equal(cpu.device, 'cpu');
  assert.equal(cpu.threads, 3);
  assert.equal(slurmWorkerEnv({ ...base, SLURM_JOB_GPUS: '2' }, 1)!.device, 'cuda:0', 'SLURM_JOB_GPUS when CUDA_VISIBLE_DEVICES is unset');
});

describe('launch commands', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dsx-launch-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('launch slurm --dry-run prints the script and touches nothing; flag rules', async () => {
    const cfg = writeConfig(dir, { ...config, name: 'dry' });
    const url = 'postgres://u:sekret@db.invalid:5432/x';
    const r = await cli(['launch', 'slurm', '--config', cfg, '--store', url, '--workers', '3', '--time', '00:10:00', '--signal', '60', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    const text = r.lines.map((l) => l.text).join('\n');
    assert.match(text, /#SBATCH --array=0-2/);
    assert.match(text, /#SBATCH --signal=B:TERM@60/);
    assert.ok(!text.includes('sekret') && !text.includes('db.invalid'), 'no store URL in the script');
    for (const [args, message] of [
      [['--time', '00:01:00', '--signal', '60'], /^dsxplore: --signal: the warning \(60 s before the limit\) must come before --time 00:01:00 is up$/m],
      [['--time', '1:2:3:4'], /^dsxplore: --time: must be a time limit sbatch takes/m],
      [['--workers', '0'], /^dsxplore: --workers: must be a whole number in 1\.\.10000/m],
    ] as const) {
      const bad = await cli(['launch', 'slurm', '--config', cfg, '--workers', '2', ...args, '--dry-run']);
      assert.equal(bad.code, 2, `${args}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
    }
    const sqlite = await cli(['launch', 'slurm', '--config', cfg, '--workers', '2', '--store', `sqlite:${join(dir, 'x.db')}`]);
    assert.equal(sqlite.code, 2);
    assert.match(sqlite.stderr, /^dsxplore: --store: workers on other machines need a PostgreSQL store/);
  });

  describe('launch k8s with a private PostgreSQL', { skip: pgSkip }, () => {
    let pg: PgServer;
    before(async () => {
      pg = await startPostgres();
    });
    after(async () => pg?.stop());

    test('queues the sweep and writes a manifest the schema accepts, without the URL', async () => {
      // trust authentication: the password is accepted and ignored, and must appear nowhere
      const url = (await pg.createDatabase('k8s')).replace('dsx@', 'dsx:sekret@');
      const cfg = writeConfig(dir, { ...config, name: 'kube' });
      const out = join(dir, 'manifests');
      const r = await cli(['launch', 'k8s', '--config', cfg, '--store', url, '--workers', '3', '--gpus-per-worker', '1', '--image', 'dsx:1', '--out', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const result = r.lines.find((l) => l.type === 'result')!;
      const text = readFileSync(result.file, 'utf8');
      assert.ok(!text.includes('sekret') && !text.includes('127.0.0.1'), 'no store URL in the manifest');
      assert.ok(!JSON.stringify(r.lines).includes('sekret') && !r.stderr.includes('sekret'), 'nor in the output');
      const job = parse(text);
      assert.equal(schemaError(job), undefined);
      assert.equal(job.spec.completions, 3);
      assert.deepEqual(job.spec.template.spec.containers[0].resources.limits, { 'nvidia.com/gpu': '1' });
      const store = await openStoreUrl(url);
      try {
        assert.equal((await store.counts('kube')).queued, 6, 'the grid queued, as sweep --enqueue-only does');
      } finally {
        await store.close();
      }
    });
  });
});
