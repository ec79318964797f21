-- The event log (issue #7). Keep in step with ../postgres/0007_events.sql. Every state change
-- of runs, tasks, pipelines and syncs appends a row in the transaction of the change, so an
-- external consumer that resumes after the last `seq` it saw misses nothing. AUTOINCREMENT:
-- numbers are never reused, not even after the newest events are pruned.

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    pipeline   TEXT,
    run_id     TEXT,
    task       TEXT,
    app        TEXT,
    data_json  TEXT    NOT NULL
) STRICT;

CREATE INDEX events_by_time ON events (at);
