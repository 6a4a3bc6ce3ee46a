// The database schema as an ordered list of migrations. A database records the versions it
// has applied (schema_version); opening it applies the missing ones, in order, each in a
// transaction. Never edit a migration that has shipped: add the next one.
//
// Guards live in the schema itself (triggers), so no code path, present or future, can
// move a trial along an illegal edge of the state machine or alter a finished trial.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FINISHED = `('done','failed','pruned','diverged')`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sweeps, candidates, trials, epoch metrics, rounds',
    sql: `
CREATE TABLE sweeps (
  id          INTEGER PRIMARY KEY,
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
  macs       INTEGER NOT NULL,
  flops      INTEGER NOT NULL,
  params     INTEGER NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE trials (
  id                INTEGER PRIMARY KEY,
  sweep_id          INTEGER NOT NULL REFERENCES sweeps(id),
  candidate_hash    TEXT NOT NULL REFERENCES candidates(hash),
  baseline          INTEGER NOT NULL DEFAULT 0 CHECK (baseline IN (0,1)),
  round             INTEGER NOT NULL DEFAULT 0,
  rung              INTEGER NOT NULL DEFAULT 0,
  epochs            INTEGER NOT NULL CHECK (epochs >= 1),
  seed              INTEGER NOT NULL,
  recipe_hash       TEXT NOT NULL,
  state             TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued','running','done','failed','pruned','diverged')),
  worker_id         TEXT,
  heartbeat_at      INTEGER,
  attempts          INTEGER NOT NULL DEFAULT 0,
  queued_at         TEXT NOT NULL,
  started_at        TEXT,
  finished_at       TEXT,
  accuracy          REAL,
  test_loss         REAL,
  train_loss        REAL,
  train_accuracy    REAL,
  seconds           REAL,
  images_per_second REAL,
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
  lr             REAL,
  train_loss     REAL,
  train_accuracy REAL,
  test_accuracy  REAL,
  test_loss      REAL,
  seconds        REAL,
  PRIMARY KEY (trial_id, epoch)
);

CREATE TABLE rounds (
  sweep_id   INTEGER NOT NULL REFERENCES sweeps(id),
  kind       TEXT NOT NULL,
  idx        INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (sweep_id, kind, idx)
);

CREATE TRIGGER trials_finished_immutable BEFORE UPDATE ON trials
WHEN OLD.state IN ${FINISHED}
BEGIN SELECT RAISE(ABORT, 'trial is finished and immutable'); END;

CREATE TRIGGER trials_legal_transition BEFORE UPDATE OF state ON trials
WHEN OLD.state <> NEW.state AND NOT (
     (OLD.state = 'queued'  AND NEW.state IN ('running','done','pruned'))
  OR (OLD.state = 'running' AND NEW.state IN ('queued','done','failed','pruned','diverged')))
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
  },
];

/** The newest schema this build knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
