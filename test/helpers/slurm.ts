// A private single-node Slurm cluster for tests: its own munge key and munged socket, a
// slurm.conf with slurmctld and slurmd on free loopback ports, state, spool and logs in a
// temporary directory; started and stopped by the test, never touching a system cluster.
// Built for a container running as root: proctrack/linuxproc and task/none, so no cgroups.
// `slurmSkip` is the reason to skip when the binaries are absent (never a silent pass).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './ports.js';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARIES = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch', '/usr/bin/scontrol'];

export const slurmSkip: string | false = !BINARIES.every((b) => existsSync(b))
  ? 'no Slurm or munge binaries (apt-get install slurm-wlm munge)'
  : typeof process.getuid === 'function' && process.getuid() !== 0
    ? 'slurmd must run as root to start jobs'
    : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SlurmCluster {
  dir: string;
  /** SLURM_CONF for the client commands (sbatch, squeue, scancel, scontrol) */
  env: NodeJS.ProcessEnv;
  /** run a Slurm client command against this cluster; its stdout */
  run(cmd: string, args: string[]): string;
  /** the controller's log, for failure messages */
  log(): string;
  stop(): Promise<void>;
}

export interface SlurmOptions {
  /** CPUs the node advertises (more than the machine has is fine: SlurmdParameters=config_overrides) */
  cpus?: number;
}

export async function startSlurm(opts: SlurmOptions = {}): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'dsx-slurm-'));
  // munged refuses a socket directory others cannot traverse
  chmodSync(dir, 0o755);
  for (const d of ['state', 'spool', 'log']) mkdirSync(join(dir, d));
  const key = join(dir, 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = join(dir, 'munge.socket');
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const node = 'dsxnode';
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=dsxtest',
      'SlurmctldHost=localhost(127.0.0.1)',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      // no cgroups in a container: track processes by parentage, bind nothing
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'MpiDefault=none',
      'SchedulerType=sched/builtin',
      'SchedulerParameters=sched_interval=1',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SlurmdParameters=config_overrides',
      'ReturnToService=2',
      'InactiveLimit=0',
      'MinJobAge=600',
      // at the time limit: SIGTERM, then SIGKILL 10 s later; no grace minutes past the limit
      'KillWait=10',
      'OverTimeLimit=0',
      `NodeName=${node} NodeHostname=${hostname()} NodeAddr=127.0.0.1 CPUs=${opts.cpus ?? 8} Boards=1 SocketsPerBoard=1 ` +
        `CoresPerSocket=${opts.cpus ?? 8} ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const daemon = (bin: string, args: string[]) => execFileSync(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  const log = () => {
    const f = join(dir, 'log', 'slurmctld.log');
    const g = join(dir, 'log', 'slurmd.log');
    return [f, g].map((p) => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').slice(-30).join('\n') : '')).join('\n---\n');
  };
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };
  const pidOf = (f: string) => (existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined);
  const alive = (pid: number | undefined) => {
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const munged = join(dir, 'munged.pid');
  const daemons = [join(dir, 'slurmctld.pid'), join(dir, 'slurmd.pid'), munged];
  const stop = async () => {
    // jobs first (their workers give trials back), then the daemons, then munge
    try {
      spawnSync('scancel', ['--full', '--user=root'], { env, timeout: 10_000 });
      for (let i = 0; i < 60 && spawnSync('squeue', ['-h'], { env, encoding: 'utf8', timeout: 10_000 }).stdout?.trim(); i++) await sleep(500);
      spawnSync('scontrol', ['shutdown'], { env, timeout: 10_000 });
      for (let i = 0; i < 40 && daemons.slice(0, 2).some((f) => alive(pidOf(f))); i++) await sleep(250);
    } finally {
      for (const f of daemons) {
        const pid = pidOf(f);
        if (alive(pid)) process.kill(pid!, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    daemon('/usr/sbin/munged', [
      '--force',
      `--key-file=${key}`,
      `--socket=${socket}`,
      `--pid-file=${munged}`,
      `--log-file=${join(dir, 'log', 'munged.log')}`,
      `--seed-file=${join(dir, 'munged.seed')}`,
    ]);
    daemon('/usr/sbin/slurmctld', ['-f', conf, '-i']);
    daemon('/usr/sbin/slurmd', ['-f', conf, '-N', node]);
    // ready when the node is idle
    for (let i = 0; ; i++) {
      const state = spawnSync('sinfo', ['-h', '-n', node, '-o', '%t'], { env, encoding: 'utf8', timeout: 10_000 }).stdout?.trim();
      if (state === 'idle') break;
      if (i > 120) throw new Error(`the test Slurm node did not come up (state ${JSON.stringify(state)})`);
      await sleep(250);
    }
  } catch (err) {
    const text = `${(err as Error).message}\n${log()}`;
    await stop();
    throw new Error(text);
  }
  return { dir, env, run, log, stop };
}
