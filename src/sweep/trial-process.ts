// Each lane's trials train in a child process (trial-child.ts) so that whatever ends a
// training badly costs that trial only: the parent, which owns the store, records a crash,
// a signal, a device fault or an out-of-memory kill as the trial's failure with its cause
// (exit code or signal, the op when the child named it, the last lines of its stderr), and
// the next trial gets a fresh process on the same device. A child is kept across the
// trials of its lane while they end well (its start, about a third of a second, is paid
// once per lane: ARCHITECTURE.md section 4 has the figures), and replaced after any
// failure, since a device error may leave the device unusable for the process that saw it.
// A stop kills the child at once, mid-epoch; --trial-timeout kills one that sends no
// progress for that long.
//
// The child runs in its own session (detached), so a Ctrl-C at the terminal reaches the
// parent only, which decides; and it ends itself when the channel to the parent closes.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TrainProgress } from '../domain/metrics.js';
import { SetupError, TrialFailure, type JobEvents, type TrialExecutor, type TrialJob, type TrialOutcome } from './trial-job.js';

export type ParentMessage = { type: 'run'; job: TrialJob };
export type ChildMessage =
  | { type: 'started' }
  | { type: 'progress'; p: TrainProgress }
  | { type: 'warning'; message: string }
  | { type: 'done'; outcome: TrialOutcome }
  | { type: 'setup-error'; message: string; usage: boolean }
  | { type: 'failed'; message: string };

/** Lines of the child's stderr kept for a failure's message. */
const TAIL_LINES = 12;
const TAIL_CHARS = 4000;

const living = new Set<ChildProcess>();
// a parent that exits, however, takes its children along
process.on('exit', () => {
  for (const c of living) c.kill('SIGKILL');
});

/** The child's entry: the TypeScript source through tsx when this module runs from src/
 * (tests, `npm run` scripts), the compiled file otherwise. */
function childEntry(): { path: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(fromSource ? './trial-child.ts' : './trial-child.js', import.meta.url));
  return { path, execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [] };
}

export interface ChildTrialsOptions {
  /** kill a trial that sends no progress for this long (default: never) */
  timeoutMs?: number;
  onWarning: (message: string) => void;
}

export class ChildTrials implements TrialExecutor {
  private child: ChildProcess | undefined;
  private stderr = '';
  private cancelled = false;

  constructor(private readonly opts: ChildTrialsOptions) {}

  private spawn(): ChildProcess {
    const { path, execArgv } = childEntry();
    const child = fork(path, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    living.add(child);
    // a failed send or kill is reported to the trial in flight by its own listener (run); one
    // between trials must not end this process
    child.on('error', () => {});
    child.on('exit', () => {
      living.delete(child);
      // one that dies between trials (the out-of-memory killer picks idle ones too) is replaced
      if (this.child === child) this.child = undefined;
    });
    const keep = (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-TAIL_CHARS);
    };
    // the child's output is the user's to see, as if the training ran in this process
    child.stderr!.on('data', (d: Buffer) => {
      process.stderr.write(d);
      keep(d);
    });
    child.stdout!.on('data', (d: Buffer) => {
      process.stderr.write(d);
      keep(d);
    });
    return child;
  }

  /** Kill the child now; the next trial starts a fresh one. */
  private retire(): void {
    const c = this.child;
    this.child = undefined;
    c?.kill('SIGKILL');
  }

  run(job: TrialJob, events: JobEvents): Promise<TrialOutcome> {
    this.stderr = '';
    this.cancelled = false;
    const child = (this.child ??= this.spawn());
    const timeoutMs = this.opts.timeoutMs;
    return new Promise<TrialOutcome>((resolve, reject) => {
      let watchdog: NodeJS.Timeout | undefined;
      let timedOut = false;
      const arm = () => {
        if (timeoutMs === undefined) return;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs);
      };
      const settle = () => {
        clearTimeout(watchdog);
        child.off('message', onMessage);
        child.off('close', onExit);
        child.off('error', onError);
      };
      const onMessage = (m: ChildMessage) => {
        switch (m.type) {
          case 'started':
            arm();
            events.started?.();
            break;
          case 'progress':
            arm();
            events.progress(m.p);
            break;
          case 'warning':
            this.opts.onWarning(m.message);
            break;
          case 'done':
            settle();
            resolve(m.outcome);
            break;
          case 'setup-error':
            settle();
            this.retire();
            reject(new SetupError(m.message, m.usage));
            break;
          case 'failed':
            settle();
            this.retire();
            reject(new TrialFailure(m.message));
            break;
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        settle();
        const seconds = timeoutMs === undefined ? 0 : timeoutMs / 1000;
        const cause = timedOut
          ? `sent no progress for ${seconds} s (--trial-timeout): its process was killed`
          : deathCause(code, signal, this.stderr, this.cancelled);
        reject(new TrialFailure(withTail(cause, this.stderr)));
      };
      const onError = (err: Error) => {
        // a send to a child that is dying: its 'close' tells how it ended
        if (child.pid !== undefined) return void this.retire();
        settle();
        this.retire();
        reject(new SetupError(`cannot start a trial process (${process.execPath}): ${err.message}`, false));
      };
      child.on('message', onMessage);
      // 'close', not 'exit': by then the child's last stderr lines have been read
      child.on('close', onExit);
      child.on('error', onError);
      child.send({ type: 'run', job } satisfies ParentMessage);
    });
  }

  cancel(): void {
    this.cancelled = true;
    this.retire();
  }

  close(): void {
    this.retire();
  }
}

/** Why the child died, in words: how it ended, the op it named, what SIGKILL usually means. */
export function deathCause(code: number | null, signal: NodeJS.Signals | null, stderr: string, cancelled = false): string {
  if (cancelled) return 'stopped';
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const op = /fault in (\w+)/.exec(stderr)?.[1];
  const oom = signal === 'SIGKILL' ? ' (not by dsxplore: the kernel kills so for out-of-memory; see dmesg)' : '';
  return `the trial's process ${how}${op ? ` in ${op}` : ''}${oom}`;
}

/** The cause, and the last lines of the child's stderr when it wrote any. */
function withTail(cause: string, stderr: string): string {
  const lines = stderr.trimEnd().split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return cause;
  return `${cause}; its last stderr lines:\n${lines.slice(-TAIL_LINES).join('\n')}`;
}
