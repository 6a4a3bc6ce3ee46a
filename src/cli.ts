// Command-line wiring only: each subcommand lives in src/commands/ and registers itself here.
import { Command, CommanderError } from 'commander';
import { AddonError, OutcomeError, UsageError } from './errors.js';
import { version } from './version.js';
import { registerInspect } from './commands/inspect.js';
import { registerTrain } from './commands/train.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerSweep } from './commands/sweep.js';
import { registerReport } from './commands/report.js';
import { registerPareto } from './commands/pareto.js';
import { registerDoctor } from './commands/doctor.js';
import { registerWorker } from './commands/worker.js';
import { registerStore } from './commands/store.js';
import { registerExport } from './commands/export.js';
import { registerLatency } from './commands/latency.js';
import { registerServe } from './commands/serve.js';
import { registerLaunch } from './commands/launch.js';

const COST_CONVENTIONS = `
Cost conventions: macs = multiply-accumulates of conv, SCC and linear layers;
flops = 2 * macs; params = every trainable scalar (BN affine included, BN running
statistics excluded).`;

/** A message as one line: line breaks become "; ", other control characters are escaped, so
 * that a value a user typed (or a config held) cannot break the line or drive the terminal. */
export function oneLine(message: string): string {
  return message
    .trim()
    .split(/\s*[\r\n]+\s*/)
    .filter((l) => l !== '')
    .join('; ')
    .replace(/:; /g, ': ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('dsxplore')
    .description(
      'Explore sliding-channel convolution (SCC) designs: enumerate per-layer SCC settings, ' +
        'count their cost, train them with a native engine, and keep the accuracy/cost Pareto front.',
    )
    .version(version, '-V, --version')
    .addHelpText('after', COST_CONVENTIONS)
    // usage errors are one line on stderr, like every other error (commander's own ones and its
    // "did you mean" suggestion included)
    .configureOutput({ outputError: (str, write) => write(`dsxplore: ${oneLine(str.replace(/^error: /, ''))} (see --help)\n`) })
    .exitOverride();
  registerInspect(program);
  registerTrain(program);
  registerEvaluate(program);
  registerSweep(program);
  registerReport(program);
  registerPareto(program);
  registerDoctor(program);
  registerWorker(program);
  registerStore(program);
  registerExport(program);
  registerLatency(program);
  registerServe(program);
  registerLaunch(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

let pipeWatched = false;

/** A reader that goes away (`dsxplore inspect | head`) is not an error: stop quietly, as Unix
 * tools do, instead of an unhandled EPIPE and its stack trace. Once per process (the tests
 * call main() many times). */
function quietOnClosedPipe(): void {
  if (pipeWatched) return;
  pipeWatched = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" for commander's exitOverride; usage errors exit 2
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`dsxplore: ${oneLine(err.message)}\n`);
      return 2;
    }
    if (err instanceof AddonError || err instanceof OutcomeError) {
      process.stderr.write(`dsxplore: ${err.message}\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`dsxplore: ${e.message}\n`);
    if (process.env.DSXPLORE_DEBUG) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('(set DSXPLORE_DEBUG=1 for the stack trace)\n');
    return 1;
  }
}
