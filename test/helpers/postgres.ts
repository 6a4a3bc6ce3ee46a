// A private PostgreSQL server for tests: initdb into a temporary directory, start it on a
// free loopback port (and a unix socket in that directory), hand out fresh databases, stop
// it and delete everything at the end. initdb refuses to run as root, so as root the
// server runs as the `postgres` OS user (runuser), which is given the directory.
// `pgSkip` is the reason to skip when the server binaries are absent (never a silent pass).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The newest /usr/lib/postgresql/<version>/bin with initdb, or $DSX_PG_BIN. */
export function pgBinDir(): string | undefined {
  if (process.env.DSX_PG_BIN && existsSync(join(process.env.DSX_PG_BIN, 'initdb'))) return process.env.DSX_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : undefined;
}

export const pgSkip: string | false = pgBinDir() ? false : 'no PostgreSQL server binaries (apt-get install postgresql)';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function run(bin: string, args: string[]): string {
  const cmd = asRoot ? 'runuser' : bin;
  const argv = asRoot ? ['-u', 'postgres', '--', bin, ...args] : args;
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

export interface PgServer {
  /** postgres://dsx@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** create an empty database and return its URL */
  createDatabase(name: string): Promise<string>;
  /** stop the server (fast: open connections are cut), leave it down for `downMs`, and
   * start it again on the same port */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<PgServer> {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'dsx-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    execFileSync('chown', ['-R', 'postgres:', dir]);
    chmodSync(dir, 0o755);
  }
  const port = await freePort();
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=127.0.0.1`,
    // a throwaway server: durability off, so tests spend their time on dsxplore
    `-c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    `-c max_connections=60 -c shared_buffers=16MB`,
  ].join(' ');
  try {
    run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'dsx', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-o', opts, '-w', '-t', '120', 'start']);
  } catch (err) {
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  const url = `postgres://dsx@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async createDatabase(name: string) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return `postgres://dsx@127.0.0.1:${port}/${name}`;
    },
    async restart(downMs: number) {
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      await new Promise((r) => setTimeout(r, downMs));
      run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-o', opts, '-w', '-t', '120', 'start']);
    },
    async stop() {
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
