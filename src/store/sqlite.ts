// The SQLite executor (better-sqlite3), the embedded default. WAL so that `dsxplore report`
// can read while a sweep writes; a busy timeout so that two processes on one file wait for
// each other instead of failing; every transaction BEGIN IMMEDIATE (the write lock first),
// so a claim is exclusive and a kill -9 at any instant leaves either the old row or the new.
// better-sqlite3 is synchronous: each call answers at once, and a queue keeps one
// transaction's awaits from interleaving with another caller's statements.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { StoreError } from './errors.js';
import type { Dialect, Executor, RunResult } from './executor.js';

export const SQLITE: Dialect = {
  name: 'sqlite',
  types: { id: 'INTEGER PRIMARY KEY', bigint: 'INTEGER', real: 'REAL', blob: 'BLOB' },
  // the IMMEDIATE transaction holds the database's write lock already
  forUpdate: '',
  skipLocked: '',
  tableExists: `SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = ?`,
};

export interface SqliteOptions {
  /** milliseconds to wait for a lock held by another process */
  busyTimeoutMs?: number;
  /** open an existing file for reading only (no journal change, no migration) */
  readOnly?: boolean;
}

/** A SQLite error as a message naming the file: damaged, full, or passed through. */
function translate(err: unknown, location: string): unknown {
  const code = (err as { code?: string }).code ?? '';
  const msg = (err as Error).message;
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new StoreError(
      `the database ${location} is damaged or not a dsxplore database (${msg}); restore it from a backup or pass another --db`,
    );
  }
  if (code === 'SQLITE_FULL') {
    return new StoreError(
      `the database ${location} is full (${msg}: no space left on its disk, or its size limit reached); ` +
        `finished trials are kept. Free some space, then continue with --resume`,
    );
  }
  return err;
}

class SqliteTx implements Executor {
  private readonly cache = new Map<string, Database.Statement>();
  /** the same statements in raw mode (rows as arrays), for `rows` */
  private readonly rawCache = new Map<string, Database.Statement>();
  constructor(
    readonly db: Database.Database,
    protected readonly location: string,
  ) {}

  protected call<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      throw translate(err, this.location);
    }
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  async one<R>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> {
    return this.call(() => this.stmt(sql).get(...params) as R | undefined);
  }

  async all<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.call(() => this.stmt(sql).all(...params) as R[]);
  }

  async rows<R extends readonly unknown[]>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.call(() => {
      let s = this.rawCache.get(sql);
      if (!s) this.rawCache.set(sql, (s = this.db.prepare(sql).raw(true)));
      return s.all(...params) as R[];
    });
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<RunResult> {
    return this.call(() => ({ changes: this.stmt(sql).run(...params).changes }));
  }

  async script(sql: string): Promise<void> {
    this.call(() => this.db.exec(sql));
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return fn(this); // already inside one
  }

  async close(): Promise<void> {}
}

/** One queue per file in this process: two connections to one file (a test, a resume next
 * to a report) must not interleave, or one would wait out the busy timeout for a write lock
 * the other cannot release while this thread waits. */
const queues = new Map<string, { tail: Promise<unknown> }>();

export class SqliteExecutor extends SqliteTx {
  private readonly queue =
    this.location === ':memory:' ? { tail: Promise.resolve() as Promise<unknown> } : queueOf(this.location);

  /** `f` after every call queued before it. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const out = this.queue.tail.then(f);
    this.queue.tail = out.catch(() => {});
    return out;
  }

  override one<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.serial(() => super.one<R>(sql, params));
  }
  override all<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.serial(() => super.all<R>(sql, params));
  }
  override rows<R extends readonly unknown[]>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.serial(() => super.rows<R>(sql, params));
  }
  override run(sql: string, params?: readonly unknown[]): Promise<RunResult> {
    return this.serial(() => super.run(sql, params));
  }
  override script(sql: string): Promise<void> {
    return this.serial(() => super.script(sql));
  }

  override transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const tx = new SqliteTx(this.db, this.location);
    return this.serial(async () => {
      this.call(() => this.db.exec('BEGIN IMMEDIATE'));
      try {
        const out = await fn(tx);
        this.call(() => this.db.exec('COMMIT'));
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  override async close(): Promise<void> {
    await this.queue.tail;
    if (this.db.open) this.db.close();
  }
}

function queueOf(location: string): { tail: Promise<unknown> } {
  let q = queues.get(location);
  if (!q) queues.set(location, (q = { tail: Promise.resolve() }));
  return q;
}

/** Open (creating the file and its folder unless read-only) the SQLite database at `path`. */
export function openSqliteExecutor(path: string, opts: SqliteOptions = {}): { executor: SqliteExecutor; location: string } {
  const location = path === ':memory:' ? path : resolve(path);
  let db: Database.Database;
  try {
    if (path !== ':memory:' && !opts.readOnly) mkdirSync(dirname(location), { recursive: true });
    db = new Database(location, { readonly: opts.readOnly ?? false, fileMustExist: opts.readOnly ?? false });
  } catch (err) {
    throw new UsageError(`cannot open the database ${location}: ${(err as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10000}`);
    db.pragma('foreign_keys = ON');
    if (!opts.readOnly) {
      db.pragma('journal_mode = WAL');
      // FULL: a transaction that committed survives a power cut too, not only a killed process
      db.pragma('synchronous = FULL');
    } else {
      // readers (the dashboard) scan whole sweeps: pages mapped rather than copied in through
      // read() calls take 10-20% off the first listing of 10,000 trials
      db.pragma('mmap_size = 268435456');
    }
  } catch (err) {
    db.close();
    throw translate(err, location);
  }
  return { executor: new SqliteExecutor(db, location), location };
}
