// `dsxplore ARGS` as a real child process (from the TypeScript sources), its JSON lines
// collected as they come, for tests that signal, kill or wait on it.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');

export interface CliRun {
  child: ChildProcess;
  lines: Array<Record<string, any>>;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], onLine?: (l: Record<string, any>, run: CliRun) => void, env: NodeJS.ProcessEnv = {}): CliRun {
  const code = `import('./src/cli.ts').then(async m => process.exit(await m.main(${JSON.stringify(args)})))`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const run: CliRun = {
    child,
    lines: [],
    stderr: '',
    exit: new Promise((res) => child.on('exit', (c, s) => res({ code: c, signal: s }))),
  };
  let buf = '';
  child.stderr!.on('data', (d) => (run.stderr += d));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!text.trim()) continue;
      let l: Record<string, any>;
      try {
        l = JSON.parse(text) as Record<string, any>;
      } catch {
        l = { type: 'text', text };
      }
      run.lines.push(l);
      onLine?.(l, run);
    }
  });
  return run;
}

export async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnCli(args, undefined, env);
  const { code } = await r.exit;
  return { code, lines: r.lines, stderr: r.stderr };
}

export function writeConfig(dir: string, body: Record<string, unknown>): string {
  const path = join(dir, `${String(body.name)}.json`);
  writeFileSync(path, JSON.stringify(body, null, 2));
  return path;
}
