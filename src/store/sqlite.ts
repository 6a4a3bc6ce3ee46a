// The SQLite store (better-sqlite3): the embedded default. WAL so that `dsxplore report`
// can read while a sweep writes; a busy timeout so that two processes on one file wait for
// each other instead of failing; every state change in one IMMEDIATE transaction, so a
// kill -9 at any instant leaves either the old row or the new one.
import Database from 'better-sqlite3';
import { hostname } from 'node:os';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { version as dsxVersion } from '../version.js';
import type { EpochMetrics } from '../engine/types.js';
import type { ModelSpec, Variant } from '../models/spec.js';
import type { Candidate } from '../space/types.js';
import type { SweepRow, TrialRow, TrialState } from './types.js';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
import {
  FINISHED_STATES,
  checkTransition,
  type ClaimedTrial,
  type NewSweep,
  type StateCounts,
  type SweepStore,
  type TrialInput,
  type TrialOutcome,
} from './store.js';

export const TRIAL_COLUMNS = `
  t.id, s.name AS sweep, t.candidate_hash, c.label, t.baseline, c.variants, c.macs, c.flops,
  c.params, t.state, t.epochs, t.rung, t.round, t.seed, t.recipe_hash, t.accuracy, t.test_loss,
  t.train_loss, t.train_accuracy, t.seconds, t.images_per_second, t.device, t.error,
  t.worker_id, t.heartbeat_at, t.queued_at, t.started_at, t.finished_at, t.reused_from, t.attempts, t.provenance`;
export const TRIAL_FROM = `FROM trials t JOIN sweeps s ON s.id = t.sweep_id JOIN candidates c ON c.hash = t.candidate_hash`;

export interface TrialDbRow {
  id: number;
  sweep: string;
  candidate_hash: string;
  label: string;
  baseline: number;
  variants: string;
  macs: number;
  flops: number;
  params: number;
  state: TrialState;
  epochs: number;
  rung: number;
  round: number;
  seed: number;
  recipe_hash: string;
  accuracy: number | null;
  test_loss: number | null;
  train_loss: number | null;
  train_accuracy: number | null;
  seconds: number | null;
  images_per_second: number | null;
  device: string | null;
  error: string | null;
  worker_id: string | null;
  heartbeat_at: number | null;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  reused_from: number | null;
  attempts: number;
  provenance: string | null;
}

export function toTrialRow(r: TrialDbRow): TrialRow {
  return {
    id: r.id,
    sweep: r.sweep,
    candidateHash: r.candidate_hash,
    label: r.label,
    baseline: r.baseline === 1,
    variants: JSON.parse(r.variants) as Variant[],
    macs: r.macs,
    flops: r.flops,
    params: r.params,
    state: r.state,
    epochs: r.epochs,
    rung: r.rung,
    round: r.round,
    seed: r.seed,
    recipeHash: r.recipe_hash,
    accuracy: r.accuracy,
    testLoss: r.test_loss,
    trainLoss: r.train_loss,
    trainAccuracy: r.train_accuracy,
    seconds: r.seconds,
    imagesPerSecond: r.images_per_second,
    device: r.device,
    error: r.error,
    workerId: r.worker_id,
    heartbeatAt: r.heartbeat_at,
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    reusedFrom: r.reused_from,
    attempts: r.attempts,
    provenance: r.provenance === null ? null : (JSON.parse(r.provenance) as Record<string, unknown>),
  };
}

export interface SweepDbRow {
  id: number;
  name: string;
  config: string;
  config_hash: string;
  status: SweepRow['status'];
  created_at: string;
}

export function toSweepRow(r: SweepDbRow): SweepRow {
  return { id: r.id, name: r.name, config: JSON.parse(r.config), createdAt: r.created_at, status: r.status };
}

const now = () => new Date().toISOString();
/** SQLite stores big integers exactly up to 2^63; MACs fit, but make sure they are integers. */
const int = (n: number) => Math.round(n);

/** Apply the migrations the database lacks, in order; refuse a database from a newer build. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const current = (db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  const newest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > newest) {
    throw new UsageError(
      `the database ${db.name} has schema version ${current}, newer than this dsxplore ` +
        `(${dsxVersion}) understands (${newest}); upgrade dsxplore or use another --db`,
    );
  }
  let applied = 0;
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, now());
    }).immediate();
    applied++;
  }
  return applied;
}

export interface SqliteStoreOptions {
  /** milliseconds to wait for a lock held by another process */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

export class SqliteStore implements SweepStore {
  readonly location: string;
  private readonly db: Database.Database;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.location = path === ':memory:' ? path : resolve(path);
    if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(this.location), { recursive: true });
    try {
      this.db = new Database(this.location, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    } catch (err) {
      throw new UsageError(`cannot open the database ${this.location}: ${(err as Error).message}`);
    }
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10000}`);
    this.db.pragma('foreign_keys = ON');
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      // FULL: a transaction that committed survives a power cut too, not only a killed process
      this.db.pragma('synchronous = FULL');
      migrate(this.db);
    }
  }

  /** The schema version of the open database. */
  schemaVersion(): number {
    return (this.db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
  }

  // ---- reading side (StoreReader) ----

  listSweeps(): SweepRow[] {
    return (this.db.prepare('SELECT * FROM sweeps ORDER BY id').all() as SweepDbRow[]).map(toSweepRow);
  }

  getSweep(name: string): SweepRow | undefined {
    const r = this.db.prepare('SELECT * FROM sweeps WHERE name = ?').get(name) as SweepDbRow | undefined;
    return r && toSweepRow(r);
  }

  trials(sweep: string): TrialRow[] {
    const rows = this.db.prepare(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE s.name = ? ORDER BY t.id`).all(sweep);
    return (rows as TrialDbRow[]).map(toTrialRow);
  }

  trial(id: number): TrialRow | undefined {
    const r = this.db.prepare(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE t.id = ?`).get(id) as TrialDbRow | undefined;
    return r && toTrialRow(r);
  }

  epochMetrics(trialId: number): EpochMetrics[] {
    const rows = this.db
      .prepare('SELECT * FROM epoch_metrics WHERE trial_id = ? ORDER BY epoch')
      .all(trialId) as Array<Record<string, number | null>>;
    return rows.map((r) => {
      const m: EpochMetrics = {
        epoch: r.epoch!,
        lr: r.lr ?? 0,
        trainLoss: r.train_loss ?? NaN,
        trainAccuracy: r.train_accuracy ?? NaN,
        seconds: r.seconds ?? 0,
      };
      if (r.test_accuracy !== null) m.testAccuracy = r.test_accuracy;
      if (r.test_loss !== null) m.testLoss = r.test_loss;
      return m;
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- sweeps ----

  private sweepId(name: string): number {
    const r = this.db.prepare('SELECT id FROM sweeps WHERE name = ?').get(name) as { id: number } | undefined;
    if (!r) throw new UsageError(`no sweep named '${name}' in ${this.location}`);
    return r.id;
  }

  async createSweep(input: NewSweep): Promise<SweepRow> {
    return this.db
      .transaction(() => {
        if (this.db.prepare('SELECT 1 FROM sweeps WHERE name = ?').get(input.name)) {
          throw new UsageError(
            `a sweep named '${input.name}' already exists in ${this.location}; ` +
              `pass --resume to continue it, or change "name" in the config to start a new one`,
          );
        }
        const info = this.db
          .prepare('INSERT INTO sweeps (name, config, config_hash, version, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(input.name, JSON.stringify(input.config), input.configHash, dsxVersion, now());
        return toSweepRow(this.db.prepare('SELECT * FROM sweeps WHERE id = ?').get(info.lastInsertRowid) as SweepDbRow);
      })
      .immediate();
  }

  async setSweepStatus(name: string, status: SweepRow['status']): Promise<void> {
    const id = this.sweepId(name);
    this.db
      .prepare('UPDATE sweeps SET status = ?, finished_at = ? WHERE id = ?')
      .run(status, status === 'finished' ? now() : null, id);
  }

  async sweepConfigHash(name: string): Promise<string | undefined> {
    const r = this.db.prepare('SELECT config_hash FROM sweeps WHERE name = ?').get(name) as
      | { config_hash: string }
      | undefined;
    return r?.config_hash;
  }

  // ---- queueing ----

  private insertTrials(sweepId: number, trials: TrialInput[]): number {
    const putCandidate = this.db.prepare(
      `INSERT OR IGNORE INTO candidates (hash, model, label, variants, spec, macs, flops, params, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const putTrial = this.db.prepare(
      `INSERT OR IGNORE INTO trials (sweep_id, candidate_hash, baseline, round, rung, epochs, seed, recipe_hash, queued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let added = 0;
    const t = now();
    for (const tr of trials) {
      const c = tr.candidate;
      putCandidate.run(
        c.hash,
        c.spec.model,
        c.label,
        JSON.stringify(c.variants),
        JSON.stringify(c.spec),
        int(c.macs),
        int(c.flops),
        int(c.params),
        t,
      );
      added += putTrial.run(
        sweepId,
        c.hash,
        c.baseline ? 1 : 0,
        tr.round,
        tr.rung,
        tr.epochs,
        tr.seed,
        tr.recipeHash,
        t,
      ).changes;
    }
    return added;
  }

  async enqueue(sweep: string, trials: TrialInput[]): Promise<number> {
    return this.db.transaction(() => this.insertTrials(this.sweepId(sweep), trials)).immediate();
  }

  async scheduleRound(sweep: string, kind: string, index: number, trials: TrialInput[]): Promise<boolean> {
    return this.db
      .transaction(() => {
        const id = this.sweepId(sweep);
        const r = this.db
          .prepare('INSERT OR IGNORE INTO rounds (sweep_id, kind, idx, created_at) VALUES (?, ?, ?, ?)')
          .run(id, kind, index, now());
        if (r.changes === 0) return false;
        this.insertTrials(id, trials);
        return true;
      })
      .immediate();
  }

  async hasRound(sweep: string, kind: string, index: number): Promise<boolean> {
    const id = this.sweepId(sweep);
    return !!this.db.prepare('SELECT 1 FROM rounds WHERE sweep_id = ? AND kind = ? AND idx = ?').get(id, kind, index);
  }

  // ---- the state machine ----

  /** Read a trial for a transition and check the move is legal (and, for a holder, that
   * `workerId` holds it). Runs inside the caller's transaction. */
  private checkMove(trialId: number, to: TrialState, workerId?: string): TrialDbRow {
    const r = this.db.prepare(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE t.id = ?`).get(trialId) as
      | TrialDbRow
      | undefined;
    return checkTransition(r, trialId, to, workerId);
  }

  async claimNext(sweep: string, workerId: string): Promise<ClaimedTrial | undefined> {
    return this.db
      .transaction(() => {
        const id = this.sweepId(sweep);
        const next = this.db
          .prepare(`SELECT id FROM trials WHERE sweep_id = ? AND state = 'queued' ORDER BY rung, round, id LIMIT 1`)
          .get(id) as { id: number } | undefined;
        if (!next) return undefined;
        this.db
          .prepare(
            `UPDATE trials SET state = 'running', worker_id = ?, heartbeat_at = ?, started_at = ?,
             attempts = attempts + 1 WHERE id = ? AND state = 'queued'`,
          )
          .run(workerId, Date.now(), now(), next.id);
        const r = this.db
          .prepare(`SELECT ${TRIAL_COLUMNS}, c.spec ${TRIAL_FROM} WHERE t.id = ?`)
          .get(next.id) as TrialDbRow & { spec: string };
        return { trial: toTrialRow(r), spec: JSON.parse(r.spec) as ModelSpec, recipeHash: r.recipe_hash };
      })
      .immediate();
  }

  async heartbeat(trialId: number, workerId: string): Promise<boolean> {
    const r = this.db
      .prepare(`UPDATE trials SET heartbeat_at = ? WHERE id = ? AND state = 'running' AND worker_id = ?`)
      .run(Date.now(), trialId, workerId);
    return r.changes === 1;
  }

  private putEpoch(trialId: number, m: EpochMetrics): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO epoch_metrics
         (trial_id, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        trialId,
        m.epoch,
        finite(m.lr),
        finite(m.trainLoss),
        finite(m.trainAccuracy),
        finite(m.testAccuracy),
        finite(m.testLoss),
        finite(m.seconds),
      );
  }

  async recordEpoch(trialId: number, workerId: string, m: EpochMetrics): Promise<void> {
    this.db
      .transaction(() => {
        this.checkMove(trialId, 'done', workerId);
        this.putEpoch(trialId, m);
        this.db.prepare('UPDATE trials SET heartbeat_at = ? WHERE id = ?').run(Date.now(), trialId);
      })
      .immediate();
  }

  async releaseTrial(trialId: number, workerId: string): Promise<void> {
    this.db
      .transaction(() => {
        this.checkMove(trialId, 'queued', workerId);
        this.db.prepare('DELETE FROM epoch_metrics WHERE trial_id = ?').run(trialId);
        this.db
          .prepare(`UPDATE trials SET state = 'queued', worker_id = NULL, heartbeat_at = NULL, started_at = NULL WHERE id = ?`)
          .run(trialId);
      })
      .immediate();
  }

  async finishTrial(trialId: number, workerId: string, o: TrialOutcome): Promise<TrialRow> {
    return this.db
      .transaction(() => {
        const before = this.checkMove(trialId, o.state, workerId);
        for (const m of o.epochs ?? []) this.putEpoch(trialId, m);
        this.db
          .prepare(
            `UPDATE trials SET state = ?, finished_at = ?, accuracy = ?, test_loss = ?, train_loss = ?,
             train_accuracy = ?, seconds = ?, images_per_second = ?, device = ?, error = ?, provenance = ?,
             heartbeat_at = ? WHERE id = ?`,
          )
          .run(...finishedValues(o, before), trialId);
        return this.trial(trialId)!;
      })
      .immediate();
  }


  async failTrial(trialId: number, workerId: string, error: string, provenance: Record<string, unknown> = {}): Promise<TrialRow> {
    return this.db
      .transaction(() => {
        const before = this.checkMove(trialId, 'failed', workerId);
        this.db
          .prepare(`UPDATE trials SET state = 'failed', finished_at = ?, error = ?, provenance = ? WHERE id = ?`)
          .run(now(), error, finishedProvenance(before, provenance), trialId);
        return this.trial(trialId)!;
      })
      .immediate();
  }

  async pruneTrial(trialId: number, reason: string): Promise<TrialRow> {
    return this.db
      .transaction(() => {
        this.checkMove(trialId, 'pruned');
        this.db.prepare(`UPDATE trials SET state = 'pruned', finished_at = ?, error = ? WHERE id = ?`).run(now(), reason, trialId);
        return this.trial(trialId)!;
      })
      .immediate();
  }

  async reuseFinished(trialId: number, workerId: string): Promise<TrialRow | undefined> {
    return this.db
      .transaction(() => {
        const me = this.checkMove(trialId, 'done', workerId);
        const src = this.db
          .prepare(
            `SELECT * FROM trials WHERE candidate_hash = ? AND recipe_hash = ? AND epochs = ? AND seed = ?
             AND state IN ('done','diverged') AND id <> ? ORDER BY reused_from IS NOT NULL, id LIMIT 1`,
          )
          .get(me.candidate_hash, me.recipe_hash, me.epochs, me.seed, trialId) as Record<string, any> | undefined;
        if (!src) return undefined;
        // point at the trial that actually trained, not at another copy
        const origin: number = src.reused_from ?? src.id;
        this.db.prepare('DELETE FROM epoch_metrics WHERE trial_id = ?').run(trialId);
        this.db
          .prepare(
            `INSERT INTO epoch_metrics (trial_id, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds)
             SELECT ?, epoch, lr, train_loss, train_accuracy, test_accuracy, test_loss, seconds
             FROM epoch_metrics WHERE trial_id = ?`,
          )
          .run(trialId, src.id);
        const prov = src.provenance ? (JSON.parse(src.provenance) as Record<string, unknown>) : {};
        this.db
          .prepare(
            `UPDATE trials SET state = ?, finished_at = ?, accuracy = ?, test_loss = ?, train_loss = ?,
             train_accuracy = ?, seconds = ?, images_per_second = ?, device = ?, error = ?, reused_from = ?,
             provenance = ? WHERE id = ?`,
          )
          .run(
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
          );
        return this.trial(trialId)!;
      })
      .immediate();
  }

  async requeueRunning(sweep: string, opts: { staleAfterMs?: number } = {}): Promise<number> {
    return this.db
      .transaction(() => {
        const id = this.sweepId(sweep);
        const cutoff = opts.staleAfterMs === undefined ? Number.MAX_SAFE_INTEGER : Date.now() - opts.staleAfterMs;
        const stale = this.db
          .prepare(`SELECT id FROM trials WHERE sweep_id = ? AND state = 'running' AND COALESCE(heartbeat_at, 0) < ?`)
          .all(id, cutoff) as Array<{ id: number }>;
        const dropMetrics = this.db.prepare('DELETE FROM epoch_metrics WHERE trial_id = ?');
        const back = this.db.prepare(
          `UPDATE trials SET state = 'queued', worker_id = NULL, heartbeat_at = NULL, started_at = NULL WHERE id = ?`,
        );
        for (const t of stale) {
          dropMetrics.run(t.id);
          back.run(t.id);
        }
        return stale.length;
      })
      .immediate();
  }

  async counts(sweep: string): Promise<StateCounts> {
    const id = this.sweepId(sweep);
    const rows = this.db
      .prepare('SELECT state, COUNT(*) AS n FROM trials WHERE sweep_id = ? GROUP BY state')
      .all(id) as Array<{ state: TrialState; n: number }>;
    const out: StateCounts = { queued: 0, running: 0, done: 0, failed: 0, pruned: 0, diverged: 0 };
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  candidate(hash: string, sweep?: string): Candidate | undefined {
    const c = this.db.prepare('SELECT * FROM candidates WHERE hash = ?').get(hash) as Record<string, any> | undefined;
    if (!c) return undefined;
    const b = sweep
      ? (this.db
          .prepare('SELECT t.baseline FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = ? AND t.candidate_hash = ? ORDER BY t.id LIMIT 1')
          .get(sweep, hash) as { baseline: number } | undefined)
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

  /** For tests and tools: run raw SQL against the database (e.g. to check the guards). */
  rawDatabase(): Database.Database {
    return this.db;
  }

  /** Who is writing, for provenance. */
  static host(): string {
    return hostname();
  }
}

/** Provenance of a finished trial: what the runner recorded plus the trial's own timings. */
export function finishedProvenance(before: TrialDbRow, provenance: Record<string, unknown> = {}): string {
  const timings = { queuedAt: before.queued_at, startedAt: before.started_at, finishedAt: now(), attempts: before.attempts };
  return JSON.stringify({ ...provenance, ...timings });
}

/** The values `finishTrial` writes, in the column order both stores' UPDATE uses:
 * state, finished_at, accuracy, test_loss, train_loss, train_accuracy, seconds,
 * images_per_second, device, error, provenance, heartbeat_at. */
export function finishedValues(o: TrialOutcome, before: TrialDbRow): unknown[] {
  return [
    o.state,
    now(),
    finite(o.accuracy),
    finite(o.testLoss),
    finite(o.trainLoss),
    finite(o.trainAccuracy),
    finite(o.seconds),
    finite(o.imagesPerSecond),
    o.device,
    o.state === 'diverged' ? (o.message ?? 'training diverged') : null,
    finishedProvenance(before, o.provenance),
    Date.now(),
  ];
}

export function finite(x: number | null | undefined): number | null {
  return x === undefined || x === null || !Number.isFinite(x) ? null : x;
}

export { FINISHED_STATES };
