// `dsxplore serve`: the live dashboard of the sweeps in a store, until Ctrl-C. Reading only:
// the store is opened read-only (SQLite) or in read-only transactions (PostgreSQL).
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { parseServeOptions } from '../config/serve.js';
import { addFlags, flag, parseFlags, STORE_FLAGS, toggle } from '../config/flags.js';
import { count, text } from '../config/rules.js';
import { UsageError } from '../errors.js';
import { startServer } from '../serve/server.js';
import { openStoreForReading, redactUrl, storeUrl } from '../store/index.js';

function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`dsxplore serve: could not start ${cmd}; open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`dsxplore serve: could not start ${cmd}; open ${url} yourself\n`);
  }
}

const TOKEN_CHARS = 'must be 16 to 200 characters of A-Z a-z 0-9 . _ ~ -';

const SERVE_FLAGS = {
  ...STORE_FLAGS,
  host: flag('--host <address>', 'address to listen on; anything but loopback needs a token', text('an address to listen on', 255), {
    default: '127.0.0.1',
  }),
  port: flag('--port <n>', 'port to listen on (0: any free port)', count(0, 65535), { default: '8080' }),
  token: flag(
    '--token <secret>',
    'require this token of every request (generated when --host is not loopback)',
    text('a token of 16 to 200 characters of A-Z a-z 0-9 . _ ~ -', 200).refine((t) => /^[A-Za-z0-9._~-]{16,200}$/.test(t), { error: TOKEN_CHARS }),
  ),
  open: toggle('--open', 'open the page in the default browser'),
};

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('a live dashboard of the sweeps in a store: the front, progress, trials, learning curves');
  addFlags(cmd, SERVE_FLAGS)
    .addHelpText(
      'after',
      `
The page lists the store's sweeps; each sweep shows its Pareto front (accuracy against MACs,
params, or latency when the sweep measured it), progress, the trial table and each trial's
learning curves, and updates while the sweep runs. The same JSON the page reads can be
scripted against:
  GET /api/sweeps                                       sweeps with their counts by state
  GET /api/sweeps/NAME                                  one sweep: config, counts, costs, ETA, hypervolume over time
  GET /api/sweeps/NAME/trials[?state=done]              its trials
  GET /api/sweeps/NAME/front[?x=macs|params|latency]    candidates and the front (= pareto export)
  GET /api/sweeps/NAME/trials/ID                        one trial with its per-epoch metrics
With a token, pass it as ?token=T or an "Authorization: Bearer T" header.`,
    )
    .action(async (rawFlags: unknown) => {
      const raw = parseFlags(SERVE_FLAGS, rawFlags);
      const opts = parseServeOptions(raw);
      const url = storeUrl(raw);
      const store = await openStoreForReading(url);
      let server;
      try {
        server = await startServer({ store, host: opts.host, port: opts.port, token: opts.token });
      } catch (err) {
        await store.close();
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') throw new UsageError(`--port ${opts.port}: already in use; pick another (0: any free port)`);
        if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new UsageError(`--host ${opts.host}: not an address of this machine`);
        throw err;
      }
      // handlers first, so a stop that follows the printed URL at once is still clean
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      const generated = opts.tokenGenerated ? '\na token was generated because --host is not loopback; the URL above carries it' : '';
      process.stdout.write(`dsxplore serve: ${server.url} (store ${redactUrl(url)}, read-only; Ctrl-C stops)${generated}\n`);
      if (opts.open) openInBrowser(server.url);
      await stopped;
      await server.close();
      await store.close();
    });
}
