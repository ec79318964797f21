-- aqueduct store schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql:
-- same tables, columns, constraints and indexes; only the types differ.
-- Timestamps are epoch microseconds (INTEGER); enums are TEXT with Airflow's names;
-- booleans are INTEGER 0/1; JSON is TEXT. STRICT makes SQLite check the column types.

CREATE TABLE pipeline_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline    TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (pipeline, hash)
) STRICT;

CREATE TABLE pipelines (
    name            TEXT    PRIMARY KEY NOT NULL,
    paused          INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    latest_version  INTEGER NOT NULL REFERENCES pipeline_versions (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE runs (
    pipeline             TEXT    NOT NULL,
    id                   TEXT    NOT NULL,
    version_id           INTEGER NOT NULL REFERENCES pipeline_versions (id),
    run_type             TEXT    NOT NULL CHECK (run_type IN ('scheduled', 'manual', 'backfill')),
    state                TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled')),
    logical_date         INTEGER NOT NULL,
    data_interval_start  INTEGER NOT NULL,
    data_interval_end    INTEGER NOT NULL,
    run_after            INTEGER NOT NULL,
    params_json          TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    started_at           INTEGER,
    ended_at             INTEGER,
    backfill_id          INTEGER,
    PRIMARY KEY (pipeline, id)
) STRICT;

CREATE INDEX runs_by_logical_date ON runs (logical_date, pipeline, id);
CREATE INDEX runs_by_state ON runs (state);
CREATE INDEX runs_by_type ON runs (pipeline, run_type, logical_date);
CREATE INDEX runs_by_end ON runs (ended_at);

CREATE TABLE task_instances (
    pipeline      TEXT    NOT NULL,
    run_id        TEXT    NOT NULL,
    task          TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('none', 'queued', 'running', 'success',
        'failed', 'skipped', 'upstream_failed', 'up_for_retry', 'cancelled')),
    attempts      INTEGER NOT NULL,
    exit_code     INTEGER,
    outcome       TEXT,
    pid           INTEGER,
    started_at    INTEGER,
    ended_at      INTEGER,
    retry_at      INTEGER,
    outputs_json  TEXT    NOT NULL,
    PRIMARY KEY (pipeline, run_id, task),
    FOREIGN KEY (pipeline, run_id) REFERENCES runs (pipeline, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
