// Runs the CLI's main() in this process with its stdout and stderr captured, and optional
// environment variables set for the call. Only strings are captured: under `node --test`
// the runner shares this process's stdout for its own binary messages, which a test that
// awaits inside the capture would otherwise swallow (and then fail to parse as output).
import { main } from '../../src/cli.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const capture = (append: (s: string) => void, original: typeof write) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      append(chunk);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((s) => (out += s), write);
  process.stderr.write = capture((s) => (err += s), writeErr);
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
