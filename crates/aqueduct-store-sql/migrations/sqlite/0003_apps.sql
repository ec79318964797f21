-- GitOps apps and their sync history (issue #4). Keep in step with ../postgres/0003_apps.sql.
-- An app's spec and a sync's detail are JSON text the store keeps opaque. Syncs point at their
-- app by name without a foreign key: the history of an app outlives the app, as do the
-- pipelines, versions and runs its syncs created.

CREATE TABLE apps (
    name                 TEXT    PRIMARY KEY NOT NULL,
    spec_json            TEXT    NOT NULL,
    origin               TEXT    NOT NULL,
    applied_commit       TEXT,
    auto_sync_suspended  INTEGER NOT NULL DEFAULT 0 CHECK (auto_sync_suspended IN (0, 1)),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE app_syncs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    app           TEXT    NOT NULL,
    commit_id     TEXT    NOT NULL,
    revision      TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    committed_at  INTEGER NOT NULL,
    initiator     TEXT    NOT NULL,
    result        TEXT    NOT NULL CHECK (result IN ('succeeded', 'failed')),
    detail_json   TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX app_syncs_by_app ON app_syncs (app, id);
