// The PostgreSQL store (the `pg` package): one database shared by workers on many machines.
// Same schema, migrations and guards as the SQLite store (PL/pgSQL triggers instead of
// SQLite ones). Every state change runs in one transaction on one connection; a worker
// claims a trial with `FOR UPDATE SKIP LOCKED`, so two workers never take the same one,
// and a round is scheduled by whoever first inserts its row in `rounds`
// (INSERT ... ON CONFLICT DO NOTHING in the transaction that queues its trials).
// A worker killed with kill -9 loses its connection; the server rolls back whatever it had
// open, and its running trial goes back to the queue once its heartbeat is stale.
import pg from 'pg';
import { UsageError } from '../errors.js';
import { version as dsxVersion } from '../version.js';
import type { EpochMetrics } from '../engine/types.js';
import type { ModelSpec, Variant } from '../models/spec.js';
import type { Candidate } from '../space/types.js';
import type { SweepRow, TrialRow, TrialState } from './types.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { redactUrl } from './url.js';
import { TRIAL_COLUMNS, TRIAL_FROM, finishedProvenance, finishedValues, finite, toSweepRow, toTrialRow, type SweepDbRow, type TrialDbRow } from './sqlite.js';
import {
  checkTransition,
  type ClaimedTrial,
  type NewSweep,
  type StateCounts,
  type SweepStore,
  type TrialInput,
  type TrialOutcome,
} from './store.js';

const now = () => new Date().toISOString();
const int = (n: number) => Math.round(n);
/** Key of the advisory lock that serializes migrations of one database. */
const MIGRATION_LOCK = 0x64737870; // 'dsxp'

// BIGINT (MACs, seeds, heartbeats, COUNT(*)) as JavaScript numbers: exact below 2^53,
// far above any MAC count or millisecond clock.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  },
};

type Client = pg.PoolClient;

/** Codes after which a transaction may simply be run again. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock

export async function migratePg(pool: pg.Pool, location: string, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    // workers starting at once: one migrates, the others wait and then find nothing to do
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const cur = (await c.query('SELECT MAX(version) AS v FROM schema_version')).rows[0]?.v ?? 0;
    const newest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
    if (cur > newest) {
      throw new UsageError(
        `the database ${location} has schema version ${cur}, newer than this dsxplore ` +
          `(${dsxVersion}) understands (${newest}); upgrade dsxplore or use another --store`,
      );
    }
    let applied = 0;
    for (const m of migrations) {
      if (m.version <= cur) continue;
      await c.query(m.pg);
      await c.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now()]);
      applied++;
    }
    await c.query('COMMIT');
    return applied;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

export interface PgStoreOptions {
  /** connections in the pool (a worker needs two: its work and its heartbeat) */
  max?: number;
  /** every session in read-only transactions (the dashboard): writes fail in the server */
  readOnly?: boolean;
}

export class PgStore implements SweepStore {
  readonly location: string;
  readonly shared = true;
  private readonly pool: pg.Pool;
  private closed = false;

  private constructor(url: string, opts: PgStoreOptions) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.max ?? 3,
      types,
      application_name: 'dsxplore',
      connectionTimeoutMillis: 15_000,
      ...(opts.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
    });
    // an idle connection dropped by the server must not crash the process
    this.pool.on('error', () => {});
  }

  /** Connect, check the server answers, and apply missing migrations (unless `migrate: false`). */
  static async open(url: string, opts: PgStoreOptions & { migrate?: boolean } = {}): Promise<PgStore> {
    const store = new PgStore(url, opts);
    try {
      await store.pool.query('SELECT 1');
    } catch (err) {
      await store.close();
      throw new UsageError(`cannot connect to PostgreSQL at ${store.location}: ${(err as Error).message}`);
    }
    try {
      if (opts.migrate !== false) await migratePg(store.pool, store.location);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Apply the migrations this database lacks; returns how many. */
  async migrate(): Promise<number> {
    return migratePg(this.pool, this.location);
  }

  async schemaVersion(): Promise<number> {
    const has = await this.pool.query(`SELECT to_regclass('schema_version') IS NOT NULL AS ok`);
    if (!has.rows[0]?.ok) return 0;
    const r = await this.pool.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version');
    return Number(r.rows[0]?.v ?? 0);
  }

  /** Run `fn` in one transaction on one connection; retried on deadlock/serialization failure. */
  private async tx<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.pool.connect();
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 5) continue;
        throw err;
      } finally {
        c.release();
      }
    }
  }

  private async one<R>(c: Client | pg.Pool, sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await c.query(sql, params)).rows[0] as R | undefined;
  }

  // ---- reading side (StoreReader) ----

  async listSweeps(): Promise<SweepRow[]> {
    return ((await this.pool.query('SELECT * FROM sweeps ORDER BY id')).rows as SweepDbRow[]).map(toSweepRow);
  }

  async getSweep(name: string): Promise<SweepRow | undefined> {
    const r = await this.one<SweepDbRow>(this.pool, 'SELECT * FROM sweeps WHERE name = $1', [name]);
    return r && toSweepRow(r);
  }

  async trials(sweep: string): Promise<TrialRow[]> {
    const r = await this.pool.query(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE s.name = $1 ORDER BY t.id`, [sweep]);
    return (r.rows as TrialDbRow[]).map(toTrialRow);
  }

  async trial(id: number, c: Client | pg.Pool = this.pool): Promise<TrialRow | undefined> {
    const r = await this.one<TrialDbRow>(c, `SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE t.id = $1`, [id]);
    return r && toTrialRow(r);
  }

  async epochMetrics(trialId: number): Promise<EpochMetrics[]> {
    const rows = (await this.pool.query('SELECT * FROM epoch_metrics WHERE trial_id = $1 ORDER BY epoch', [trialId]))
      .rows as Array<Record<string, number | null>>;
    return rows.map((r) => {
      const m: EpochMetrics = {
        epoch: r.epoch!,
        lr: r.lr ?? 0,
        trainLoss: r.train_loss ?? NaN,
        trainAccuracy: r.train_accuracy ?? NaN,
        seconds: r.seconds ?? 0,
      };
      if (r.test_accuracy !== null) m.testAccuracy = r.test_accuracy!;
      if (r.test_loss !== null) m.testLoss = r.test_loss!;
      return m;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** For tests and tools: run raw SQL (e.g. to check the guards). */
  query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return this.pool.query(sql, params);
  }

  // ---- sweeps ----

  private async sweepId(c: Client | pg.Pool, name: string): Promise<number> {
    const r = await this.one<{ id: number }>(c, 'SELECT id FROM sweeps WHERE name = $1', [name]);
    if (!r) throw new UsageError(`no sweep named '${name}' in ${this.location}`);
    return r.id;
  }

  async createSweep(input: NewSweep): Promise<SweepRow> {
    const r = await this.one<SweepDbRow>(
      this.pool,
      `INSERT INTO sweeps (name, config, config_hash, version, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO NOTHING RETURNING *`,
      [input.name, JSON.stringify(input.config), input.configHash, dsxVersion, now()],
    );
    if (!r) {
      throw new UsageError(
        `a sweep named '${input.name}' already exists in ${this.location}; ` +
          `pass --resume to continue it, or change "name" in the config to start a new one`,
      );
    }
    return toSweepRow(r);
  }

  async setSweepStatus(name: string, status: SweepRow['status']): Promise<void> {
    const id = await this.sweepId(this.pool, name);
    await this.pool.query('UPDATE sweeps SET status = $1, finished_at = $2 WHERE id = $3', [
      status,
      status === 'finished' ? now() : null,
      id,
    ]);
  }

  async sweepConfigHash(name: string): Promise<string | undefined> {
    return (await this.one<{ config_hash: string }>(this.pool, 'SELECT config_hash FROM sweeps WHERE name = $1', [name]))
      ?.config_hash;
  }

  // ---- queueing ----

  private async insertTrials(c: Client, sweepId: number, trials: TrialInput[]): Promise<number> {
    let added = 0;
    const t = now();
    // candidates in a fixed order, so two transactions queueing overlapping sets lock alike
    const cands = new Map(trials.map((tr) => [tr.candidate.hash, tr.candidate]));
    for (const h of [...cands.keys()].sort()) {
      const cd = cands.get(h)!;
      await c.query(
        `INSERT INTO candidates (hash, model, label, variants, spec, macs, flops, params, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (hash) DO NOTHING`,
        [cd.hash, cd.spec.model, cd.label, JSON.stringify(cd.variants), JSON.stringify(cd.spec), int(cd.macs), int(cd.flops), int(cd.params), t],
      );
    }
    for (const tr of trials) {
      const r = await c.query(
        `INSERT INTO trials (sweep_id, candidate_hash, baseline, round, rung, epochs, seed, recipe_hash, queued_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sweep_id, candidate_hash, rung, seed) DO NOTHING`,
        [sweepId, tr.candidate.hash, tr.candidate.baseline ? 1 : 0, tr.round, tr.rung, tr.epochs, tr.seed, tr.recipeHash, t],
      );
      added += r.rowCount ?? 0;
    }
    return added;
  }

  async enqueue(sweep: string, trials: TrialInput[]): Promise<number> {
    return this.tx(async (c) => this.insertTrials(c, await this.sweepId(c, sweep), trials));
  }

  async scheduleRound(sweep: string, kind: string, index: number, trials: TrialInput[]): Promise<boolean> {
    return this.tx(async (c) => {
      const id = await this.sweepId(c, sweep);
      // a concurrent scheduler of the same round waits on the primary key here, then sees
      // the conflict once the first commits: exactly one of them queues the trials
      const r = await c.query(
        `INSERT INTO rounds (sweep_id, kind, idx, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (sweep_id, kind, idx) DO NOTHING`,
        [id, kind, index, now()],
      );
      if ((r.rowCount ?? 0) === 0) return false;
      await this.insertTrials(c, id, trials);
      return true;
    });
  }

  async hasRound(sweep: string, kind: string, index: number): Promise<boolean> {
    const id = await this.sweepId(this.pool, sweep);
    return !!(await this.one(this.pool, 'SELECT 1 FROM rounds WHERE sweep_id = $1 AND kind = $2 AND idx = $3', [id, kind, index]));
  }

  // ---- the state machine ----

  /** Lock a trial for a transition and check the move is legal (and, for a holder, that
   * `workerId` holds it). Runs inside the caller's transaction. */
  private async checkMove(c: Client, trialId: number, to: TrialState, workerId?: string): Promise<TrialDbRow> {
    await c.query('SELECT id FROM trials WHERE id = $1 FOR UPDATE', [trialId]);
    const r = await this.one<TrialDbRow>(c, `SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE t.id = $1`, [trialId]);
    return checkTransition(r, trialId, to, workerId);
  }

  async claimNext(sweep: string, workerId: string): Promise<ClaimedTrial | undefined> {
    return this.tx(async (c) => {
      const id = await this.sweepId(c, sweep);
      // SKIP LOCKED: a trial another worker is claiming right now is not waited for, and
      // not taken: the next queued one is
      const got = await this.one<{ id: number }>(
        c,
        `UPDATE trials SET state = 'running', worker_id = $2, heartbeat_at = $3, started_at = $4,
           attempts = attempts + 1
         WHERE id = (SELECT id FROM trials WHERE sweep_id = $1 AND state = 'queued'
                     ORDER BY rung, round, id LIMIT 1 FOR UPDATE SKIP LOCKED)
           AND state = 'queued'
         RETURNING id`,
        [id, workerId, Date.now(), now()],
      );
      if (!got) return undefined;
      const r = (await this.one<TrialDbRow & { spec: string }>(
        c,
        `SELECT ${TRIAL_COLUMNS}, c.spec ${TRIAL_FROM} WHERE t.id = $1`,
        [got.id],
      ))!;
      return { trial: toTrialRow(r), spec: JSON.parse(r.spec) as ModelSpec, recipeHash: r.recipe_hash };
    });
  }

  async heartbeat(trialId: number, workerId: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE trials SET heartbeat_at = $1 WHERE id = $2 AND state = 'running' AND worker_id = $3`,
      [Date.now(), trialId, workerId],
    );
    return r.rowCount === 1;
  }

  private async putEpoch(c: Client, trialId: number, m: EpochMetrics): Promise<void> {
    await c.query(
      `INSERT INTO epoch_metrics (trial_id, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (trial_id, epoch) DO UPDATE SET lr = EXCLUDED.lr, train_loss = EXCLUDED.train_loss,
         train_accuracy = EXCLUDED.train_accuracy, test_accuracy = EXCLUDED.test_accuracy,
         test_loss = EXCLUDED.test_loss, seconds = EXCLUDED.seconds`,
      [trialId, m.epoch, finite(m.lr), finite(m.trainLoss), finite(m.trainAccuracy), finite(m.testAccuracy), finite(m.testLoss), finite(m.seconds)],
    );
  }

  async recordEpoch(trialId: number, workerId: string, m: EpochMetrics): Promise<void> {
    await this.tx(async (c) => {
      await this.checkMove(c, trialId, 'done', workerId);
      await this.putEpoch(c, trialId, m);
      await c.query('UPDATE trials SET heartbeat_at = $1 WHERE id = $2', [Date.now(), trialId]);
    });
  }

  async releaseTrial(trialId: number, workerId: string): Promise<void> {
    await this.tx(async (c) => {
      await this.checkMove(c, trialId, 'queued', workerId);
      await c.query('DELETE FROM epoch_metrics WHERE trial_id = $1', [trialId]);
      await c.query(
        `UPDATE trials SET state = 'queued', worker_id = NULL, heartbeat_at = NULL, started_at = NULL WHERE id = $1`,
        [trialId],
      );
    });
  }


  async finishTrial(trialId: number, workerId: string, o: TrialOutcome): Promise<TrialRow> {
    return this.tx(async (c) => {
      const before = await this.checkMove(c, trialId, o.state, workerId);
      for (const m of o.epochs ?? []) await this.putEpoch(c, trialId, m);
      await c.query(
        `UPDATE trials SET state = $1, finished_at = $2, accuracy = $3, test_loss = $4, train_loss = $5,
         train_accuracy = $6, seconds = $7, images_per_second = $8, device = $9, error = $10, provenance = $11,
         heartbeat_at = $12 WHERE id = $13`,
        [...finishedValues(o, before), trialId],
      );
      return (await this.trial(trialId, c))!;
    });
  }

  async failTrial(trialId: number, workerId: string, error: string, provenance: Record<string, unknown> = {}): Promise<TrialRow> {
    return this.tx(async (c) => {
      const before = await this.checkMove(c, trialId, 'failed', workerId);
      await c.query(`UPDATE trials SET state = 'failed', finished_at = $1, error = $2, provenance = $3 WHERE id = $4`, [
        now(),
        error,
        finishedProvenance(before, provenance),
        trialId,
      ]);
      return (await this.trial(trialId, c))!;
    });
  }

  async pruneTrial(trialId: number, reason: string): Promise<TrialRow> {
    return this.tx(async (c) => {
      await this.checkMove(c, trialId, 'pruned');
      await c.query(`UPDATE trials SET state = 'pruned', finished_at = $1, error = $2 WHERE id = $3`, [now(), reason, trialId]);
      return (await this.trial(trialId, c))!;
    });
  }

  async reuseFinished(trialId: number, workerId: string): Promise<TrialRow | undefined> {
    return this.tx(async (c) => {
      const me = await this.checkMove(c, trialId, 'done', workerId);
      const src = await this.one<Record<string, any>>(
        c,
        `SELECT * FROM trials WHERE candidate_hash = $1 AND recipe_hash = $2 AND epochs = $3 AND seed = $4
         AND state IN ('done','diverged') AND id <> $5 ORDER BY reused_from IS NOT NULL, id LIMIT 1`,
        [me.candidate_hash, me.recipe_hash, me.epochs, me.seed, trialId],
      );
      if (!src) return undefined;
      const origin: number = src.reused_from ?? src.id;
      await c.query('DELETE FROM epoch_metrics WHERE trial_id = $1', [trialId]);
      await c.query(
        `INSERT INTO epoch_metrics (trial_id, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds)
         SELECT $1, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds
         FROM epoch_metrics WHERE trial_id = $2`,
        [trialId, src.id],
      );
      const prov = src.provenance ? (JSON.parse(src.provenance) as Record<string, unknown>) : {};
      await c.query(
        `UPDATE trials SET state = $1, finished_at = $2, accuracy = $3, test_loss = $4, train_loss = $5,
         train_accuracy = $6, seconds = $7, images_per_second = $8, device = $9, error = $10, reused_from = $11,
         provenance = $12 WHERE id = $13`,
        [
          src.state,
          now(),
          src.accuracy,
          src.test_loss,
          src.train_loss,
          src.train_accuracy,
          src.seconds,
          src.images_per_second,
          src.device,
          src.error,
          origin,
          JSON.stringify({ ...prov, reusedFrom: origin, reusedAt: now() }),
          trialId,
        ],
      );
      return (await this.trial(trialId, c))!;
    });
  }

  async requeueRunning(sweep: string, opts: { staleAfterMs?: number } = {}): Promise<number> {
    return this.tx(async (c) => {
      const id = await this.sweepId(c, sweep);
      const cutoff = opts.staleAfterMs === undefined ? Number.MAX_SAFE_INTEGER : Date.now() - opts.staleAfterMs;
      // SKIP LOCKED: a trial whose worker is finishing it right now is not stale
      const stale = (
        await c.query(
          `SELECT id FROM trials WHERE sweep_id = $1 AND state = 'running' AND COALESCE(heartbeat_at, 0) < $2
           ORDER BY id FOR UPDATE SKIP LOCKED`,
          [id, cutoff],
        )
      ).rows.map((r: { id: number }) => r.id);
      if (stale.length === 0) return 0;
      await c.query('DELETE FROM epoch_metrics WHERE trial_id = ANY($1::int[])', [stale]);
      await c.query(
        `UPDATE trials SET state = 'queued', worker_id = NULL, heartbeat_at = NULL, started_at = NULL
         WHERE id = ANY($1::int[])`,
        [stale],
      );
      return stale.length;
    });
  }

  async counts(sweep: string): Promise<StateCounts> {
    const id = await this.sweepId(this.pool, sweep);
    const rows = (await this.pool.query('SELECT state, COUNT(*) AS n FROM trials WHERE sweep_id = $1 GROUP BY state', [id]))
      .rows as Array<{ state: TrialState; n: number }>;
    const out: StateCounts = { queued: 0, running: 0, done: 0, failed: 0, pruned: 0, diverged: 0 };
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  async candidate(hash: string, sweep?: string): Promise<Candidate | undefined> {
    const c = await this.one<Record<string, any>>(this.pool, 'SELECT * FROM candidates WHERE hash = $1', [hash]);
    if (!c) return undefined;
    const b = sweep
      ? await this.one<{ baseline: number }>(
          this.pool,
          `SELECT t.baseline FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = $1 AND t.candidate_hash = $2
           ORDER BY t.id LIMIT 1`,
          [sweep, hash],
        )
      : undefined;
    return {
      hash: c.hash,
      variants: JSON.parse(c.variants) as Variant[],
      label: c.label,
      baseline: b?.baseline === 1,
      spec: JSON.parse(c.spec) as ModelSpec,
      macs: c.macs,
      flops: c.flops,
      params: c.params,
    };
  }
}
