// Command-line wiring only: each subcommand lives in src/commands/ and registers itself here.
import { Command, CommanderError } from 'commander';
import { AddonError, OutcomeError, UsageError } from './errors.js';
import { version } from './version.js';
import { registerInspect } from './commands/inspect.js';
import { registerTrain } from './commands/train.js';
import { registerSweep } from './commands/sweep.js';
import { registerReport } from './commands/report.js';
import { registerDoctor } from './commands/doctor.js';
import { registerWorker } from './commands/worker.js';
import { registerStore } from './commands/store.js';
import { registerExport } from './commands/export.js';
import { registerLatency } from './commands/latency.js';
import { registerServe } from './commands/serve.js';

const COST_CONVENTIONS = `
Cost conventions: macs = multiply-accumulates of conv, SCC and linear layers;
flops = 2 * macs; params = every trainable scalar (BN affine included, BN running
statistics excluded).`;

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
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInspect(program);
  registerTrain(program);
  registerSweep(program);
  registerReport(program);
  registerDoctor(program);
  registerWorker(program);
  registerStore(program);
  registerExport(program);
  registerLatency(program);
  registerServe(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
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
      process.stderr.write(`dsxplore: ${err.message}\n`);
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
