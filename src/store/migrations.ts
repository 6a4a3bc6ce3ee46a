// The database schema as one ordered list of migrations, for both dialects. A database
// records the versions it has applied (schema_version); opening it for writing applies the
// missing ones, in order, in one transaction. Never edit a migration that has shipped: add
// the next one. A migration is DDL written once over the dialect's column types, plus
// per-dialect DDL only where the two databases differ (the guards: SQLite triggers and
// PL/pgSQL functions).
//
// Guards live in the schema itself, so no code path, present or future, can move a trial
// along an illegal edge of the state machine (src/domain/trial-states.ts) or alter a finished trial.
import { UsageError } from '../errors.js';
import { version as dsxVersion } from '../version.js';
import type { Dialect, Executor, SqlTypes } from './executor.js';
import { FINISHED_STATES, TRIAL_STATES } from '../domain/trial-states.js';
import { legalMoveSql, sqlStates } from './states.js';

export interface Migration {
  version: number;
  name: string;
  /** DDL in both dialects, over the dialect's column types */
  ddl?: (t: SqlTypes) => string;
  /** DDL for one dialect only, run after `ddl` */
  sqlite?: string;
  pg?: string;
}

const FINISHED = sqlStates(FINISHED_STATES);

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sweeps, candidates, trials, epoch metrics, rounds',
    ddl: (t) => `
CREATE TABLE sweeps (
  id          ${t.id},
  name        TEXT NOT NULL UNIQUE,
  config      TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','finished')),
  version     TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  finished_at TEXT
);

CREATE TABLE candidates (
  hash       TEXT PRIMARY KEY,
  model      TEXT NOT NULL,
  label      TEXT NOT NULL,
  variants   TEXT NOT NULL,
  spec       TEXT NOT NULL,
  macs       ${t.bigint} NOT NULL,
  flops      ${t.bigint} NOT NULL,
  params     ${t.bigint} NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE trials (
  id                ${t.id},
  sweep_id          INTEGER NOT NULL REFERENCES sweeps(id),
  candidate_hash    TEXT NOT NULL REFERENCES candidates(hash),
  baseline          INTEGER NOT NULL DEFAULT 0 CHECK (baseline IN (0,1)),
  round             INTEGER NOT NULL DEFAULT 0,
  rung              INTEGER NOT NULL DEFAULT 0,
  epochs            INTEGER NOT NULL CHECK (epochs >= 1),
  seed              ${t.bigint} NOT NULL,
  recipe_hash       TEXT NOT NULL,
  state             TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ${sqlStates(TRIAL_STATES)}),
  worker_id         TEXT,
  heartbeat_at      ${t.bigint},
  attempts          INTEGER NOT NULL DEFAULT 0,
  queued_at         TEXT NOT NULL,
  started_at        TEXT,
  finished_at       TEXT,
  accuracy          ${t.real},
  test_loss         ${t.real},
  train_loss        ${t.real},
  train_accuracy    ${t.real},
  seconds           ${t.real},
  images_per_second ${t.real},
  device            TEXT,
  error             TEXT,
  reused_from       INTEGER REFERENCES trials(id),
  provenance        TEXT,
  UNIQUE (sweep_id, candidate_hash, rung, seed)
);
CREATE INDEX trials_by_state ON trials (sweep_id, state, id);
CREATE INDEX trials_by_identity ON trials (candidate_hash, recipe_hash, epochs, seed, state);

CREATE TABLE epoch_metrics (
  trial_id       INTEGER NOT NULL REFERENCES trials(id),
  epoch          INTEGER NOT NULL,
  lr             ${t.real},
  train_loss     ${t.real},
  train_accuracy ${t.real},
  test_accuracy  ${t.real},
  test_loss      ${t.real},
  seconds        ${t.real},
  PRIMARY KEY (trial_id, epoch)
);

CREATE TABLE rounds (
  sweep_id   INTEGER NOT NULL REFERENCES sweeps(id),
  kind       TEXT NOT NULL,
  idx        INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (sweep_id, kind, idx)
);
`,
    sqlite: `
CREATE TRIGGER trials_finished_immutable BEFORE UPDATE ON trials
WHEN OLD.state IN ${FINISHED}
BEGIN SELECT RAISE(ABORT, 'trial is finished and immutable'); END;

CREATE TRIGGER trials_legal_transition BEFORE UPDATE OF state ON trials
WHEN NOT ${legalMoveSql('OLD.state', 'NEW.state')}
BEGIN SELECT RAISE(ABORT, 'illegal trial state transition'); END;

CREATE TRIGGER trials_insert_queued BEFORE INSERT ON trials
WHEN NEW.state <> 'queued'
BEGIN SELECT RAISE(ABORT, 'a new trial must be queued'); END;

CREATE TRIGGER trials_finished_kept BEFORE DELETE ON trials
WHEN OLD.state IN ${FINISHED}
BEGIN SELECT RAISE(ABORT, 'a finished trial cannot be deleted'); END;

CREATE TRIGGER epoch_metrics_open_insert BEFORE INSERT ON epoch_metrics
WHEN (SELECT state FROM trials WHERE id = NEW.trial_id) IN ${FINISHED}
BEGIN SELECT RAISE(ABORT, 'trial is finished and immutable'); END;

CREATE TRIGGER epoch_metrics_open_update BEFORE UPDATE ON epoch_metrics
WHEN (SELECT state FROM trials WHERE id = OLD.trial_id) IN ${FINISHED}
BEGIN SELECT RAISE(ABORT, 'trial is finished and immutable'); END;

CREATE TRIGGER epoch_metrics_open_delete BEFORE DELETE ON epoch_metrics
WHEN (SELECT state FROM trials WHERE id = OLD.trial_id) IN ${FINISHED}
BEGIN SELECT RAISE(ABORT, 'trial is finished and immutable'); END;
`,
    pg: `
CREATE FUNCTION dsx_trials_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.state <> 'queued' THEN RAISE EXCEPTION 'a new trial must be queued'; END IF;
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    IF OLD.state IN ${FINISHED} THEN RAISE EXCEPTION 'a finished trial cannot be deleted'; END IF;
    RETURN OLD;
  END IF;
  IF OLD.state IN ${FINISHED} THEN RAISE EXCEPTION 'trial is finished and immutable'; END IF;
  IF NOT ${legalMoveSql('OLD.state', 'NEW.state')} THEN
    RAISE EXCEPTION 'illegal trial state transition';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER trials_guard BEFORE INSERT OR UPDATE OR DELETE ON trials
  FOR EACH ROW EXECUTE FUNCTION dsx_trials_guard();

CREATE FUNCTION dsx_epoch_metrics_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tid INTEGER;
BEGIN
  IF TG_OP = 'INSERT' THEN tid := NEW.trial_id; ELSE tid := OLD.trial_id; END IF;
  IF (SELECT state FROM trials WHERE id = tid) IN ${FINISHED} THEN
    RAISE EXCEPTION 'trial is finished and immutable';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER epoch_metrics_guard BEFORE INSERT OR UPDATE OR DELETE ON epoch_metrics
  FOR EACH ROW EXECUTE FUNCTION dsx_epoch_metrics_guard();
`,
  },
  {
    version: 2,
    name: 'pruner decisions',
    // one row per candidate a pruner judged at the end of a rung: promoted to the next
    // rung or stopped there, and its rank (null for baselines, which always climb)
    ddl: (t) => `
CREATE TABLE pruner_decisions (
  sweep_id       INTEGER NOT NULL REFERENCES sweeps(id),
  round          INTEGER NOT NULL,
  rung           INTEGER NOT NULL,
  candidate_hash TEXT NOT NULL REFERENCES candidates(hash),
  pruner         TEXT NOT NULL,
  promoted       INTEGER NOT NULL CHECK (promoted IN (0,1)),
  rank           INTEGER,
  accuracy       ${t.real},
  created_at     TEXT NOT NULL,
  PRIMARY KEY (sweep_id, round, rung, candidate_hash)
);
`,
  },
  {
    version: 3,
    name: 'trial weights',
    // a finished trial's trained state as a checkpoint file's bytes (src/engine/checkpoint.ts:
    // spec, normalisation and recipe travel with it), so a worker on another machine needs
    // no shared disk; a table of its own because finished trials are immutable while their
    // weights may be dropped later (keepWeights: "front")
    ddl: (t) => `
CREATE TABLE trial_weights (
  trial_id   INTEGER PRIMARY KEY REFERENCES trials(id),
  checkpoint ${t.blob} NOT NULL,
  bytes      ${t.bigint} NOT NULL,
  created_at TEXT NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'latency cache',
    // measured inference latency per spec and machine (objective "latency"): a spec is
    // measured once on a machine, whichever sweep or worker asks first, and never again
    ddl: (t) => `
CREATE TABLE latencies (
  spec_hash   TEXT NOT NULL,
  machine     TEXT NOT NULL,
  runtime     TEXT NOT NULL,
  batch       INTEGER NOT NULL,
  threads     INTEGER NOT NULL,
  median_ms   ${t.real} NOT NULL,
  p10_ms      ${t.real} NOT NULL,
  p90_ms      ${t.real} NOT NULL,
  reps        INTEGER NOT NULL,
  measured_at TEXT NOT NULL,
  PRIMARY KEY (spec_hash, machine, runtime, batch, threads)
);
`,
  },
  {
    version: 5,
    name: 'candidate specs apart',
    // A model spec is JSON of 10-20 KB (a ResNet-20's is about 17 KB), and migration 1 put
    // it in `candidates` before the costs: SQLite walked the spec's overflow pages of every
    // row to reach macs, flops and params, so listing a sweep of 10,000 trials read some
    // 170 MB. Specs now live in a table of their own, read only where a spec is used
    // (claiming a trial, one candidate), and `candidates` keeps the short fields listings
    // read. A sweep's trials in id order, as listings read them, come from an index instead
    // of a sort.
    ddl: () => `
CREATE TABLE candidate_specs (
  hash TEXT PRIMARY KEY REFERENCES candidates(hash),
  spec TEXT NOT NULL
);
INSERT INTO candidate_specs (hash, spec) SELECT hash, spec FROM candidates ORDER BY hash;
CREATE INDEX trials_by_sweep ON trials (sweep_id, id);
`,
    // Dropping the column in place would leave SQLite's table one row per page (each row
    // shrinks where it stood), so the short rows are copied out, the table emptied, the
    // column dropped and the rows put back, packed. Trials and specs keep referring to
    // them: the foreign keys are checked at commit, when every candidate is back.
    sqlite: `
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE candidates_v4 AS
  SELECT hash, model, label, variants, macs, flops, params, created_at FROM candidates ORDER BY rowid;
DELETE FROM candidates;
ALTER TABLE candidates DROP COLUMN spec;
INSERT INTO candidates (hash, model, label, variants, macs, flops, params, created_at)
  SELECT hash, model, label, variants, macs, flops, params, created_at FROM temp.candidates_v4 ORDER BY rowid;
DROP TABLE temp.candidates_v4;
`,
    // PostgreSQL keeps a long value out of line (TOAST) already: dropping the column is enough
    pg: `
ALTER TABLE candidates DROP COLUMN spec;
`,
  },
];

/** The newest schema this build knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The DDL of one migration in one dialect. */
export function migrationSql(m: Migration, d: Dialect): string {
  return [m.ddl?.(d.types) ?? '', d.name === 'sqlite' ? (m.sqlite ?? '') : (m.pg ?? '')].join('\n');
}

const newestOf = (ms: readonly Migration[]) => (ms.length ? ms[ms.length - 1]!.version : 0);

function newerError(location: string, current: number, newest: number): UsageError {
  return new UsageError(
    `the store ${location} has schema version ${current}, newer than this dsxplore (${dsxVersion}) ` +
      `understands (${newest}); upgrade dsxplore, or use another --db / --store`,
  );
}

/** The schema version of a database (0 when it has none yet). */
export async function schemaVersionOf(x: Executor, d: Dialect): Promise<number> {
  const has = await x.one<{ ok: unknown }>(d.tableExists, ['schema_version']);
  if (!has?.ok) return 0;
  return Number((await x.one<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version'))?.v ?? 0);
}

/** Apply the migrations the database lacks, in order, in one transaction; refuse a
 * database from a newer build. Returns how many were applied. */
export async function migrate(
  x: Executor,
  d: Dialect,
  location: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  return x.transaction(async (tx) => {
    // processes starting at once: one migrates, the others wait and then find nothing to do
    if (d.migrationLock) await tx.run(d.migrationLock);
    await tx.script(`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const current = await schemaVersionOf(tx, d);
    const newest = newestOf(migrations);
    if (current > newest) throw newerError(location, current, newest);
    let applied = 0;
    for (const m of migrations) {
      if (m.version <= current) continue;
      await tx.script(migrationSql(m, d));
      await tx.run('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
      applied++;
    }
    return applied;
  });
}

/** For a store opened read-only (nothing may be migrated): its schema must be this build's. */
export async function checkSchema(x: Executor, d: Dialect, location: string, storeFlag: string): Promise<void> {
  const v = await schemaVersionOf(x, d);
  if (v > SCHEMA_VERSION) throw newerError(location, v, SCHEMA_VERSION);
  if (v < SCHEMA_VERSION) {
    throw new UsageError(
      `the store ${location} has schema version ${v}, older than this dsxplore's (${SCHEMA_VERSION}); ` +
        `upgrade it first with: dsxplore store migrate ${storeFlag}`,
    );
  }
}
