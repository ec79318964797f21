-- Backfills, so a backfill's own concurrency limit survives a restart. Keep in step with
-- ../postgres/0002_backfills.sql. Runs point here through runs.backfill_id (no foreign key:
-- backfills recorded before this table existed have no row, and their runs keep working).

CREATE TABLE backfills (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline         TEXT    NOT NULL,
    from_date        INTEGER NOT NULL,
    to_date          INTEGER NOT NULL,
    reprocess        TEXT    NOT NULL CHECK (reprocess IN ('missing', 'failed', 'all')),
    max_active_runs  INTEGER NOT NULL CHECK (max_active_runs >= 1),
    created_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX backfills_by_pipeline ON backfills (pipeline, id);
