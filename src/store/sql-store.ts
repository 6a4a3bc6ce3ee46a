// The store, written once for SQLite and PostgreSQL over an Executor and a Dialect
// (executor.ts). Every state change runs in one transaction that first reads (and, on
// PostgreSQL, locks) the trial and checks the move against the state machine (states.ts);
// the schema's own guards (migrations.ts) refuse whatever slips past. A worker claims a
// trial with one UPDATE over `SELECT ... FOR UPDATE SKIP LOCKED` (a write transaction on
// SQLite), and a round is scheduled by whoever first inserts its row in `rounds`, in the
// transaction that queues its trials: exactly once however many workers look.
import { UsageError } from '../errors.js';
import { version as dsxVersion } from '../version.js';
import type { Candidate } from '../domain/candidate.js';
import type { EpochMetrics } from '../domain/metrics.js';
import type { ListedTrialRow, SweepRow, TrialRow } from '../domain/rows.js';
import { emptyCounts, type StateCounts, type TrialState } from '../domain/trial-states.js';
import type { ModelSpec, Variant } from '../models/spec.js';
import type { Dialect, Executor } from './executor.js';
import { schemaVersionOf } from './migrations.js';
import {
  EPOCH_COLUMNS,
  FINISH_COLUMNS,
  LISTING_CANDIDATES,
  LISTING_COLUMNS,
  LISTING_FROM,
  LISTING_LATENCIES,
  TRIAL_COLUMNS,
  TRIAL_FROM,
  candidateValues,
  epochValues,
  finishedProvenance,
  finishedValues,
  now,
  specValues,
  toCandidate,
  toEpochMetrics,
  toListedTrialRow,
  toSweepRow,
  toTrialRow,
  type CandidateDbRow,
  type EpochDbRow,
  type ListedCandidate,
  type ListedCandidateDbTuple,
  type ListedLatencyDbTuple,
  type ListingDbTuple,
  type SweepDbRow,
  type TrialDbRow,
} from './rows.js';
import { checkTransition } from './states.js';
import type {
  ClaimedTrial,
  NewSweep,
  PrunerDecisionRow,
  SweepStore,
  TrialInput,
  TrialOutcome,
  LatencyKey,
  LatencyRow,
} from './store.js';
import type { StoredWeights } from './types.js';

const BACK_TO_QUEUE = `UPDATE trials SET state = 'queued', worker_id = NULL, heartbeat_at = NULL, started_at = NULL WHERE id = ?`;
const FINISH_SET = FINISH_COLUMNS.map((c) => `${c} = ?`).join(', ');
const VARIANT_BATCH = 64;
const VARIANTS_OF = `SELECT hash, variants FROM candidates WHERE hash IN (${new Array(VARIANT_BATCH).fill('?').join(', ')})`;

export class SqlStore implements SweepStore {
  constructor(
    /** the database, for tests and tools (e.g. to check the guards with raw SQL) */
    readonly executor: Executor & { onWarning?: (m: string) => void },
    readonly dialect: Dialect,
    /** where the data lives, for messages (a file path, or a URL without its password) */
    readonly location: string,
    /** workers on other machines may use the store at the same time (PostgreSQL) */
    readonly shared: boolean,
  ) {}

  set onWarning(fn: ((message: string) => void) | undefined) {
    if (fn && 'onWarning' in this.executor) this.executor.onWarning = fn;
  }

  schemaVersion(): Promise<number> {
    return schemaVersionOf(this.executor, this.dialect);
  }

  close(): Promise<void> {
    return this.executor.close();
  }

  // ---- reading side (StoreReader) ----

  async listSweeps(): Promise<SweepRow[]> {
    return (await this.executor.all<SweepDbRow>('SELECT * FROM sweeps ORDER BY id')).map(toSweepRow);
  }

  async getSweep(name: string): Promise<SweepRow | undefined> {
    const r = await this.executor.one<SweepDbRow>('SELECT * FROM sweeps WHERE name = ?', [name]);
    return r && toSweepRow(r);
  }

  async trials(sweep: string): Promise<TrialRow[]> {
    const rows = await this.executor.all<TrialDbRow>(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE s.name = ? ORDER BY t.id`, [sweep]);
    return rows.map(toTrialRow);
  }

  async trialListing(sweep: string): Promise<ListedTrialRow[]> {
    const id = await this.sweepId(this.executor, sweep);
    // rows as arrays: 10,000 trials are 10,000 objects fewer to build and collect
    const latencies = new Map<string, { median_ms: number; machine: string }>();
    for (const [hash, machine, ms] of await this.executor.rows<ListedLatencyDbTuple>(LISTING_LATENCIES, [id])) {
      if (!latencies.has(hash)) latencies.set(hash, { median_ms: ms, machine });
    }
    const candidates = new Map<string, ListedCandidate>();
    for (const [hash, label, macs, flops, params] of await this.executor.rows<ListedCandidateDbTuple>(LISTING_CANDIDATES, [id])) {
      candidates.set(hash, { label, macs, flops, params });
    }
    const rows = await this.executor.rows<ListingDbTuple>(`SELECT ${LISTING_COLUMNS} ${LISTING_FROM}`, [id]);
    return rows.map((r) => toListedTrialRow(r, candidates.get(r[1])!, sweep, latencies.get(r[1])));
  }

  async candidateVariants(hashes: readonly string[]): Promise<Map<string, Variant[]>> {
    const out = new Map<string, Variant[]>();
    const wanted = [...new Set(hashes)];
    // VARIANT_BATCH hashes a query, the last batch padded with NULL (which matches nothing),
    // so that one statement serves every call
    for (let i = 0; i < wanted.length; i += VARIANT_BATCH) {
      const batch = wanted.slice(i, i + VARIANT_BATCH);
      const params = [...batch, ...new Array<null>(VARIANT_BATCH - batch.length).fill(null)];
      for (const r of await this.executor.all<{ hash: string; variants: string }>(VARIANTS_OF, params)) {
        out.set(r.hash, JSON.parse(r.variants) as Variant[]);
      }
    }
    return out;
  }

  async trial(id: number, x: Executor = this.executor): Promise<TrialRow | undefined> {
    const r = await x.one<TrialDbRow>(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE t.id = ?`, [id]);
    return r && toTrialRow(r);
  }

  async epochMetrics(trialId: number): Promise<EpochMetrics[]> {
    const rows = await this.executor.all<EpochDbRow>(`SELECT ${EPOCH_COLUMNS} FROM epoch_metrics WHERE trial_id = ? ORDER BY epoch`, [trialId]);
    return rows.map(toEpochMetrics);
  }

  async counts(sweep: string): Promise<StateCounts> {
    const id = await this.sweepId(this.executor, sweep);
    const rows = await this.executor.all<{ state: TrialState; n: number }>(
      'SELECT state, COUNT(*) AS n FROM trials WHERE sweep_id = ? GROUP BY state',
      [id],
    );
    const out = emptyCounts();
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  async candidate(hash: string, sweep?: string): Promise<Candidate | undefined> {
    const c = await this.executor.one<CandidateDbRow>(
      'SELECT c.*, cs.spec FROM candidates c JOIN candidate_specs cs ON cs.hash = c.hash WHERE c.hash = ?',
      [hash],
    );
    if (!c) return undefined;
    const b = sweep
      ? await this.executor.one<{ baseline: number }>(
          `SELECT t.baseline FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = ? AND t.candidate_hash = ?
           ORDER BY t.id LIMIT 1`,
          [sweep, hash],
        )
      : undefined;
    return toCandidate(c, b?.baseline === 1);
  }

  async trialWeights(trialId: number): Promise<StoredWeights | undefined> {
    const r = await this.executor.one<{ trial_id: number; checkpoint: Uint8Array }>(
      `SELECT trial_id, checkpoint FROM trial_weights
       WHERE trial_id = COALESCE((SELECT reused_from FROM trials WHERE id = ?), ?)`,
      [trialId, trialId],
    );
    return r && { trialId: Number(r.trial_id), checkpoint: new Uint8Array(r.checkpoint.buffer, r.checkpoint.byteOffset, r.checkpoint.byteLength) };
  }

  async trialsWithWeights(sweep: string): Promise<Set<number>> {
    const rows = await this.executor.all<{ id: number }>(
      `SELECT t.id FROM trials t JOIN sweeps s ON s.id = t.sweep_id
       JOIN trial_weights w ON w.trial_id = COALESCE(t.reused_from, t.id) WHERE s.name = ?`,
      [sweep],
    );
    return new Set(rows.map((r) => Number(r.id)));
  }

  dropWeights(trialIds: number[]): Promise<number> {
    return this.executor.transaction(async (x) => {
      const dropping = new Set(trialIds);
      let dropped = 0;
      for (const id of trialIds) {
        // weights another kept trial reuses stay
        const readers = await x.all<{ id: number }>('SELECT id FROM trials WHERE reused_from = ?', [id]);
        if (readers.some((r) => !dropping.has(Number(r.id)))) continue;
        dropped += (await x.run('DELETE FROM trial_weights WHERE trial_id = ?', [id])).changes;
      }
      return dropped;
    });
  }

  async latency(k: LatencyKey): Promise<LatencyRow | undefined> {
    const r = await this.executor.one<Record<string, any>>(
      `SELECT median_ms, p10_ms, p90_ms, reps FROM latencies
       WHERE spec_hash = ? AND machine = ? AND runtime = ? AND batch = ? AND threads = ?`,
      [k.specHash, k.machine, k.runtime, k.batch, k.threads],
    );
    return r && { ...k, medianMs: r.median_ms, p10Ms: r.p10_ms, p90Ms: r.p90_ms, reps: r.reps };
  }

  async recordLatency(l: LatencyRow): Promise<boolean> {
    const r = await this.executor.run(
      `INSERT INTO latencies (spec_hash, machine, runtime, batch, threads, median_ms, p10_ms, p90_ms, reps, measured_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (spec_hash, machine, runtime, batch, threads) DO NOTHING`,
      [l.specHash, l.machine, l.runtime, l.batch, l.threads, l.medianMs, l.p10Ms, l.p90Ms, l.reps, now()],
    );
    return r.changes === 1;
  }

  async prunerDecisions(sweep: string): Promise<PrunerDecisionRow[]> {
    const id = await this.sweepId(this.executor, sweep);
    const rows = await this.executor.all<Record<string, any>>(
      `SELECT round, rung, candidate_hash, pruner, promoted, rank, accuracy FROM pruner_decisions
       WHERE sweep_id = ? ORDER BY round, rung, rank IS NULL, rank, candidate_hash`,
      [id],
    );
    return rows.map((r) => ({
      round: r.round,
      rung: r.rung,
      candidateHash: r.candidate_hash,
      pruner: r.pruner,
      promoted: r.promoted === 1,
      rank: r.rank,
      accuracy: r.accuracy,
    }));
  }

  // ---- sweeps ----

  private async sweepId(x: Executor, name: string): Promise<number> {
    const r = await x.one<{ id: number }>('SELECT id FROM sweeps WHERE name = ?', [name]);
    if (!r) throw new UsageError(`no sweep named '${name}' in ${this.location}`);
    return r.id;
  }

  async createSweep(input: NewSweep): Promise<SweepRow> {
    const r = await this.executor.one<SweepDbRow>(
      `INSERT INTO sweeps (name, config, config_hash, version, created_at) VALUES (?, ?, ?, ?, ?)
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
    const id = await this.sweepId(this.executor, name);
    await this.executor.run('UPDATE sweeps SET status = ?, finished_at = ? WHERE id = ?', [status, status === 'finished' ? now() : null, id]);
  }

  async sweepConfigHash(name: string): Promise<string | undefined> {
    return (await this.executor.one<{ config_hash: string }>('SELECT config_hash FROM sweeps WHERE name = ?', [name]))?.config_hash;
  }

  // ---- queueing ----

  private async insertTrials(x: Executor, sweepId: number, trials: TrialInput[]): Promise<number> {
    const t = now();
    // candidates in a fixed order, so two transactions queueing overlapping sets lock alike
    const cands = new Map(trials.map((tr) => [tr.candidate.hash, tr.candidate]));
    for (const h of [...cands.keys()].sort()) {
      await x.run(
        `INSERT INTO candidates (hash, model, label, variants, macs, flops, params, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
        candidateValues(cands.get(h)!, t),
      );
      await x.run('INSERT INTO candidate_specs (hash, spec) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING', specValues(cands.get(h)!));
    }
    let added = 0;
    for (const tr of trials) {
      const r = await x.run(
        `INSERT INTO trials (sweep_id, candidate_hash, baseline, round, rung, epochs, seed, recipe_hash, queued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sweep_id, candidate_hash, rung, seed) DO NOTHING`,
        [sweepId, tr.candidate.hash, tr.candidate.baseline ? 1 : 0, tr.round, tr.rung, tr.epochs, tr.seed, tr.recipeHash, t],
      );
      added += r.changes;
    }
    return added;
  }

  enqueue(sweep: string, trials: TrialInput[]): Promise<number> {
    return this.executor.transaction(async (x) => this.insertTrials(x, await this.sweepId(x, sweep), trials));
  }

  scheduleRound(sweep: string, kind: string, index: number, trials: TrialInput[], decisions: PrunerDecisionRow[] = []): Promise<boolean> {
    return this.executor.transaction(async (x) => {
      const id = await this.sweepId(x, sweep);
      // a concurrent scheduler of the same round waits on the primary key here, then sees
      // the conflict once the first commits: exactly one of them queues the trials
      const r = await x.run(
        'INSERT INTO rounds (sweep_id, kind, idx, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sweep_id, kind, idx) DO NOTHING',
        [id, kind, index, now()],
      );
      if (r.changes === 0) return false;
      await this.insertTrials(x, id, trials);
      for (const d of decisions) {
        await x.run(
          `INSERT INTO pruner_decisions (sweep_id, round, rung, candidate_hash, pruner, promoted, rank, accuracy, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sweep_id, round, rung, candidate_hash) DO NOTHING`,
          [id, d.round, d.rung, d.candidateHash, d.pruner, d.promoted ? 1 : 0, d.rank, d.accuracy, now()],
        );
      }
      return true;
    });
  }

  async hasRound(sweep: string, kind: string, index: number): Promise<boolean> {
    const id = await this.sweepId(this.executor, sweep);
    return !!(await this.executor.one('SELECT 1 AS ok FROM rounds WHERE sweep_id = ? AND kind = ? AND idx = ?', [id, kind, index]));
  }

  // ---- the state machine ----

  /** Lock a trial for a transition and check the move is legal (and, for a holder, that
   * `workerId` holds it). Runs inside the caller's transaction. */
  private async checkMove(x: Executor, trialId: number, to: TrialState, workerId?: string): Promise<TrialDbRow> {
    if (this.dialect.forUpdate) await x.one(`SELECT id FROM trials WHERE id = ?${this.dialect.forUpdate}`, [trialId]);
    const r = await x.one<TrialDbRow>(`SELECT ${TRIAL_COLUMNS} ${TRIAL_FROM} WHERE t.id = ?`, [trialId]);
    return checkTransition(r, trialId, to, workerId);
  }

  claimNext(sweep: string, workerId: string): Promise<ClaimedTrial | undefined> {
    return this.executor.transaction(async (x) => {
      const id = await this.sweepId(x, sweep);
      // SKIP LOCKED: a trial another worker is claiming right now is not waited for, and
      // not taken: the next queued one is
      const got = await x.one<{ id: number }>(
        `UPDATE trials SET state = 'running', worker_id = ?, heartbeat_at = ?, started_at = ?, attempts = attempts + 1
         WHERE id = (SELECT id FROM trials WHERE sweep_id = ? AND state = 'queued'
                     ORDER BY rung, round, id LIMIT 1${this.dialect.skipLocked})
           AND state = 'queued'
         RETURNING id`,
        [workerId, Date.now(), now(), id],
      );
      if (!got) return undefined;
      const r = (await x.one<TrialDbRow & { spec: string }>(
        `SELECT ${TRIAL_COLUMNS}, cs.spec ${TRIAL_FROM} JOIN candidate_specs cs ON cs.hash = t.candidate_hash WHERE t.id = ?`,
        [got.id],
      ))!;
      return { trial: toTrialRow(r), spec: JSON.parse(r.spec) as ModelSpec, recipeHash: r.recipe_hash };
    });
  }

  async heartbeat(trialId: number, workerId: string): Promise<boolean> {
    const r = await this.executor.run(`UPDATE trials SET heartbeat_at = ? WHERE id = ? AND state = 'running' AND worker_id = ?`, [
      Date.now(),
      trialId,
      workerId,
    ]);
    return r.changes === 1;
  }

  private async putEpoch(x: Executor, trialId: number, m: EpochMetrics): Promise<void> {
    await x.run(
      `INSERT INTO epoch_metrics (trial_id, ${EPOCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (trial_id, epoch) DO UPDATE SET lr = excluded.lr, train_loss = excluded.train_loss,
         train_accuracy = excluded.train_accuracy, test_accuracy = excluded.test_accuracy,
         test_loss = excluded.test_loss, seconds = excluded.seconds`,
      [trialId, ...epochValues(m)],
    );
  }

  recordEpoch(trialId: number, workerId: string, m: EpochMetrics): Promise<void> {
    return this.executor.transaction(async (x) => {
      await this.checkMove(x, trialId, 'done', workerId);
      await this.putEpoch(x, trialId, m);
      await x.run('UPDATE trials SET heartbeat_at = ? WHERE id = ?', [Date.now(), trialId]);
    });
  }

  releaseTrial(trialId: number, workerId: string): Promise<void> {
    return this.executor.transaction(async (x) => {
      await this.checkMove(x, trialId, 'queued', workerId);
      await x.run('DELETE FROM epoch_metrics WHERE trial_id = ?', [trialId]);
      await x.run(BACK_TO_QUEUE, [trialId]);
    });
  }

  finishTrial(trialId: number, workerId: string, o: TrialOutcome): Promise<TrialRow> {
    return this.executor.transaction(async (x) => {
      const before = await this.checkMove(x, trialId, o.state, workerId);
      for (const m of o.epochs ?? []) await this.putEpoch(x, trialId, m);
      await x.run(`UPDATE trials SET ${FINISH_SET} WHERE id = ?`, [...finishedValues(o, before), trialId]);
      if (o.weights) {
        await x.run('INSERT INTO trial_weights (trial_id, checkpoint, bytes, created_at) VALUES (?, ?, ?, ?)', [
          trialId,
          Buffer.from(o.weights.buffer, o.weights.byteOffset, o.weights.byteLength),
          o.weights.byteLength,
          now(),
        ]);
      }
      return (await this.trial(trialId, x))!;
    });
  }

  failTrial(trialId: number, workerId: string, error: string, provenance: Record<string, unknown> = {}): Promise<TrialRow> {
    return this.executor.transaction(async (x) => {
      const before = await this.checkMove(x, trialId, 'failed', workerId);
      await x.run(`UPDATE trials SET state = 'failed', finished_at = ?, error = ?, provenance = ? WHERE id = ?`, [
        now(),
        error,
        finishedProvenance(before, provenance),
        trialId,
      ]);
      return (await this.trial(trialId, x))!;
    });
  }

  pruneTrial(trialId: number, reason: string): Promise<TrialRow> {
    return this.executor.transaction(async (x) => {
      await this.checkMove(x, trialId, 'pruned');
      await x.run(`UPDATE trials SET state = 'pruned', finished_at = ?, error = ? WHERE id = ?`, [now(), reason, trialId]);
      return (await this.trial(trialId, x))!;
    });
  }

  reuseFinished(trialId: number, workerId: string): Promise<TrialRow | undefined> {
    return this.executor.transaction(async (x) => {
      const me = await this.checkMove(x, trialId, 'done', workerId);
      const src = await x.one<Record<string, any>>(
        `SELECT * FROM trials WHERE candidate_hash = ? AND recipe_hash = ? AND epochs = ? AND seed = ?
         AND state IN ('done','diverged') AND id <> ? ORDER BY reused_from IS NOT NULL, id LIMIT 1`,
        [me.candidate_hash, me.recipe_hash, me.epochs, me.seed, trialId],
      );
      if (!src) return undefined;
      // point at the trial that actually trained, not at another copy
      const origin: number = src.reused_from ?? src.id;
      await x.run('DELETE FROM epoch_metrics WHERE trial_id = ?', [trialId]);
      await x.run(
        `INSERT INTO epoch_metrics (trial_id, ${EPOCH_COLUMNS}) SELECT ?, ${EPOCH_COLUMNS} FROM epoch_metrics WHERE trial_id = ?`,
        [trialId, src.id],
      );
      const prov = src.provenance ? (JSON.parse(src.provenance) as Record<string, unknown>) : {};
      await x.run(
        `UPDATE trials SET state = ?, finished_at = ?, accuracy = ?, test_loss = ?, train_loss = ?,
         train_accuracy = ?, seconds = ?, images_per_second = ?, device = ?, error = ?, reused_from = ?,
         provenance = ? WHERE id = ?`,
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
      return (await this.trial(trialId, x))!;
    });
  }

  requeueRunning(sweep: string, opts: { staleAfterMs?: number } = {}): Promise<number> {
    return this.executor.transaction(async (x) => {
      const id = await this.sweepId(x, sweep);
      const cutoff = opts.staleAfterMs === undefined ? Number.MAX_SAFE_INTEGER : Date.now() - opts.staleAfterMs;
      // SKIP LOCKED: a trial whose worker is finishing it right now is not stale
      const stale = await x.all<{ id: number }>(
        `SELECT id FROM trials WHERE sweep_id = ? AND state = 'running' AND COALESCE(heartbeat_at, 0) < ?
         ORDER BY id${this.dialect.skipLocked}`,
        [id, cutoff],
      );
      for (const t of stale) {
        await x.run('DELETE FROM epoch_metrics WHERE trial_id = ?', [t.id]);
        await x.run(BACK_TO_QUEUE, [t.id]);
      }
      return stale.length;
    });
  }
}
